package embedpg

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
)

// socketName is the socket file PostgreSQL creates for port 5432 in its socket directory.
const socketName = ".s.PGSQL.5432"

// makeRoot creates Config.Dir if needed and, when the cluster runs as the postgres user,
// makes sure that user can reach it.
func (c *Cluster) makeRoot() error {
	if c.owner.switched() {
		// Before creating anything, so that a refusal leaves no trace.
		if err := c.checkTraversable(); err != nil {
			return err
		}
	}
	// The postgres user must pass through Dir to its data, but need not list it.
	perm := os.FileMode(0o700)
	if c.owner.switched() {
		perm = 0o711
	}
	fi, err := os.Stat(c.root)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(c.root, perm); err != nil {
			return err
		}
		// MkdirAll's mode passes through the umask.
		if err := os.Chmod(c.root, perm); err != nil {
			return err
		}
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", c.root)
	}
	if !c.owner.switched() {
		return nil
	}
	// Again, for the parents MkdirAll made under a strict umask.
	return c.checkTraversable()
}

// checkTraversable makes sure the postgres user can enter Dir and each of its parents that
// exist, along both the path as given and the path its symbolic links lead to. Without
// this, initdb fails later with a message that does not say which directory is to blame.
func (c *Cluster) checkTraversable() error {
	paths := []string{c.root}
	if real, err := filepath.EvalSymlinks(c.root); err == nil && real != c.root {
		paths = append(paths, real)
	}
	var closed []string
	for _, p := range paths {
		for dir := p; ; dir = filepath.Dir(dir) {
			fi, err := os.Stat(dir)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			if err == nil && !c.owner.canSearch(fi) && !slices.Contains(closed, dir) {
				closed = append(closed, dir)
			}
			if dir == filepath.Dir(dir) {
				break
			}
		}
	}
	if len(closed) == 0 {
		return nil
	}
	// Outermost first, the order in which the user meets them.
	slices.Reverse(closed)
	return fmt.Errorf("PostgreSQL runs as the %s user, which cannot enter %s: run `chmod o+x %s`, "+
		"use a data directory it can reach, or set DATABASE_URL",
		c.owner.name, strings.Join(closed, ", "), strings.Join(closed, " "))
}

// checkDataDirOwner catches a cluster created by another account (say, by hzel running as
// root, now run as an ordinary user), which PostgreSQL would refuse less helpfully.
func (c *Cluster) checkDataDirOwner() error {
	fi, err := os.Stat(c.dataDir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) == c.owner.uid {
		return nil
	}
	return fmt.Errorf("%s belongs to uid %d, but PostgreSQL runs as %s (uid %d) here: "+
		"run `chown -R %d %s`, or run hzel as the cluster's owner", c.dataDir, st.Uid,
		c.owner.name, c.owner.uid, c.owner.uid, c.dataDir)
}

// maxSocketPath is the longest socket path the kernel accepts: sockaddr_un.sun_path holds
// 108 bytes on Linux and 104 on macOS and the BSDs, the terminating NUL included.
func maxSocketPath() int {
	if runtime.GOOS == "linux" {
		return 107
	}
	return 103
}

// socketDirFor picks the socket directory: Dir/run, unless the socket's path would then be
// too long, in which case a short directory in os.TempDir named after a hash of Dir, so
// that each data directory keeps its own.
func socketDirFor(root string) string {
	dir := filepath.Join(root, socketDirNm)
	if len(dir)+1+len(socketName) <= maxSocketPath() {
		return dir
	}
	sum := sha256.Sum256([]byte(root))
	return filepath.Join(os.TempDir(), "hzel-pg-"+hex.EncodeToString(sum[:4]))
}

// prepareSocketDir creates the socket directory, owned by the cluster's owner and closed to
// everyone else: anyone who can reach the socket is let in without a password.
func (c *Cluster) prepareSocketDir() (string, error) {
	dir := socketDirFor(c.root)
	if len(dir)+1+len(socketName) > maxSocketPath() {
		return "", fmt.Errorf("socket directory %s: path too long for a unix socket; "+
			"set TMPDIR to a short directory, or use a shorter data directory", dir)
	}
	err := os.Mkdir(dir, 0o700)
	if err == nil {
		if err := c.owner.chown(dir); err != nil {
			return "", err
		}
		return dir, nil
	}
	if !errors.Is(err, os.ErrExist) {
		return "", err
	}
	if dir == filepath.Join(c.root, socketDirNm) {
		// Ours: repair whatever changed since.
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", err
		}
		return dir, c.owner.chown(dir)
	}
	// The fallback's name is predictable and the temporary directory shared, so someone else
	// may have made it first to catch our connections or refuse them: use it only if it is
	// a real directory that only the owner can use.
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != c.owner.uid || fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("socket directory %s exists but is not a directory of %s's "+
			"closed to others (mode %s): remove it, or use a shorter data directory",
			dir, c.owner.name, fi.Mode())
	}
	return dir, nil
}

// checkShellSafe rejects a data directory that pg_ctl would mangle: pg_ctl runs postgres
// through /bin/sh with the paths inside double quotes, where these characters act.
func checkShellSafe(root string) error {
	if i := strings.IndexAny(root, "\"$`\\\n"); i >= 0 {
		return fmt.Errorf("data directory %q contains %q, which pg_ctl cannot pass to the server; "+
			"choose another directory", root, root[i])
	}
	return nil
}

// shellQuote quotes s as one word for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// listQuote quotes a directory for unix_socket_directories, a comma-separated list in which
// blanks and commas would otherwise split or trim it.
func listQuote(dir string) string {
	return `"` + strings.ReplaceAll(dir, `"`, `""`) + `"`
}

// confQuote quotes s as a postgresql.conf string, in which backslash is an escape.
func confQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// syncDir makes a change to dir's entries (a rename) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return d.Close()
}
