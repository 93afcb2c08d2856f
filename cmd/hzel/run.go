package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hzel/hzel/gen/api"
)

const usage = `hzel creates, lists and revokes your hzel Personal Access Tokens.

Usage:
  hzel tokens create --name NAME [--expires-in 30d | --expires-at 2027-01-01T00:00:00Z]
  hzel tokens list
  hzel tokens revoke ID
  hzel help

Flags, before or after a command's arguments:
  --url URL          the hzel server (env HZEL_URL; default ` + defaultURL + `)
  --token TOKEN      your Personal Access Token (env HZEL_TOKEN, which is safer: other users
                     of this machine can see a command's flags); "-" reads it from stdin
  --json             print the API's data as JSON, for scripts
  --name NAME        create: what to call the new token (required)
  --expires-in D     create: how long it lasts, a Go duration with d and w units too:
                     12h, 30d, 2w, 1w3d
  --expires-at TIME  create: when it expires, an RFC 3339 time: 2027-01-01T00:00:00Z
                     With neither, the new token never expires.
  -h, --help         show this help

create prints the new token alone on standard output, and it is never shown again:
  TOKEN=$(hzel tokens create --name "CI deploy key" --expires-in 90d)

Exit status: 0 on success, 1 when the API refuses or cannot be reached, 2 for a usage error.
`

const (
	defaultURL = "http://127.0.0.1:8080"
	// requestTimeout bounds each API call, so that a hung server cannot hang a script.
	requestTimeout = 30 * time.Second
)

// usageError is a mistake in the command line or the environment; it exits with status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// run is the whole program and returns its exit status; main only supplies the process's
// arguments, environment, streams and a context cancelled by SIGINT/SIGTERM.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		args = args[1:]
	}
	err := execute(ctx, args, getenv, stdin, stdout, stderr)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "hzel: %v\n", err)
	if _, ok := errors.AsType[usageError](err); ok {
		fmt.Fprintln(stderr, "Run 'hzel help' for usage.")
		return 2
	}
	return 1
}

// config is the command line once parsed; the token is read from the environment or stdin
// only when a command is about to use it.
type config struct {
	url   string
	token string
	json  bool
	// tokens create only
	name      string
	expiresIn string
	expiresAt string
}

func execute(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("hzel", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run reports the error once; the usage text is ours
	// No flag default comes from the environment: a default could end up in a message.
	fs.StringVar(&cfg.url, "url", "", "")
	fs.StringVar(&cfg.token, "token", "", "")
	fs.BoolVar(&cfg.json, "json", false, "")
	fs.StringVar(&cfg.name, "name", "", "")
	fs.StringVar(&cfg.expiresIn, "expires-in", "", "")
	fs.StringVar(&cfg.expiresAt, "expires-at", "", "")
	words, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) || (err == nil && len(words) > 0 && words[0] == "help") {
		_, err := fmt.Fprint(stdout, usage)
		return err
	}
	if err != nil {
		return usageError{err.Error()}
	}

	switch {
	case len(words) == 0:
		return usagef("no command given")
	case words[0] != "tokens":
		return usagef("unknown command %q", words[0])
	case len(words) == 1:
		return usagef("tokens: missing subcommand: create, list or revoke")
	}
	sub, operands := words[1], words[2:]
	if sub != "create" && sub != "list" && sub != "revoke" {
		return usagef("tokens: unknown subcommand %q", sub)
	}
	if sub != "create" && (cfg.name != "" || cfg.expiresIn != "" || cfg.expiresAt != "") {
		return usagef("--name, --expires-in and --expires-at are for 'tokens create' only")
	}
	if sub != "revoke" && len(operands) > 0 {
		return usagef("tokens %s: unexpected argument %q", sub, operands[0])
	}

	// Check the whole command line before reading the token or making a request.
	var req api.CreateTokenRequest
	var id uuid.UUID
	switch sub {
	case "create":
		if req, err = cfg.createRequest(time.Now()); err != nil {
			return err
		}
	case "list":
	case "revoke":
		if len(operands) != 1 {
			return usagef("tokens revoke: want exactly one token ID, got %d arguments", len(operands))
		}
		if id, err = uuid.Parse(operands[0]); err != nil {
			return usagef("tokens revoke: %q is not a token ID (a UUID, as 'hzel tokens list' shows)", operands[0])
		}
	}

	c, err := cfg.connect(getenv, stdin, stdout, stderr)
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		return c.create(ctx, req)
	case "list":
		return c.list(ctx)
	default:
		return c.revoke(ctx, id)
	}
}

// parseInterspersed parses args into fs and returns the positional arguments. Flags may come
// before, between or after them: Go's flag package stops at the first non-flag, so parsing
// resumes after each one. A "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return words, nil
		}
		// Parse drops a "--" it stops at, so the argument before rest tells the two stops
		// apart. (A flag whose value is "--" looks the same; at worst the flags after the
		// next word are then refused as unexpected arguments.)
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(words, rest...), nil
		}
		words = append(words, rest[0])
		args = rest[1:]
	}
}

// createRequest checks the create flags and builds the request; now anchors --expires-in.
func (cfg config) createRequest(now time.Time) (api.CreateTokenRequest, error) {
	req := api.CreateTokenRequest{Name: cfg.name}
	switch {
	case cfg.name == "":
		return req, usagef("tokens create: --name is required")
	case cfg.expiresIn != "" && cfg.expiresAt != "":
		return req, usagef("tokens create: give --expires-in or --expires-at, not both")
	case cfg.expiresIn != "":
		d, err := parseLifetime(cfg.expiresIn)
		if err != nil {
			return req, usagef("tokens create: --expires-in %q is not a duration such as 12h, 30d or 2w", cfg.expiresIn)
		}
		if d <= 0 {
			return req, usagef("tokens create: --expires-in must be positive, got %q", cfg.expiresIn)
		}
		at := now.Add(d).UTC()
		req.ExpiresAt = &at
	case cfg.expiresAt != "":
		at, err := time.Parse(time.RFC3339, cfg.expiresAt)
		if err != nil {
			return req, usagef("tokens create: --expires-at %q is not an RFC 3339 time such as 2027-01-01T00:00:00Z", cfg.expiresAt)
		}
		// Whether it is in the future is the server's call: its clock is the one that counts.
		req.ExpiresAt = &at
	}
	return req, nil
}

// connect resolves the server and the token (flags first, then the environment) and returns
// a client that sends the token with every request.
func (cfg config) connect(getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) (*client, error) {
	base := cfg.url
	if base == "" {
		base = getenv("HZEL_URL")
	}
	if base == "" {
		base = defaultURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--url %q is not an http:// or https:// URL", base)
	}

	token := cfg.token
	if token == "" {
		token = getenv("HZEL_TOKEN")
	}
	if token == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, 4<<10))
		if err != nil {
			return nil, fmt.Errorf("read the token from standard input: %w", err)
		}
		token = string(b)
	}
	// A token read from a file or stdin usually ends in a newline; no token holds white space.
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, usagef("no token: set HZEL_TOKEN or pass --token " +
			"(an operator makes the first one with 'hzel-server accounts create --email EMAIL')")
	}

	sdk, err := api.NewClientWithResponses(base,
		api.WithHTTPClient(&http.Client{Timeout: requestTimeout}),
		api.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+token)
			return nil
		}))
	if err != nil {
		return nil, fmt.Errorf("make the API client: %w", err)
	}
	return &client{sdk: sdk, url: base, json: cfg.json, stdout: stdout, stderr: stderr}, nil
}
