package embedpg

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the real PostgreSQL programs. As root (as on CI), they also exercise the
// switch to the postgres user.

func TestStartCreatesThenReusesCluster(t *testing.T) {
	t.Parallel()
	// A blank in the path must survive pg_ctl's trip through /bin/sh and the socket list.
	root := filepath.Join(testRoot(t), "my data")
	log, logs := newLog(t)
	cfg := Config{Dir: root, Logger: log}

	t.Run("first start runs initdb", func(t *testing.T) {
		c := mustStart(t, cfg)
		if n := logs.count("initialised PostgreSQL cluster"); n != 1 {
			t.Fatalf("initdb ran %d times, want once", n)
		}
		for sql, want := range map[string]string{
			"SHOW listen_addresses":        "", // no TCP at all
			"SHOW unix_socket_permissions": "0700",
			"SHOW server_encoding":         "UTF8",
			"SHOW lc_collate":              "C",
			"SELECT current_user":          "postgres",
		} {
			if got := query(t, c, sql); got != want {
				t.Errorf("%s: %q, want %q", sql, got, want)
			}
		}
		if want := filepath.Join(root, "run"); c.socketDir != want {
			t.Errorf("socket directory %s, want %s", c.socketDir, want)
		}
		assertPrivateDir(t, c, c.socketDir)
		assertPrivateDir(t, c, c.dataDir)

		// Decoded as libpq and pgx decode a URI: %XX only, '+' is a plus.
		u, err := url.Parse(c.URL())
		if err != nil {
			t.Fatalf("URL %q: %v", c.URL(), err)
		}
		q := map[string]string{}
		for pair := range strings.SplitSeq(u.RawQuery, "&") {
			k, v, _ := strings.Cut(pair, "=")
			if q[k], err = url.PathUnescape(v); err != nil {
				t.Fatalf("URL %q: %v", c.URL(), err)
			}
		}
		if u.Scheme != "postgres" || u.Path != "/postgres" || q["host"] != c.socketDir ||
			q["port"] != "5432" || q["user"] != "postgres" || q["sslmode"] != "disable" {
			t.Errorf("URL %q does not name the socket, port, user and database", c.URL())
		}

		stop(t, c)
		assertStopped(t, c)
		if n := logs.count("stopped PostgreSQL"); n != 1 {
			t.Errorf("logged %d stops, want 1", n)
		}
	})

	t.Run("second start reuses the cluster", func(t *testing.T) {
		c := mustStart(t, cfg)
		if n := logs.count("initialised PostgreSQL cluster"); n != 1 {
			t.Errorf("initdb ran %d times, want once", n)
		}
		if got := query(t, c, "SELECT 1"); got != "1" {
			t.Errorf("SELECT 1 = %q", got)
		}
		stop(t, c)
		assertStopped(t, c)
	})

	t.Run("failed start shows the server log", func(t *testing.T) {
		conf := filepath.Join(root, "postgres", "postgresql.conf")
		good, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(conf, append(good, "shared_buffers = 'plenty'\n"...), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = Start(testContext(t), cfg)
		if err == nil || !strings.Contains(err.Error(), `"shared_buffers"`) ||
			!strings.Contains(err.Error(), "postgres.log") {
			t.Fatalf("Start with a broken setting: %v; want the server's complaint from postgres.log", err)
		}
		if err := os.WriteFile(conf, good, 0o600); err != nil {
			t.Fatal(err)
		}
		// The failure must leave nothing behind that blocks the next start.
		stop(t, mustStart(t, cfg))
	})
}

func TestUsersShareCluster(t *testing.T) {
	t.Parallel()
	log, logs := newLog(t)
	cfg := Config{Dir: testRoot(t), Logger: log}

	var clusters [2]*Cluster
	var errs [2]error
	var wg sync.WaitGroup
	for i := range clusters {
		wg.Go(func() { clusters[i], errs[i] = Start(testContext(t), cfg) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Start %d: %v", i, err)
		}
		t.Cleanup(func() { clusters[i].Stop(context.Background()) })
	}
	if n := logs.count("initialised PostgreSQL cluster"); n != 1 {
		t.Fatalf("two concurrent starts ran initdb %d times, want once", n)
	}
	if n := logs.count("started PostgreSQL"); n != 1 {
		t.Fatalf("two concurrent starts started the server %d times, want once", n)
	}
	first, last := clusters[0], clusters[1]
	if first.URL() != last.URL() {
		t.Fatalf("users got different URLs: %s and %s", first.URL(), last.URL())
	}

	stop(t, first)
	if got := query(t, last, "SELECT 1"); got != "1" {
		t.Fatalf("after the first user stopped, SELECT 1 = %q", got)
	}
	stop(t, last)
	assertStopped(t, last)
	if err := last.Stop(testContext(t)); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestRestartsKilledServer(t *testing.T) {
	t.Parallel()
	log, logs := newLog(t)
	cfg := Config{Dir: testRoot(t), Logger: log}
	c := mustStart(t, cfg)

	// c keeps its share throughout, as a running hzel server would while its cluster is
	// killed and a CLI command starts it again.
	t.Run("after kill -9 of the postmaster", func(t *testing.T) {
		killed := killPostmaster(t, c)
		again := mustStart(t, cfg)
		if n := logs.count("started PostgreSQL"); n != 2 {
			t.Fatalf("server started %d times, want 2", n)
		}
		if pid := postmasterPID(t, again); pid == killed {
			t.Fatalf("still pid %d", pid)
		}
		if got := query(t, again, "SELECT 1"); got != "1" {
			t.Fatalf("SELECT 1 = %q", got)
		}
	})

	t.Run("when the stale pid is dead", func(t *testing.T) {
		killPostmaster(t, c)
		// Whether a killed postmaster lingers as a zombie depends on who reaps orphans;
		// name a pid that is surely gone, which postgres must recognise as stale by itself.
		gone := exec.Command("true")
		if err := gone.Run(); err != nil {
			t.Fatal(err)
		}
		setLockPID(t, filepath.Join(c.dataDir, "postmaster.pid"), gone.Process.Pid)
		setLockPID(t, filepath.Join(c.socketDir, socketName+".lock"), gone.Process.Pid)
		removals := logs.count("removed a stale PostgreSQL lock file")

		again := mustStart(t, cfg)
		if got := query(t, again, "SELECT 1"); got != "1" {
			t.Fatalf("SELECT 1 = %q", got)
		}
		if logs.count("removed a stale PostgreSQL lock file") != removals {
			t.Errorf("removed lock files that postgres handles by itself")
		}
	})

	t.Run("when the stale pid now names another process", func(t *testing.T) {
		killPostmaster(t, c)
		// Another process of the same account, as after a container restart.
		sleeper := exec.Command("sleep", "60")
		sleeper.SysProcAttr = &syscall.SysProcAttr{Credential: c.owner.cred}
		if err := sleeper.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
		setLockPID(t, filepath.Join(c.dataDir, "postmaster.pid"), sleeper.Process.Pid)
		setLockPID(t, filepath.Join(c.socketDir, socketName+".lock"), sleeper.Process.Pid)
		removals := logs.count("removed a stale PostgreSQL lock file")

		again := mustStart(t, cfg)
		if got := query(t, again, "SELECT 1"); got != "1" {
			t.Fatalf("SELECT 1 = %q", got)
		}
		if logs.count("removed a stale PostgreSQL lock file") != removals+2 {
			t.Errorf("did not remove both stale lock files")
		}
	})

	stop(t, c)
	assertStopped(t, c)
}

// TestCrashedUserLeavesClusterToNextStart runs a user in another process and kills it.
func TestCrashedUserLeavesClusterToNextStart(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperUser$")
	helper.Env = append(os.Environ(), "EMBEDPG_HELPER_DIR="+root)
	helper.Stderr = os.Stderr
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { helper.Process.Kill(); helper.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "ready") {
		t.Fatalf("helper process said %q (%v)", line, err)
	}
	if err := helper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	helper.Wait()

	log, logs := newLog(t)
	c := mustStart(t, Config{Dir: root, Logger: log})
	if n := logs.count("started PostgreSQL"); n != 0 {
		t.Errorf("the server left by the dead user was started again (%d times); want it reused", n)
	}
	if got := query(t, c, "SELECT 1"); got != "1" {
		t.Fatalf("SELECT 1 = %q", got)
	}
	// The dead user's share went with it, so this Stop is the last.
	stop(t, c)
	assertStopped(t, c)
}

// TestHelperUser is the user process of TestCrashedUserLeavesClusterToNextStart; it does
// nothing in a normal run.
func TestHelperUser(t *testing.T) {
	root := os.Getenv("EMBEDPG_HELPER_DIR")
	if root == "" {
		return
	}
	c, err := Start(testContext(t), Config{Dir: root})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ready", c.URL())
	time.Sleep(time.Minute) // until killed
	os.Exit(1)
}

func TestRemovesUnfinishedInit(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	// What a process killed during initdb leaves behind: a plausible but incomplete cluster.
	leftover := filepath.Join(root, "postgres.init-1234")
	if err := os.MkdirAll(filepath.Join(leftover, "base"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(leftover, "PG_VERSION"), []byte("15\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log, logs := newLog(t)
	c := mustStart(t, Config{Dir: root, Logger: log})
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover %s still there: %v", leftover, err)
	}
	if n := logs.count("initialised PostgreSQL cluster"); n != 1 {
		t.Errorf("initdb ran %d times, want once", n)
	}
	if got := query(t, c, "SELECT 1"); got != "1" {
		t.Fatalf("SELECT 1 = %q", got)
	}
	stop(t, c)
}

func TestRefusesForeignDataDir(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	foreign := filepath.Join(root, "postgres")
	if err := os.MkdirAll(foreign, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Start(testContext(t), Config{Dir: root})
	if err == nil || !strings.Contains(err.Error(), "not a PostgreSQL data directory") {
		t.Fatalf("Start over a directory without PG_VERSION: %v", err)
	}
	if _, err := os.Stat(filepath.Join(foreign, "notes.txt")); err != nil {
		t.Fatalf("the foreign directory was touched: %v", err)
	}
}

func TestRefusesClusterOfOtherVersion(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	fakeCluster(t, root, "9.6")
	_, err := Start(testContext(t), Config{Dir: root})
	if err == nil || !strings.Contains(err.Error(), "made by PostgreSQL 9.6") ||
		!strings.Contains(err.Error(), "install PostgreSQL 9.6") {
		t.Fatalf("Start over a 9.6 cluster: %v", err)
	}
}

func TestRefusesClusterOfAnotherAccount(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	// Made by this process: as root, that is root's, not the postgres user's that runs
	// the server, as if someone had copied a cluster around as root.
	fakeCluster(t, root, currentVersion(t))
	_, err := Start(testContext(t), Config{Dir: root})
	if err == nil {
		t.Fatal("Start over a fake cluster succeeded")
	}
	if os.Geteuid() == 0 && !strings.Contains(err.Error(), "belongs to uid 0") {
		t.Fatalf("Start over a cluster of root's: %v", err)
	}
}

func TestReportsMissingPostgres(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	root := filepath.Join(testRoot(t), "data")

	t.Run("nothing installed", func(t *testing.T) {
		_, err := start(testContext(t), Config{Dir: root}, empty)
		if !errors.Is(err, ErrNotInstalled) {
			t.Fatalf("got %v, want ErrNotInstalled", err)
		}
		for _, way := range []string{"install PostgreSQL (e.g. apt-get install postgresql)", "set DATABASE_URL"} {
			if !strings.Contains(err.Error(), way) {
				t.Errorf("error %q does not say %q", err, way)
			}
		}
		if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("data directory created anyway: %v", err)
		}
	})

	t.Run("PG_BINDIR without the programs", func(t *testing.T) {
		_, err := start(testContext(t), Config{Dir: root, BinDir: empty}, defaultVersionRoot)
		if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "PG_BINDIR "+empty) {
			t.Fatalf("got %v, want ErrNotInstalled naming PG_BINDIR", err)
		}
	})
}

func TestFindsNewestVersionFirst(t *testing.T) {
	versions := t.TempDir()
	for _, dir := range []string{"9.6", "10", "15", "16", "common"} {
		fakePrograms(t, filepath.Join(versions, dir, "bin"), "initdb", "pg_ctl", "postgres")
	}
	fakePrograms(t, filepath.Join(versions, "17", "bin"), "pg_ctl") // client only
	bin := func(v string) string { return filepath.Join(versions, v, "bin") }

	t.Run("versioned directories only", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		dirs, err := findBinDirs("", versions)
		if err != nil {
			t.Fatal(err)
		}
		assertDirs(t, dirs, bin("16"), bin("15"), bin("10"), bin("9.6"))
	})

	t.Run("PATH first, through its links", func(t *testing.T) {
		path := t.TempDir()
		if err := os.Symlink(filepath.Join(bin("15"), "pg_ctl"), filepath.Join(path, "pg_ctl")); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", path)
		dirs, err := findBinDirs("", versions)
		if err != nil {
			t.Fatal(err)
		}
		assertDirs(t, dirs, bin("15"), bin("16"), bin("10"), bin("9.6"))
	})
}

func TestMajorVersion(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"pg_ctl (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n", "15"},
		{"pg_ctl (PostgreSQL) 17beta1\n", "17"},
		{"pg_ctl (PostgreSQL) 9.6.24\n", "9.6"},
		{"pg_ctl (PostgreSQL) 10.1\n", "10"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			got, ok := majorVersion(tc.line)
			if !ok || got != tc.want {
				t.Fatalf("majorVersion = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
	if got, ok := majorVersion("pg_ctl (PostgreSQL) nonsense"); ok {
		t.Fatalf("majorVersion of nonsense = %q", got)
	}
}

func TestSocketDirFor(t *testing.T) {
	// Longest root whose socket, root/run/.s.PGSQL.5432, still fits.
	fits := "/" + strings.Repeat("a", maxSocketPath()-len("/run/"+socketName)-1)
	for name, tc := range map[string]struct {
		root     string
		fallback bool
	}{
		"short path uses Dir/run":           {"/srv/hzel/.data", false},
		"longest path that fits":            {fits, false},
		"one byte more uses the short path": {fits + "a", true},
	} {
		t.Run(name, func(t *testing.T) {
			dir := socketDirFor(tc.root)
			if tc.fallback != (dir != filepath.Join(tc.root, "run")) {
				t.Fatalf("socketDirFor(%d bytes) = %s", len(tc.root), dir)
			}
			if n := len(filepath.Join(dir, socketName)); n > maxSocketPath() {
				t.Fatalf("socket path of %d bytes", n)
			}
		})
	}
}

func TestLongDataDirUsesShortSocketDir(t *testing.T) {
	t.Parallel()
	root := filepath.Join(testRoot(t), strings.Repeat("long-name-", 10))
	socketDir := socketDirFor(root)
	if !strings.HasPrefix(socketDir, filepath.Join(os.TempDir(), "hzel-pg-")) {
		t.Fatalf("socket directory %s is not the short fallback", socketDir)
	}
	t.Cleanup(func() { os.RemoveAll(socketDir) })

	t.Run("refuses a fallback directory others can use", func(t *testing.T) {
		if err := os.Mkdir(socketDir, 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := Start(testContext(t), Config{Dir: root})
		if err == nil || !strings.Contains(err.Error(), socketDir) {
			t.Fatalf("Start with an open %s: %v", socketDir, err)
		}
		if err := os.Remove(socketDir); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("serves on the short path", func(t *testing.T) {
		c := mustStart(t, Config{Dir: root})
		if c.socketDir != socketDir {
			t.Fatalf("socket directory %s, want %s", c.socketDir, socketDir)
		}
		assertPrivateDir(t, c, socketDir)
		if got := query(t, c, "SELECT 1"); got != "1" {
			t.Fatalf("SELECT 1 = %q", got)
		}
		stop(t, c)
		assertStopped(t, c)
	})
}

func TestRefusesUnreachableDataDir(t *testing.T) {
	t.Parallel()
	closed := filepath.Join(testRoot(t), "closed")
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Dir: filepath.Join(closed, "data")}
	if os.Geteuid() != 0 {
		// Only the postgres user, used when hzel runs as root, can be locked out; an
		// ordinary user runs PostgreSQL as itself, which can enter its own directory.
		stop(t, mustStart(t, cfg))
		return
	}
	_, err := Start(testContext(t), cfg)
	if err == nil || !strings.Contains(err.Error(), "chmod o+x "+closed) {
		t.Fatalf("Start under a 0700 directory: %v; want the fix for %s", err, closed)
	}
	if _, err := os.Stat(cfg.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data directory created anyway: %v", err)
	}
}

func TestStartHonoursContext(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	// Someone else is deciding about the cluster, for longer than we are willing to wait.
	held, err := lockFile(context.Background(), filepath.Join(root, lockName), syscall.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Start(ctx, Config{Dir: root}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start while the lock is held: %v, want the deadline", err)
	}
}

// testRoot returns a fresh directory that the postgres user can traverse, as t.TempDir and
// its parent are 0700.
func testRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A failed test must not leave a server running.
	t.Cleanup(func() { killLeftoverServers(dir) })
	return dir
}

// killLeftoverServers stops at once any postmaster whose data directory is under dir.
func killLeftoverServers(dir string) {
	matches, _ := filepath.Glob(filepath.Join(dir, "*", "postgres", "postmaster.pid"))
	more, _ := filepath.Glob(filepath.Join(dir, "postgres", "postmaster.pid"))
	for _, pidFile := range append(matches, more...) {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			continue
		}
		first, _, _ := strings.Cut(string(b), "\n")
		c := &Cluster{dataDir: filepath.Dir(pidFile)}
		if pid, err := strconv.Atoi(first); err == nil && c.isPostmaster(pid) {
			syscall.Kill(pid, syscall.SIGQUIT) // immediate shutdown
		}
	}
}

// testContext bounds one call; a first initdb and start take about 2 s.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustStart(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	c, err := Start(testContext(t), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) })
	return c
}

func stop(t *testing.T, c *Cluster) {
	t.Helper()
	if err := c.Stop(testContext(t)); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func assertStopped(t *testing.T, c *Cluster) {
	t.Helper()
	pm, err := c.postmaster()
	if err != nil || pm.pidFile {
		t.Errorf("server still running after the last Stop: %+v, %v", pm, err)
	}
	if _, err := os.Stat(filepath.Join(c.socketDir, socketName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket still there after the last Stop: %v", err)
	}
}

// assertPrivateDir checks that dir belongs to the cluster's owner and nobody else may enter.
func assertPrivateDir(t *testing.T, c *Cluster, dir string) {
	t.Helper()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if uid := int(fi.Sys().(*syscall.Stat_t).Uid); uid != c.owner.uid || fi.Mode().Perm() != 0o700 {
		t.Errorf("%s: uid %d mode %s, want uid %d mode 0700", dir, uid, fi.Mode().Perm(), c.owner.uid)
	}
}

func postmasterPID(t *testing.T, c *Cluster) int {
	t.Helper()
	pm, err := c.postmaster()
	if err != nil || !pm.running {
		t.Fatalf("no running postmaster: %+v, %v", pm, err)
	}
	return pm.pid
}

// killPostmaster kills the server with SIGKILL and waits until it is gone, leaving its
// postmaster.pid behind.
func killPostmaster(t *testing.T, c *Cluster) int {
	t.Helper()
	pid := postmasterPID(t, c)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); c.isPostmaster(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("postmaster %d survived SIGKILL", pid)
		}
	}
	return pid
}

// setLockPID rewrites the pid on the first line of one of the server's lock files.
func setLockPID(t *testing.T, path string, pid int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(b), "\n")
	if err := os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"+rest), 0o600); err != nil {
		t.Fatal(err)
	}
}

// query runs sql in a session of its own and returns the first column of the first row.
func query(t *testing.T, c *Cluster, sql string) string {
	t.Helper()
	conn, r, err := openSession(testContext(t), filepath.Join(c.socketDir, socketName))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close()
	msg := binary.BigEndian.AppendUint32([]byte{'Q'}, uint32(4+len(sql)+1))
	msg = append(append(msg, sql...), 0)
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	var value *string
	for {
		typ, body, err := readMessage(r)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		switch typ {
		case 'D': // DataRow: column count, then each column's length and bytes
			if value == nil && len(body) >= 6 {
				n := int32(binary.BigEndian.Uint32(body[2:]))
				v := ""
				if n > 0 {
					v = string(body[6 : 6+n])
				}
				value = &v
			}
		case 'E':
			t.Fatalf("%s: %v", sql, parseServerError(body))
		case 'Z':
			if value == nil {
				t.Fatalf("%s: no rows", sql)
			}
			return *value
		}
	}
}

// fakeCluster makes root/postgres look like a cluster of the given version to Start, and
// returns its path.
func fakeCluster(t *testing.T, root, version string) string {
	t.Helper()
	dataDir := filepath.Join(root, "postgres")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "PG_VERSION"), []byte(version+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dataDir
}

// currentVersion is the major version of the PostgreSQL that Start would pick.
func currentVersion(t *testing.T) string {
	t.Helper()
	dirs, err := findBinDirs("", defaultVersionRoot)
	if err != nil {
		t.Fatal(err)
	}
	version, err := programVersion(testContext(t), dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	return version
}

func fakePrograms(t *testing.T, dir string, programs ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range programs {
		if err := os.WriteFile(filepath.Join(dir, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func assertDirs(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("directories in order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// logBuffer collects the package's log lines, which concurrent starts write at once.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// count returns how many lines carry the message msg.
func (l *logBuffer) count(msg string) int {
	return strings.Count(l.String(), "msg="+strconv.Quote(msg))
}

// newLog returns a logger whose lines are shown with the test's output, timings included.
func newLog(t *testing.T) (*slog.Logger, *logBuffer) {
	logs := &logBuffer{}
	t.Cleanup(func() { t.Logf("log:\n%s", logs) })
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), logs
}
