package main

import (
	"bytes"
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hzel/hzel/gen/db"
	"github.com/hzel/hzel/server"
	"github.com/hzel/hzel/server/testdb"
	"github.com/hzel/hzel/server/token"
)

// testAPI is the real hzel API on a fresh database, with one account and its first token.
type testAPI struct {
	url     string
	token   string // the account's bootstrap token, raw
	account uuid.UUID
	queries *db.Queries
}

func newAPI(t *testing.T) testAPI {
	t.Helper()
	pool, _ := testdb.New(t)
	h, err := server.New(server.Config{}, pool)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	q := db.New(pool)
	acct, err := server.EnsureAccount(context.Background(), q, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := server.IssueToken(context.Background(), q, acct.ID, "bootstrap", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return testAPI{url: srv.URL, token: secret.Reveal(), account: acct.ID, queries: q}
}

// env is the environment that points hzel at this API with its bootstrap token.
func (a testAPI) env() map[string]string {
	return map[string]string{"HZEL_URL": a.url, "HZEL_TOKEN": a.token}
}

// result is what one run of hzel did.
type result struct {
	code           int
	stdout, stderr string
}

// hzel runs the CLI with args (without the program name) in the environment env, and
// checks that the token it was given, by flag or environment, appears in none of its output.
func hzel(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"hzel"}, args...),
		func(k string) string { return env[k] }, strings.NewReader(stdin), &stdout, &stderr)
	r := result{code, stdout.String(), stderr.String()}
	secrets := []string{env["HZEL_TOKEN"], strings.TrimSpace(stdin)}
	for i, a := range args {
		if a == "--token" && i+1 < len(args) {
			secrets = append(secrets, args[i+1])
		}
	}
	for _, s := range secrets {
		if len(s) > 8 && strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("hzel %q printed the token it authenticates with:\nstdout: %s\nstderr: %s", args, r.stdout, r.stderr)
		}
	}
	return r
}

// unreachableURL is the address of a port that was just free: connecting to it is refused.
func unreachableURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	return url
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"tokens", "create", "-h"}, {"tokens", "revoke", "x", "--help"}} {
		t.Run("ensure "+strings.Join(args, " ")+" prints the usage on stdout and succeeds", func(t *testing.T) {
			r := hzel(t, nil, "", args...)
			if r.code != 0 || !strings.HasPrefix(r.stdout, "hzel creates, lists and revokes") || r.stderr != "" {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// Usage errors exit 2 before any request: the server here is unreachable, so a request
// would exit 1 instead.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	env := map[string]string{"HZEL_URL": unreachableURL(t), "HZEL_TOKEN": "hzel_usage0errors0never0sent0000000000"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "no command given"},
		{"unknown command", []string{"token", "list"}, `unknown command "token"`},
		{"tokens without a subcommand", []string{"tokens"}, "missing subcommand"},
		{"unknown subcommand", []string{"tokens", "delete", "x"}, `unknown subcommand "delete"`},
		{"unknown flag", []string{"tokens", "list", "--verbose"}, "flag provided but not defined: -verbose"},
		{"flag without its value", []string{"tokens", "list", "--url"}, "flag needs an argument: -url"},
		{"create without --name", []string{"tokens", "create"}, "--name is required"},
		{"create with both expiry flags", []string{"tokens", "create", "--name", "x", "--expires-in", "30d", "--expires-at", "2099-01-01T00:00:00Z"}, "not both"},
		{"create with a zero lifetime", []string{"tokens", "create", "--name", "x", "--expires-in", "0d"}, "must be positive"},
		{"create with a negative lifetime", []string{"tokens", "create", "--name", "x", "--expires-in", "-12h"}, "must be positive"},
		{"create with a lifetime without unit", []string{"tokens", "create", "--name", "x", "--expires-in", "30"}, `--expires-in "30" is not a duration`},
		{"create with an unknown unit", []string{"tokens", "create", "--name", "x", "--expires-in", "1y"}, `--expires-in "1y" is not a duration`},
		{"create with a date, not a time", []string{"tokens", "create", "--name", "x", "--expires-at", "2099-01-01"}, "not an RFC 3339 time"},
		{"create with an argument", []string{"tokens", "create", "--name", "x", "extra"}, `unexpected argument "extra"`},
		{"list with an argument", []string{"tokens", "list", "all"}, `unexpected argument "all"`},
		{"a flag after --", []string{"tokens", "list", "--", "--json"}, `unexpected argument "--json"`},
		{"list with a create flag", []string{"tokens", "list", "--name", "x"}, "for 'tokens create' only"},
		{"revoke without ID", []string{"tokens", "revoke"}, "want exactly one token ID, got 0"},
		{"revoke with two IDs", []string{"tokens", "revoke", uuid.NewString(), uuid.NewString()}, "want exactly one token ID, got 2"},
		{"revoke with an ID that is not a UUID", []string{"tokens", "revoke", "hzel_AbCdEfGh"}, `"hzel_AbCdEfGh" is not a token ID`},
		{"a URL without scheme", []string{"tokens", "list", "--url", "127.0.0.1:8080"}, `--url "127.0.0.1:8080" is not an http:// or https:// URL`},
	}
	for _, tc := range cases {
		t.Run("ensure "+tc.name+" is a usage error", func(t *testing.T) {
			r := hzel(t, env, "", tc.args...)
			if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, "hzel: ") ||
				!strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "Run 'hzel help' for usage.") {
				t.Fatalf("exit %d, want 2 and %q\nstdout: %s\nstderr: %s", r.code, tc.want, r.stdout, r.stderr)
			}
		})
	}
}

func TestFailures(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	down := unreachableURL(t)
	// Well formed, with a valid checksum, but never issued.
	secret, err := token.Generate()
	if err != nil {
		t.Fatal(err)
	}
	unknown := secret.Reveal()
	cases := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		want     string
	}{
		{"ensure a missing token is refused before any request", map[string]string{"HZEL_URL": a.url}, []string{"tokens", "list"}, 2,
			"hzel: no token: set HZEL_TOKEN or pass --token"},
		{"ensure a white-space token counts as missing", map[string]string{"HZEL_URL": a.url, "HZEL_TOKEN": " \n"}, []string{"tokens", "list"}, 2,
			"hzel: no token"},
		{"ensure a malformed token gets the API's 401 message", map[string]string{"HZEL_URL": a.url, "HZEL_TOKEN": "hzel_not-a-token"}, []string{"tokens", "list"}, 1,
			"hzel: 401 UNAUTHORIZED: invalid, expired or revoked token\n"},
		{"ensure an unknown token gets the API's 401 message", map[string]string{"HZEL_URL": a.url}, []string{"tokens", "create", "--name", "x", "--token", unknown}, 1,
			"hzel: 401 UNAUTHORIZED: invalid, expired or revoked token\n"},
		{"ensure an unreachable server is reported with its address", map[string]string{"HZEL_URL": down, "HZEL_TOKEN": a.token}, []string{"tokens", "list"}, 1,
			"hzel: cannot reach the hzel API at " + down + ": dial tcp"},
		{"ensure an unreachable server fails revoke too", map[string]string{"HZEL_TOKEN": a.token}, []string{"tokens", "revoke", uuid.NewString(), "--url", down}, 1,
			"hzel: cannot reach the hzel API at " + down},
		{"ensure a URL that is not the API's root gets the API's 404", map[string]string{"HZEL_URL": a.url + "/nothing/", "HZEL_TOKEN": a.token}, []string{"tokens", "list"}, 1,
			"hzel: 404 NOT_FOUND: "},
		{"ensure an expiry in the past gets the API's validation message", a.env(), []string{"tokens", "create", "--name", "x", "--expires-at", "2001-01-01T00:00:00Z"}, 1,
			"hzel: 400 VALIDATION_FAILED: expires_at: must be in the future\n"},
		{"ensure a blank name gets the API's validation message", a.env(), []string{"tokens", "create", "--name", "   "}, 1,
			"hzel: 400 VALIDATION_FAILED: name: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := hzel(t, tc.env, "", tc.args...)
			if r.code != tc.wantCode || r.stdout != "" || !strings.HasPrefix(r.stderr, tc.want) {
				t.Fatalf("exit %d, want %d and %q\nstdout: %s\nstderr: %s", r.code, tc.wantCode, tc.want, r.stdout, r.stderr)
			}
		})
	}
}

// Flags override the environment, and may come anywhere on the command line.
func TestConfiguration(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	down := unreachableURL(t)
	first, second := create(t, a, "first").Id.String(), create(t, a, "second").Id.String()
	cases := []struct {
		name  string
		env   map[string]string
		stdin string
		args  []string
	}{
		{"ensure the environment alone is enough", a.env(), "", []string{"tokens", "list"}},
		{"ensure flags alone are enough", nil, "", []string{"tokens", "list", "--url", a.url, "--token", a.token}},
		{"ensure --token overrides HZEL_TOKEN", map[string]string{"HZEL_URL": a.url, "HZEL_TOKEN": "hzel_revoked"}, "", []string{"--token", a.token, "tokens", "list"}},
		{"ensure --url overrides HZEL_URL", map[string]string{"HZEL_URL": down, "HZEL_TOKEN": a.token}, "", []string{"tokens", "--url", a.url, "list"}},
		{"ensure --token - reads the token from stdin", map[string]string{"HZEL_URL": a.url}, a.token + "\n", []string{"tokens", "list", "--token", "-"}},
		{"ensure flags work after a command's argument", map[string]string{"HZEL_TOKEN": a.token}, "", []string{"tokens", "revoke", first, "--json", "--url", a.url}},
		{"ensure flags work between the words", a.env(), "", []string{"--json", "tokens", "--url", a.url, "revoke", "--", second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := hzel(t, tc.env, tc.stdin, tc.args...)
			if r.code != 0 || r.stderr != "" || r.stdout == "" {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
		})
	}
}
