// Package testdb gives each test a fresh, migrated database on the real PostgreSQL.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	url := Create(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatalf("testdb: open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := schema.Migrate(ctx, pool); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return pool, url
}

// Create creates an empty database for t, dropped when t ends, and returns its URL.
func Create(t testing.TB) string {
	t.Helper()
	adminURL := os.Getenv(AdminURLEnv)
	if adminURL == "" {
		adminURL = defaultAdminURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatalf("testdb: PostgreSQL is not reachable at %s: %v\n"+
			"Start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set %s.",
			adminURL, err, AdminURLEnv)
	}
	defer admin.Close(context.Background())

	suffix := make([]byte, 6)
	rand.Read(suffix)
	name := "hzel_test_" + hex.EncodeToString(suffix)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testdb: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			t.Errorf("testdb: drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("testdb: drop %s: %v", name, err)
		}
	})

	return withDatabase(adminURL, name)
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
