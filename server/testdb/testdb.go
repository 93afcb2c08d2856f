// Package testdb gives each test a fresh, migrated database on the real PostgreSQL.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hzel/hzel/schema"
)

// AdminURLEnv names the variable that points the tests at another PostgreSQL server.
const AdminURLEnv = "HZEL_TEST_DATABASE_URL"

const defaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// New creates a database for t, applies the migrations, and drops it when t ends. It returns
// a pool on it and its URL. It fails the test, never skips it, when PostgreSQL is unreachable.
func New(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, url, cleanup, err := Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cleanup(); err != nil {
			t.Error(err)
		}
	})
	return pool, url
}

// Create creates an empty database for t, dropped when t ends, and returns its URL.
func Create(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url, drop, err := create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Error(err)
		}
	})
	return url
}

// Open creates a database and applies the migrations, for code that has no testing.TB, such
// as TestMain. It returns a pool on the database, its URL, and cleanup, which closes the pool
// and drops the database. Its error says how to start PostgreSQL when it is unreachable.
func Open(ctx context.Context) (pool *pgxpool.Pool, url string, cleanup func() error, err error) {
	url, drop, err := create(ctx)
	if err != nil {
		return nil, "", nil, err
	}
	pool, err = pgxpool.New(ctx, url)
	if err != nil {
		return nil, "", nil, joinDrop(fmt.Errorf("testdb: open pool: %w", err), drop)
	}
	if err := schema.Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, "", nil, joinDrop(fmt.Errorf("testdb: %w", err), drop)
	}
	cleanup = func() error {
		pool.Close()
		return drop()
	}
	return pool, url, cleanup, nil
}

// joinDrop drops the database of a set-up that failed with err, reporting a failed drop too.
func joinDrop(err error, drop func() error) error {
	if dropErr := drop(); dropErr != nil {
		return fmt.Errorf("%w\n%w", err, dropErr)
	}
	return err
}

// create creates an empty database and returns its URL and a function that drops it.
func create(ctx context.Context) (url string, drop func() error, err error) {
	adminURL := os.Getenv(AdminURLEnv)
	if adminURL == "" {
		adminURL = defaultAdminURL
	}
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("testdb: PostgreSQL is not reachable at %s: %w\n"+
			"Start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set %s.",
			adminURL, err, AdminURLEnv)
	}
	defer admin.Close(context.Background())

	suffix := make([]byte, 6)
	rand.Read(suffix)
	name := "hzel_test_" + hex.EncodeToString(suffix)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("testdb: create database: %w", err)
	}
	drop = func() error {
		// A fresh context: the one that created the database may well be over by now.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return fmt.Errorf("testdb: drop %s: %w", name, err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("testdb: drop %s: %w", name, err)
		}
		return nil
	}
	return withDatabase(adminURL, name), drop, nil
}

// withDatabase returns the connection string adminURL with its database replaced by name;
// both URL and key=value forms are accepted.
func withDatabase(adminURL, name string) string {
	if u, err := url.Parse(adminURL); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		return u.String()
	}
	return adminURL + " dbname=" + name
}
