// Package embedpg runs a private PostgreSQL cluster for hzel when no DATABASE_URL is set.
//
// The cluster lives in Config.Dir/postgres. It listens on a unix socket only, in a 0700
// directory, and trusts every local connection: the socket's permissions are the access
// control, so there is no password to keep or leak. When hzel runs as root, the cluster runs
// as the unprivileged postgres OS user, because PostgreSQL refuses to run as root.
//
// Several processes may use one cluster at once (the server, and a CLI command run beside it).
// Each holds a shared flock on Dir/postgres.users from Start to Stop, and the last one out
// stops the cluster. A process that dies loses its lock with it, so a cluster it left running
// is simply reused by the next Start.
package embedpg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// superuser is the cluster's superuser role, and the role hzel connects as.
	superuser = "postgres"
	// database is the database that initdb creates and hzel uses.
	database = "postgres"
	// port only names the socket file (.s.PGSQL.5432): no TCP port is ever opened.
	port = 5432

	// serverTimeout bounds pg_ctl start and stop, and the wait for a running server to answer.
	serverTimeout = 60 * time.Second

	// Names inside Config.Dir.
	dataName    = "postgres"
	initPrefix  = "postgres.init-"
	lockName    = "postgres.lock"
	usersName   = "postgres.users"
	logName     = "postgres.log"
	socketDirNm = "run"
)

// Config says where the cluster lives and how to find PostgreSQL.
type Config struct {
	// Dir is the data root, e.g. "./.data". The cluster lives in Dir/postgres, beside its
	// lock files, its log (Dir/postgres.log) and, when the path is short enough, its socket
	// directory (Dir/run).
	Dir string
	// BinDir is the directory holding initdb, pg_ctl and postgres (the PG_BINDIR setting).
	// Empty means: pg_ctl's directory on PATH, then /usr/lib/postgresql/*/bin, newest first.
	BinDir string
	// Logger gets one line when the cluster is initialised, started or stopped; nil means none.
	Logger *slog.Logger
}

// Cluster is this process's use of the embedded cluster, from Start until Stop.
type Cluster struct {
	log       *slog.Logger
	owner     owner
	bin       binDir
	root      string // Config.Dir, absolute
	dataDir   string
	socketDir string

	mu    sync.Mutex
	users *os.File // carries our shared lock on postgres.users; nil once stopped
}

// Start makes sure the cluster exists and runs, and registers this process as one of its
// users until Stop. It creates the cluster with initdb on first use and waits, within ctx,
// until the server accepts connections.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	return start(ctx, cfg, defaultVersionRoot)
}

// start is Start with the directory of versioned installations as a parameter, so that tests
// can look for PostgreSQL where there is none.
func start(ctx context.Context, cfg Config, versionRoot string) (*Cluster, error) {
	if cfg.Dir == "" {
		return nil, errors.New("embedded PostgreSQL: no data directory given")
	}
	root, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("embedded PostgreSQL: data directory %s: %w", cfg.Dir, err)
	}
	if err := checkShellSafe(root); err != nil {
		return nil, fmt.Errorf("embedded PostgreSQL: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	own, err := lookupOwner()
	if err != nil {
		return nil, fmt.Errorf("embedded PostgreSQL: %w", err)
	}
	// Look for the programs before touching the disk, so that a machine without PostgreSQL
	// is told so without being left an empty data directory.
	binDirs, err := findBinDirs(cfg.BinDir, versionRoot)
	if err != nil {
		return nil, fmt.Errorf("embedded PostgreSQL: %w", err)
	}

	c := &Cluster{
		log:     log,
		owner:   own,
		root:    root,
		dataDir: filepath.Join(root, dataName),
	}
	if err := c.makeRoot(); err != nil {
		return nil, fmt.Errorf("embedded PostgreSQL in %s: %w", root, err)
	}
	// postgres.lock serialises every decision about the cluster: create, start, stop.
	lock, err := lockFile(ctx, c.path(lockName), syscall.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("embedded PostgreSQL in %s: %w", root, err)
	}
	defer lock.Close()
	users, err := lockFile(ctx, c.path(usersName), syscall.LOCK_SH)
	if err != nil {
		return nil, fmt.Errorf("embedded PostgreSQL in %s: %w", root, err)
	}
	if err := c.prepare(ctx, binDirs); err != nil {
		users.Close()
		return nil, fmt.Errorf("embedded PostgreSQL in %s: %w", root, err)
	}
	if err := c.ensureRunning(ctx); err != nil {
		// A start cut short by ctx may leave a postmaster behind; stop it unless someone
		// else uses it, with a context of its own since ctx may be the reason we are here.
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), serverTimeout)
		if stopErr := c.stopIfLast(stopCtx, users); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		cancel()
		users.Close()
		return nil, fmt.Errorf("embedded PostgreSQL in %s: %w", root, err)
	}
	c.users = users
	return c, nil
}

// URL is a connection string for pgx or libpq that reaches the cluster over its unix socket
// as the superuser. It carries no password: the server trusts its 0700 socket. Every
// parameter is explicit, so PGPORT, PGUSER or PGSSLMODE in the environment cannot redirect it.
func (c *Cluster) URL() string {
	// libpq and pgx decode %XX in a connection URI but take '+' literally, so a blank in the
	// socket directory must be %20, not the '+' of url.QueryEscape.
	host := strings.ReplaceAll(url.QueryEscape(c.socketDir), "+", "%20")
	return fmt.Sprintf("postgres:///%s?host=%s&port=%d&user=%s&sslmode=disable", database, host, port, superuser)
}

// Stop ends this process's use of the cluster; the last user out stops the cluster
// (pg_ctl stop -m fast, which cuts open sessions), so close connection pools first. ctx
// bounds the wait for the lock and for the server to stop: at shutdown, pass one that the
// shutdown signal has not already cancelled. If Stop fails, the cluster may be left
// running, and the next Start reuses it. Calling Stop again does nothing.
func (c *Cluster) Stop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.users == nil {
		return nil
	}
	users := c.users
	c.users = nil
	defer users.Close()

	lock, err := lockFile(ctx, c.path(lockName), syscall.LOCK_EX)
	if err != nil {
		return fmt.Errorf("stop embedded PostgreSQL in %s: %w", c.root, err)
	}
	defer lock.Close()
	if err := c.stopIfLast(ctx, users); err != nil {
		return fmt.Errorf("stop embedded PostgreSQL in %s: %w", c.root, err)
	}
	return nil
}

// path names a file in the data root.
func (c *Cluster) path(name string) string { return filepath.Join(c.root, name) }

// prepare brings everything the server needs into place: the binaries matching the
// cluster, its socket directory, the cluster itself (initdb on first use) and its log file.
// The caller holds postgres.lock.
func (c *Cluster) prepare(ctx context.Context, binDirs []string) error {
	if err := c.removeLeftovers(); err != nil {
		return err
	}
	version, err := c.clusterVersion()
	if err != nil {
		return err
	}
	if c.bin, err = chooseBinDir(ctx, binDirs, version, c.dataDir); err != nil {
		return err
	}
	if c.socketDir, err = c.prepareSocketDir(); err != nil {
		return err
	}
	if version == "" {
		if err := c.initdb(ctx); err != nil {
			return err
		}
	} else if err := c.checkDataDirOwner(); err != nil {
		return err
	}
	return c.prepareLog()
}

// clusterVersion returns the major version recorded in the data directory, or "" when
// there is no cluster yet.
func (c *Cluster) clusterVersion() (string, error) {
	fi, err := os.Stat(c.dataDir)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a directory; move it away", c.dataDir)
	}
	b, err := os.ReadFile(filepath.Join(c.dataDir, "PG_VERSION"))
	if errors.Is(err, os.ErrNotExist) {
		// Start never makes this directory other than by renaming a complete cluster into
		// place, so this is someone else's: do not guess, and do not delete it.
		return "", fmt.Errorf("%s exists but is not a PostgreSQL data directory (no PG_VERSION); move it away to let hzel create a new cluster", c.dataDir)
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// removeLeftovers deletes the temporary directories of initdb runs that never finished,
// because their process died. The caller holds postgres.lock, so none is still in use.
func (c *Cluster) removeLeftovers() error {
	leftovers, err := filepath.Glob(filepath.Join(c.root, initPrefix+"*"))
	if err != nil {
		return err
	}
	for _, dir := range leftovers {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("remove unfinished cluster: %w", err)
		}
		c.log.Warn("removed an unfinished PostgreSQL cluster", "dir", dir)
	}
	return nil
}

// initdb creates the cluster. It works in a temporary sibling directory and renames it into
// place only once complete, so that an interrupted initdb can never leave a Dir/postgres
// that looks usable.
func (c *Cluster) initdb(ctx context.Context) (err error) {
	began := time.Now()
	tmp, err := os.MkdirTemp(c.root, initPrefix+"*")
	if err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := c.owner.chown(tmp); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	out, err := c.command(ctx, "initdb",
		"--pgdata", tmp,
		"--username", superuser,
		// The socket is the access control (see the package comment); TCP is never opened,
		// and is refused even if someone enables it by hand.
		"--auth-local=trust", "--auth-host=reject",
		// C collation sorts by code point, like Go, identically on every machine, and cannot
		// change under an OS upgrade (glibc collation changes silently corrupt indexes).
		"--encoding=UTF8", "--locale=C",
	).CombinedOutput()
	if err != nil {
		if ctxErr := context.Cause(ctx); ctxErr != nil {
			return fmt.Errorf("initdb: %w", ctxErr)
		}
		return fmt.Errorf("initdb: %w\n%s", err, strings.TrimSpace(string(out)))
	}
	if err := appendSettings(filepath.Join(tmp, "postgresql.conf"), c.socketDir); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	if err := os.Rename(tmp, c.dataDir); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	// The rename is what makes the cluster exist; make it durable like initdb's own files.
	if err := syncDir(c.root); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	c.log.Info("initialised PostgreSQL cluster", "dir", c.dataDir, "version", c.bin.version,
		"took", time.Since(began).Round(time.Millisecond).String())
	return nil
}

// appendSettings adds hzel's settings at the end of postgresql.conf, where they override
// initdb's defaults.
func appendSettings(conf, socketDir string) error {
	f, err := os.OpenFile(conf, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, `
# Added by hzel (server/embedpg). This cluster is private to hzel: it opens no TCP port, and
# its socket is usable by its owner only, because local connections need no password.
# hzel passes the socket directory again on each start (-k), as Dir may have moved since.
listen_addresses = ''
port = %d
unix_socket_directories = %s
unix_socket_permissions = 0700
`, port, confQuote(listQuote(socketDir)))
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// prepareLog creates Dir/postgres.log for pg_ctl, which opens it as the cluster's owner:
// when that is the postgres user, it could not create a file in Dir.
func (c *Cluster) prepareLog() error {
	f, err := os.OpenFile(c.path(logName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return c.owner.chown(c.path(logName))
}

// ensureRunning starts the server unless it already runs, and waits until it accepts
// connections. The caller holds postgres.lock.
func (c *Cluster) ensureRunning(ctx context.Context) error {
	pm, err := c.postmaster()
	if err != nil {
		return err
	}
	if pm.running {
		// Started by another user of the cluster, or left by one that died: it may still be
		// starting up or recovering, so wait for it as pg_ctl -w would.
		if err := c.waitReady(ctx); err != nil {
			return fmt.Errorf("PostgreSQL (pid %d) is running: %w", pm.pid, err)
		}
		c.log.Debug("joined running PostgreSQL", "pid", pm.pid, "socket", c.socketDir)
		return nil
	}
	if err := c.clearStaleLocks(ctx); err != nil {
		return err
	}
	return c.startServer(ctx)
}

// startServer runs pg_ctl start and reports the server's own words when it fails.
func (c *Cluster) startServer(ctx context.Context) error {
	began := time.Now()
	logPath := c.path(logName)
	var logStart int64
	if fi, err := os.Stat(logPath); err == nil {
		logStart = fi.Size()
	}
	out, err := c.command(ctx, "pg_ctl", "start",
		"--pgdata", c.dataDir,
		"--log", logPath,
		"--wait", "--timeout", strconv.Itoa(int(serverTimeout/time.Second)),
		// pg_ctl hands -o to /bin/sh, hence the shell quoting around the list quoting.
		"-o", "-k "+shellQuote(listQuote(c.socketDir)),
	).CombinedOutput()
	if err != nil {
		if ctxErr := context.Cause(ctx); ctxErr != nil {
			return fmt.Errorf("pg_ctl start: %w", ctxErr)
		}
		return fmt.Errorf("pg_ctl start: %w: %s\nend of %s:\n%s", err,
			strings.TrimSpace(string(out)), logPath, logTail(logPath, logStart))
	}
	if err := c.waitReady(ctx); err != nil {
		return err
	}
	c.log.Info("started PostgreSQL", "version", c.bin.version, "socket", c.socketDir,
		"took", time.Since(began).Round(time.Millisecond).String())
	return nil
}

// stopIfLast gives up this process's share of the cluster and stops the cluster if nobody
// else holds one. The caller holds postgres.lock, so nobody can join meanwhile.
func (c *Cluster) stopIfLast(ctx context.Context, users *os.File) error {
	fd := int(users.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_UN); err != nil {
		return fmt.Errorf("unlock %s: %w", users.Name(), err)
	}
	err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		c.log.Debug("left PostgreSQL running for its other users")
		return nil
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", users.Name(), err)
	}
	pm, err := c.postmaster()
	if err != nil || !pm.running {
		return err
	}
	began := time.Now()
	out, err := c.command(ctx, "pg_ctl", "stop",
		"--pgdata", c.dataDir,
		"--mode", "fast",
		"--wait", "--timeout", strconv.Itoa(int(serverTimeout/time.Second)),
	).CombinedOutput()
	if err != nil {
		if ctxErr := context.Cause(ctx); ctxErr != nil {
			return fmt.Errorf("pg_ctl stop: %w", ctxErr)
		}
		return fmt.Errorf("pg_ctl stop: %w: %s", err, strings.TrimSpace(string(out)))
	}
	c.log.Info("stopped PostgreSQL", "took", time.Since(began).Round(time.Millisecond).String())
	return nil
}

// logTail returns what the server wrote to its log from offset on, at most the last 4 KiB:
// the reason a start failed is there, not in pg_ctl's "could not start server".
func logTail(path string, offset int64) string {
	const maxTail = 4 << 10
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read the log: %v)", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size()-offset > maxTail {
		offset = fi.Size() - maxTail
	}
	b, err := io.ReadAll(io.NewSectionReader(f, offset, maxTail))
	if err != nil {
		return fmt.Sprintf("(cannot read the log: %v)", err)
	}
	if len(b) == 0 {
		return "(nothing)"
	}
	return strings.TrimSpace(string(b))
}
