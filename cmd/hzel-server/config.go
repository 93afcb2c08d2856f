package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"
)

// dbConfig says which database to use; every subcommand takes it.
type dbConfig struct {
	// URL is DATABASE_URL; empty means the embedded cluster under DataDir.
	URL      string
	DataDir  string
	PGBinDir string
	MaxConns int
}

func (c *dbConfig) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&c.URL, "database-url", getenv("DATABASE_URL"),
		"PostgreSQL connection string (env DATABASE_URL); empty runs an embedded PostgreSQL under --data-dir")
	fs.StringVar(&c.DataDir, "data-dir", envOr(getenv, "HZEL_DATA_DIR", ".data"),
		"where the embedded PostgreSQL keeps its data (env HZEL_DATA_DIR)")
	fs.StringVar(&c.PGBinDir, "pg-bindir", getenv("PG_BINDIR"),
		"directory of initdb and pg_ctl for the embedded PostgreSQL (env PG_BINDIR); empty searches PATH and /usr/lib/postgresql")
	fs.IntVar(&c.MaxConns, "db-max-conns", envInt(getenv, "HZEL_DB_MAX_CONNS", 10),
		"most database connections in the pool (env HZEL_DB_MAX_CONNS)")
}

// parse parses a command's flags, the database ones included, and validates the latter.
func (c *dbConfig) parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	return c.validate()
}

func (c *dbConfig) validate() error {
	if c.MaxConns < 1 {
		return fmt.Errorf("--db-max-conns must be at least 1, got %d", c.MaxConns)
	}
	if c.URL == "" && c.DataDir == "" {
		return errors.New("--data-dir must not be empty when no DATABASE_URL is set")
	}
	return nil
}

// parseFlags parses args into fs, reporting misuse as an error rather than exiting.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

func envOr(getenv func(string) string, key, fallback string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return fallback
}

// envInt reads an integer default from the environment; a value that is not a number is
// kept as -1 so that validate reports it instead of it being silently ignored.
func envInt(getenv func(string) string, key string, fallback int) int {
	v := getenv(key)
	if v == "" {
		return fallback
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

// envDuration reads a duration default from the environment; a malformed value becomes -1 so
// that the caller's validation reports it.
func envDuration(getenv func(string) string, key string, fallback time.Duration) time.Duration {
	v := getenv(key)
	if v == "" {
		return fallback
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return -1
	}
	return d
}
