package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/hzel/hzel/gen/db"
	"github.com/hzel/hzel/server"
	"github.com/hzel/hzel/server/password"
)

const usage = `usage:
  %[1]s serve [--addr 127.0.0.1:8080] [database flags]   run the API
  %[1]s migrate [database flags]                          apply database migrations
  %[1]s accounts create --email E [--token-name N] [--password-stdin]
                                                        create an account if needed and print a new PAT for it
  %[1]s accounts set-password --email E --password-stdin  set an account's password (ends its sessions)

Run '%[1]s COMMAND -h' for a command's flags. With no DATABASE_URL, every command uses an
embedded PostgreSQL under ./.data, shared by all of them.
`

// run is the whole program; main only supplies the process's arguments, environment,
// output streams and a context cancelled by SIGINT/SIGTERM.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	prog := "hzel-server"
	if len(args) > 0 && args[0] != "" {
		prog = filepath.Clean(args[0])
	}
	cmd := ""
	if len(args) > 1 {
		cmd = args[1]
	}
	// The server logs every request; the one-shot commands say only what went wrong, so
	// that their output stays readable in a terminal.
	level := slog.LevelWarn
	if cmd == "serve" {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	switch cmd {
	case "serve":
		return serve(ctx, prog, args[2:], getenv, stdout, stderr, logger)
	case "migrate":
		return migrate(ctx, args[2:], getenv, stdout, stderr, logger)
	case "accounts":
		sub := ""
		if len(args) > 2 {
			sub = args[2]
		}
		switch sub {
		case "create":
			return createAccount(ctx, args[3:], getenv, stdin, stdout, stderr, logger)
		case "set-password":
			return setPassword(ctx, args[3:], getenv, stdin, stdout, stderr, logger)
		}
		fmt.Fprintf(stderr, usage, prog)
		return errors.New("accounts: the subcommands are 'create' and 'set-password'")
	case "help", "-h", "--help":
		fmt.Fprintf(stdout, usage, prog)
		return nil
	default:
		fmt.Fprintf(stderr, usage, prog)
		if cmd == "" {
			return errors.New("no command given")
		}
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// HTTP server limits: slow or oversized clients must not hold connections or memory.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	shutdownTimeout   = 30 * time.Second
)

func serve(ctx context.Context, prog string, args []string, getenv func(string) string, stdout, stderr io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var dbc dbConfig
	dbc.register(fs, getenv)
	addr := fs.String("addr", envOr(getenv, "HZEL_ADDR", "127.0.0.1:8080"), "address to listen on (env HZEL_ADDR)")
	insecureCookies := fs.Bool("insecure-cookies", getenv("HZEL_INSECURE_COOKIES") == "true",
		"send the session cookie without Secure, for plain-HTTP development only (env HZEL_INSECURE_COOKIES=true)")
	sessionIdle := fs.Duration("session-idle", envDuration(getenv, "HZEL_SESSION_IDLE", server.DefaultSessionIdle),
		"end a browser session unused for this long (env HZEL_SESSION_IDLE)")
	sessionLifetime := fs.Duration("session-lifetime", envDuration(getenv, "HZEL_SESSION_LIFETIME", server.DefaultSessionLifetime),
		"end a browser session this long after login (env HZEL_SESSION_LIFETIME)")
	if err := dbc.parse(fs, args, stderr); err != nil {
		return err
	}
	if *sessionIdle <= 0 || *sessionLifetime <= 0 {
		return errors.New("--session-idle and --session-lifetime must be positive durations such as 2h")
	}
	// Listen before touching the database, so that a taken port fails fast.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	defer ln.Close()

	d, err := openDatabase(ctx, dbc, logger)
	if err != nil {
		return err
	}
	defer d.close()

	cfg := server.Config{
		Logger:          logger,
		SessionIdle:     *sessionIdle,
		SessionLifetime: *sessionLifetime,
		InsecureCookies: *insecureCookies,
	}
	handler, err := server.New(cfg, d.pool)
	if err != nil {
		return err
	}
	sweepCtx, stopSweep := context.WithCancel(ctx)
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		server.SweepEvery(sweepCtx, cfg, d.pool, server.SweepInterval)
	}()
	// The sweeper stops before the deferred close of its pool.
	defer func() { stopSweep(); <-swept }()
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	url := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "hzel is listening on %s\n", url)
	fmt.Fprintf(stdout, "API reference: %s/docs (spec: %s/openapi.yaml)\n", url, url)
	if d.cluster != nil {
		fmt.Fprintf(stdout, "database: embedded PostgreSQL in %s (set DATABASE_URL to use another)\n", dbc.DataDir)
	}
	fmt.Fprintf(stdout, "bootstrap an account and its first token:\n  %s accounts create --email you@example.com\n", prog)
	fmt.Fprintf(stdout, "then: curl -H \"Authorization: Bearer $TOKEN\" %s/api/v1/tokens\n", url)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	var dbc dbConfig
	dbc.register(fs, getenv)
	if err := dbc.parse(fs, args, stderr); err != nil {
		return err
	}
	d, err := openDatabase(ctx, dbc, logger)
	if err != nil {
		return err
	}
	d.close()
	fmt.Fprintln(stdout, "database is up to date")
	return nil
}

func createAccount(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("accounts create", flag.ContinueOnError)
	var dbc dbConfig
	dbc.register(fs, getenv)
	email := fs.String("email", "", "the account's email address (required)")
	tokenName := fs.String("token-name", "bootstrap", "name of the new Personal Access Token")
	withPassword := fs.Bool("password-stdin", false, "read a password for browser log-in from the first line of standard input")
	if err := dbc.parse(fs, args, stderr); err != nil {
		return err
	}
	if *email == "" {
		return errors.New("accounts create: --email is required")
	}
	// Check what can be checked before starting a database for nothing.
	if _, err := server.NormalizeTokenName(*tokenName); err != nil {
		return fmt.Errorf("accounts create: --token-name: %w", err)
	}
	var pw string
	if *withPassword {
		var err error
		if pw, err = readPassword(stdin); err != nil {
			return fmt.Errorf("accounts create: %w", err)
		}
	}
	d, err := openDatabase(ctx, dbc, logger)
	if err != nil {
		return err
	}
	defer d.close()

	q := db.New(d.pool)
	acct, err := server.EnsureAccount(ctx, q, *email)
	if err != nil {
		return fmt.Errorf("accounts create: %w", err)
	}
	if *withPassword {
		// Replacing a password is set-password's job, which also ends the old sessions.
		if acct.PasswordHash != nil {
			return fmt.Errorf("accounts create: %s already has a password: use accounts set-password", acct.Email)
		}
		if err := server.SetPassword(ctx, d.pool, acct.Email, pw); err != nil {
			return fmt.Errorf("accounts create: %w", err)
		}
	}
	tok, secret, err := server.IssueToken(ctx, q, acct.ID, *tokenName, nil, time.Now())
	if err != nil {
		return fmt.Errorf("accounts create: %w", err)
	}
	fmt.Fprintf(stderr, "account %s <%s>: new token %q (%s…). Copy it now: it will not be shown again.\n",
		acct.ID, acct.Email, tok.Name, tok.Prefix)
	fmt.Fprintln(stdout, secret.Reveal())
	return nil
}

func setPassword(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("accounts set-password", flag.ContinueOnError)
	var dbc dbConfig
	dbc.register(fs, getenv)
	email := fs.String("email", "", "the account's email address (required)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	if err := dbc.parse(fs, args, stderr); err != nil {
		return err
	}
	if *email == "" || !*fromStdin {
		return errors.New("accounts set-password: --email and --password-stdin are required")
	}
	pw, err := readPassword(stdin)
	if err != nil {
		return fmt.Errorf("accounts set-password: %w", err)
	}
	d, err := openDatabase(ctx, dbc, logger)
	if err != nil {
		return err
	}
	defer d.close()
	if err := server.SetPassword(ctx, d.pool, *email, pw); err != nil {
		return fmt.Errorf("accounts set-password: %w", err)
	}
	fmt.Fprintf(stdout, "password set for %s; its browser sessions have ended\n", *email)
	return nil
}

// readPassword reads the first line of r, so that a password never appears in a command
// line (visible to every user in ps) or the shell's history.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if err := password.Check(pw); err != nil {
		return "", err
	}
	return pw, nil
}
