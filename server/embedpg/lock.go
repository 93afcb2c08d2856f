package embedpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockPoll is how often a wait for a lock held by another process looks again.
const lockPoll = 20 * time.Millisecond

// lockFile opens path, creating it, and takes a flock on it (syscall.LOCK_SH or LOCK_EX),
// held until the file is closed or the process dies. It polls rather than block, because a
// blocking flock(2) cannot be abandoned when ctx ends.
func lockFile(ctx context.Context, path string, how int) (*os.File, error) {
	// os.OpenFile sets O_CLOEXEC, which matters here: a postmaster that inherited the
	// descriptor would hold our lock for as long as it runs.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for lock %s: %w", path, context.Cause(ctx))
		case <-time.After(lockPoll):
		}
	}
}
