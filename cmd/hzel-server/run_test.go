package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hzel/hzel/gen/api"
	"github.com/hzel/hzel/server/testdb"
	"github.com/hzel/hzel/server/token"
)

// env builds a getenv from pairs, so that tests never read the real environment.
func env(pairs ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i]] = pairs[i+1]
	}
	return func(k string) string { return m[k] }
}

// startServe runs `serve` until the test ends and returns the URL it listens on.
func startServe(t *testing.T, getenv func(string) string) string {
	t.Helper()
	url, _ := startStoppableServe(t, getenv)
	return url
}

// startStoppableServe runs `serve` and returns its URL and a stop that delivers the
// shutdown signal and returns what run returned; the test's end stops it if nothing did.
func startStoppableServe(t *testing.T, getenv func(string) string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"hzel-server", "serve", "--addr", "127.0.0.1:0"}, getenv, strings.NewReader(""), outW, &stderr)
		outW.Close()
	}()
	stop := sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(60 * time.Second):
			return errors.New("serve did not stop within 60s of its context ending")
		}
	})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("ensure serve stops cleanly on a signal: %v", err)
		}
		if containsToken(stderr.String()) {
			t.Errorf("the server log holds a raw token")
		}
	})

	lines := bufio.NewScanner(outR)
	var url string
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "hzel is listening on "); ok {
			url = rest
			break
		}
	}
	if url == "" {
		cancel()
		t.Fatalf("serve never said where it listens; stderr:\n%s\nerr: %v", stderr.String(), <-done)
	}
	go io.Copy(io.Discard, outR)
	waitHealthy(t, url)
	return url, stop
}

func waitHealthy(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never became ready", url)
}

// bootstrap runs `accounts create` and returns the token from the last line of stdout.
func bootstrap(t *testing.T, getenv func(string) string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"hzel-server", "accounts", "create"}, args...), getenv, strings.NewReader(""), &stdout, &stderr)
	if err != nil {
		t.Fatalf("accounts create: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	raw := lines[len(lines)-1]
	if _, err := token.Parse(raw); err != nil {
		t.Fatalf("the last line of stdout is not a token: %q", raw)
	}
	return raw
}

func client(t *testing.T, url, raw string) *api.ClientWithResponses {
	t.Helper()
	c, err := api.NewClientWithResponses(url, api.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+raw)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// exerciseSeed walks the seed's three calls with a bootstrapped token.
func exerciseSeed(t *testing.T, url, raw string) {
	t.Helper()
	ctx := context.Background()
	c := client(t, url, raw)
	created, err := c.CreateTokenWithResponse(ctx, api.CreateTokenRequest{Name: "CI deploy key"})
	if err != nil || created.JSON200 == nil {
		t.Fatalf("create: %v %s", err, created.Body)
	}
	list, err := c.ListTokensWithResponse(ctx)
	if err != nil || list.JSON200 == nil || len(list.JSON200.Data) < 2 {
		t.Fatalf("list: %v %s", err, list.Body)
	}
	revoked, err := c.RevokeTokenWithResponse(ctx, created.JSON200.Data.Id)
	if err != nil || revoked.JSON200 == nil {
		t.Fatalf("revoke: %v %s", err, revoked.Body)
	}
	after, err := client(t, url, created.JSON200.Data.Token).ListTokensWithResponse(ctx)
	if err != nil || after.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("revoked token answered %d", after.StatusCode())
	}
}

func TestServeOnDatabaseURL(t *testing.T) {
	getenv := env("DATABASE_URL", testdb.Create(t))
	url := startServe(t, getenv)
	raw := bootstrap(t, getenv, "--email", "alice@example.com")
	exerciseSeed(t, url, raw)

	t.Run("ensure accounts create reuses an existing account", func(t *testing.T) {
		again := bootstrap(t, getenv, "--email", "ALICE@example.com", "--token-name", "second")
		list, err := client(t, url, again).ListTokensWithResponse(context.Background())
		if err != nil || list.JSON200 == nil {
			t.Fatalf("%v", err)
		}
		names := map[string]bool{}
		for _, tok := range list.JSON200.Data {
			names[tok.Name] = true
		}
		if !names["bootstrap"] || !names["second"] {
			t.Fatalf("the second token went to another account: %v", names)
		}
	})
}

// TestServeOnEmbeddedDatabase is the README's quick start: no DATABASE_URL at all.
func TestServeOnEmbeddedDatabase(t *testing.T) {
	dataDir := filepath.Join(traversableTempDir(t), ".data")
	getenv := env("HZEL_DATA_DIR", dataDir)

	t.Run("ensure accounts create works while the server runs", func(t *testing.T) {
		url := startServe(t, getenv)
		raw := bootstrap(t, getenv, "--email", "alice@example.com")
		exerciseSeed(t, url, raw)
	})
	t.Run("ensure accounts create works on its own and leaves nothing running", func(t *testing.T) {
		bootstrap(t, getenv, "--email", "bob@example.com")
		if _, err := os.Stat(filepath.Join(dataDir, "postgres", "postmaster.pid")); !os.IsNotExist(err) {
			t.Fatalf("the embedded PostgreSQL still runs after the command ended (%v)", err)
		}
	})
	t.Run("ensure a second start keeps the data", func(t *testing.T) {
		url := startServe(t, getenv)
		raw := bootstrap(t, getenv, "--email", "alice@example.com", "--token-name", "again")
		list, err := client(t, url, raw).ListTokensWithResponse(context.Background())
		// Her first token survived the restart (the seed walk revoked the other one).
		if err != nil || list.JSON200 == nil || len(list.JSON200.Data) != 2 || list.JSON200.Data[1].Name != "bootstrap" {
			t.Fatalf("alice has %+v after a restart, want again and bootstrap", list.JSON200)
		}
	})
}

func TestCommandErrors(t *testing.T) {
	getenv := env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none?connect_timeout=1")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "no command"},
		{"an unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"accounts without create", []string{"accounts", "delete"}, "subcommands are"},
		{"a missing email", []string{"accounts", "create"}, "--email is required"},
		{"a blank token name", []string{"accounts", "create", "--email", "a@example.com", "--token-name", "  "}, "--token-name"},
		{"an unknown flag", []string{"serve", "--nope"}, "flag provided but not defined"},
		{"a stray argument", []string{"migrate", "extra"}, `unexpected argument "extra"`},
		{"a taken or bad address", []string{"serve", "--addr", "256.0.0.1:80"}, "listen on"},
		{"a bad pool size", []string{"migrate", "--db-max-conns", "0"}, "--db-max-conns"},
		{"a zero session lifetime", []string{"serve", "--session-lifetime", "0s"}, "--session-idle and --session-lifetime"},
		{"an unreachable database", []string{"migrate"}, "connect to database"},
	} {
		t.Run("ensure "+tc.name+" is an error", func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"hzel-server"}, tc.args...), getenv, strings.NewReader(""), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	t.Run("ensure a bad email is refused before anything is written", func(t *testing.T) {
		getenv := env("DATABASE_URL", testdb.Create(t))
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"hzel-server", "accounts", "create", "--email", "not an email"}, getenv, strings.NewReader(""), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "not an email address") || stdout.Len() != 0 {
			t.Fatalf("err = %v, stdout %q", err, stdout.String())
		}
	})
}

func TestMigrate(t *testing.T) {
	getenv := env("DATABASE_URL", testdb.Create(t))
	for range 2 {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), []string{"hzel-server", "migrate"}, getenv, strings.NewReader(""), &stdout, &stderr); err != nil {
			t.Fatalf("ensure migrate succeeds, and again on a migrated database: %v\n%s", err, stderr.String())
		}
	}
}

// traversableTempDir is a temporary directory that the postgres OS user can enter, which
// t.TempDir (mode 0700) is not when the tests run as root.
func traversableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()) && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func containsToken(s string) bool {
	for i := strings.Index(s, "hzel_"); i >= 0; {
		if i+token.Length <= len(s) {
			if _, err := token.Parse(s[i : i+token.Length]); err == nil {
				return true
			}
		}
		next := strings.Index(s[i+1:], "hzel_")
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return false
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestGracefulShutdown sends the shutdown signal while the server is reading a request: it
// must finish it, answer it, and only then stop.
func TestGracefulShutdown(t *testing.T) {
	getenv := env("DATABASE_URL", testdb.Create(t))
	url, stop := startStoppableServe(t, getenv)
	raw := bootstrap(t, getenv, "--email", "alice@example.com")

	// Raw HTTP with Expect: 100-continue: the server sends "100 Continue" only once a handler
	// reads the body, so its arrival proves the request is in flight, whatever the load.
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"name": "in flight"}`
	fmt.Fprintf(conn, "POST /api/v1/tokens HTTP/1.1\r\nHost: hzel\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", raw, len(body))
	replies := bufio.NewReader(conn)
	if line, err := replies.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 Continue") {
		t.Fatalf("no 100 Continue: %q %v", line, err)
	}
	if _, err := replies.ReadString('\n'); err != nil { // the blank line that ends the 100 response
		t.Fatal(err)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	time.Sleep(200 * time.Millisecond) // the signal has been delivered; serve must still wait
	select {
	case err := <-stopped:
		t.Fatalf("serve stopped before its in-flight request was answered: %v", err)
	default:
	}
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(replies, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("ensure the in-flight request is answered: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := <-stopped; err != nil {
		t.Fatalf("ensure serve then stops cleanly: %v", err)
	}
}
