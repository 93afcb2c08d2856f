package embedpg

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// orphanWait bounds the wait for the children of a killed postmaster to exit.
	orphanWait = 10 * time.Second
	// readyPoll is how often a wait for the server to accept connections looks again.
	readyPoll = 50 * time.Millisecond
	// cannotConnectNow is the SQLSTATE of "the database system is starting up" and its kin.
	cannotConnectNow = "57P03"
)

// postmaster is what postmaster.pid says about the cluster's server process.
type postmaster struct {
	pidFile bool // postmaster.pid exists
	pid     int  // its first line; 0 when empty or unreadable
	running bool // pid is this cluster's live postmaster
}

// postmaster reads postmaster.pid and checks that the process it names is alive and is
// this cluster's postmaster.
func (c *Cluster) postmaster() (postmaster, error) {
	pid, exists, err := readLockPID(filepath.Join(c.dataDir, "postmaster.pid"))
	if err != nil || !exists {
		return postmaster{}, err
	}
	return postmaster{pidFile: true, pid: pid, running: pid != 0 && c.isPostmaster(pid)}, nil
}

// readLockPID reads the pid on the first line of one of the server's lock files: 0 when
// the file is empty or garbled.
func readLockPID(path string) (pid int, exists bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read %s: %w", path, err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if pid, err := strconv.Atoi(strings.TrimSpace(first)); err == nil && pid > 0 {
		return pid, true, nil
	}
	return 0, true, nil
}

// isPostmaster reports whether pid is this cluster's postmaster. Where /proc exists, it
// looks at the process's working directory, which a postmaster sets to its data directory:
// a live pid alone proves nothing after a reboot or a container restart, when pids are
// handed out again from 1, nor when the dead postmaster is a zombie nobody reaps (as under
// a container's pid 1 that is not an init).
func (c *Cluster) isPostmaster(pid int) bool {
	if !haveProcfs() {
		return processAlive(pid)
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	return err == nil && cwd == c.realDataDir()
}

// clearStaleLocks deals with the lock files of a server that did not shut down cleanly,
// so that a new one can start. The caller knows that no postmaster of this cluster runs.
func (c *Cluster) clearStaleLocks(ctx context.Context) error {
	if !haveProcfs() {
		// Without /proc nothing here can prove that a pid is no postmaster; postgres
		// checks by itself and says what to do when it cannot decide.
		return nil
	}
	// postgres recognises a lock file naming a dead process as stale. It does not when the
	// pid has been reused by an unrelated process or is a zombie, or when the file was left
	// empty by a crash while it was written: it would refuse to start.
	var found bool
	var stale []string
	for _, path := range []string{
		filepath.Join(c.dataDir, "postmaster.pid"),
		filepath.Join(c.socketDir, socketName+".lock"),
	} {
		pid, exists, err := readLockPID(path)
		if err != nil {
			return err
		}
		found = found || exists
		if exists && (pid == 0 || processAlive(pid)) {
			stale = append(stale, path)
		}
	}
	if !found {
		return nil // the last server shut down cleanly
	}
	// A killed postmaster's children keep its shared memory attached for a moment, and
	// postgres refuses to start until they are gone: give them time rather than fail.
	if remaining, err := c.waitForOrphans(ctx); err != nil || remaining {
		return err // postgres will name the processes that remain in its log
	}
	// No process works in this data directory any more, so no lock is held.
	for _, path := range stale {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("remove stale lock file: %w", err)
		}
		c.log.Warn("removed a stale PostgreSQL lock file", "file", path)
	}
	return nil
}

// waitForOrphans waits up to orphanWait for the processes working in the data directory to
// exit, and reports whether some remain.
func (c *Cluster) waitForOrphans(ctx context.Context) (remaining bool, err error) {
	deadline := time.Now().Add(orphanWait)
	for len(processesIn(c.realDataDir())) > 0 {
		if time.Now().After(deadline) {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return true, fmt.Errorf("wait for the processes of a dead server to exit: %w", context.Cause(ctx))
		case <-time.After(readyPoll):
		}
	}
	return false, nil
}

// realDataDir is the data directory as /proc shows a working directory: links resolved.
func (c *Cluster) realDataDir() string {
	if real, err := filepath.EvalSymlinks(c.dataDir); err == nil {
		return real
	}
	return c.dataDir
}

// processesIn lists the processes whose working directory is dir, among those /proc lets
// us see (all of them when root; our own otherwise, which include a postmaster we run).
func processesIn(dir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err == nil && cwd == dir {
			pids = append(pids, pid)
		}
	}
	return pids
}

// haveProcfs reports whether /proc shows processes' working directories (Linux).
func haveProcfs() bool {
	_, err := os.Readlink("/proc/self/cwd")
	return err == nil
}

// processAlive reports whether a process pid exists, whoever owns it.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// waitReady waits, for at most serverTimeout, until the server accepts a session as the
// superuser, as a client would: a socket that accepts connections is not yet a server that
// has finished starting up or recovering.
func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, serverTimeout)
	defer cancel()
	socket := filepath.Join(c.socketDir, socketName)
	for {
		err := ping(ctx, socket)
		if err == nil {
			return nil
		}
		var serr *serverError
		retry := errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) ||
			(errors.As(err, &serr) && serr.Code == cannotConnectNow)
		if !retry {
			return fmt.Errorf("connect to %s: %w", socket, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s does not accept connections: %w", socket, err)
		case <-time.After(readyPoll):
		}
	}
}

// ping opens a session on the socket and closes it again cleanly, which, unlike a bare
// connect, leaves no "incomplete startup packet" in the server log.
func ping(ctx context.Context, socket string) error {
	conn, _, err := openSession(ctx, socket)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte{'X', 0, 0, 0, 4}) // Terminate
	return err
}

// serverError is an ErrorResponse from the server.
type serverError struct {
	Code    string // SQLSTATE
	Message string
}

// Error returns the server's message and its SQLSTATE.
func (e *serverError) Error() string {
	return fmt.Sprintf("server says: %s (SQLSTATE %s)", e.Message, e.Code)
}

// openSession connects to the socket as the superuser, speaking just enough of the
// PostgreSQL protocol (version 3.0) to log in, and returns once the server is ready for
// queries. It stays within ctx, and 10 s when ctx has no deadline.
func openSession(ctx context.Context, socket string) (net.Conn, *bufio.Reader, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, nil, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	conn.SetDeadline(deadline)
	stopWatch := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	opened := false
	defer func() {
		stopWatch()
		if !opened {
			conn.Close()
		}
	}()

	params := "user\x00" + superuser + "\x00database\x00" + database + "\x00\x00"
	startup := binary.BigEndian.AppendUint32(nil, uint32(8+len(params)))
	startup = binary.BigEndian.AppendUint32(startup, 3<<16) // protocol 3.0
	startup = append(startup, params...)
	if _, err := conn.Write(startup); err != nil {
		return nil, nil, err
	}
	r := bufio.NewReader(conn)
	for {
		typ, body, err := readMessage(r)
		if err != nil {
			return nil, nil, err
		}
		switch typ {
		case 'R': // Authentication*
			if len(body) < 4 {
				return nil, nil, errors.New("malformed authentication message")
			}
			if method := binary.BigEndian.Uint32(body); method != 0 {
				return nil, nil, fmt.Errorf("server asks for authentication (method %d) on a socket it should trust", method)
			}
		case 'E':
			return nil, nil, parseServerError(body)
		case 'Z': // ReadyForQuery
			conn.SetDeadline(time.Time{})
			opened = true
			return conn, r, nil
		}
	}
}

// readMessage reads one backend message: its type and its body.
func readMessage(r *bufio.Reader) (byte, []byte, error) {
	var header [5]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(header[1:])
	if n < 4 || n > 1<<20 {
		return 0, nil, fmt.Errorf("malformed message %q of length %d", header[0], n)
	}
	body := make([]byte, n-4)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return header[0], body, nil
}

// parseServerError decodes the fields of an ErrorResponse.
func parseServerError(body []byte) error {
	e := &serverError{}
	for len(body) > 1 {
		field := body[0]
		value, rest, _ := bytes.Cut(body[1:], []byte{0})
		switch field {
		case 'C':
			e.Code = string(value)
		case 'M':
			e.Message = string(value)
		}
		body = rest
	}
	return e
}
