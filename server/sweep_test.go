package server

import (
	"context"
	"net/url"
	"testing"
)

func TestSweep(t *testing.T) {
	e, _, cookie, csrf, app := oauthSetup(t)
	ctx := context.Background()
	ended, _ := e.login(t, "alice@example.com")
	idle, _ := e.login(t, "alice@example.com")
	code := e.consent(t, cookie, csrf, app, nil, "approve").Query().Get("code")
	e.exchangeCode(t, app, code, nil)
	e.consent(t, cookie, csrf, app, url.Values{}, "approve") // a fresh code, left unspent
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := e.pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE token_hash = sha256(convert_to($1, 'UTF8'))", ended.Value)
	exec("UPDATE sessions SET last_seen_at = now() - interval '3 hours' WHERE token_hash = sha256(convert_to($1, 'UTF8'))", idle.Value)
	exec("UPDATE oauth_codes SET expires_at = now() - interval '2 days' WHERE used_at IS NOT NULL")
	exec("UPDATE oauth_access_tokens SET expires_at = now() - interval '2 days'")

	if err := newServer(Config{}, e.pool).sweep(ctx); err != nil {
		t.Fatal(err)
	}
	count := func(sql string) int {
		t.Helper()
		var n int
		if err := e.pool.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, tc := range []struct {
		name, sql string
		want      int
	}{
		{"ensure ended and idle sessions are deleted, the live one kept", "SELECT count(*) FROM sessions", 1},
		{"ensure long-expired codes are deleted, the fresh one kept", "SELECT count(*) FROM oauth_codes", 1},
		{"ensure long-expired access tokens are deleted", "SELECT count(*) FROM oauth_access_tokens", 0},
		{"ensure refresh tokens are kept, for reuse detection", "SELECT count(*) FROM oauth_refresh_tokens", 1},
	} {
		if got := count(tc.sql); got != tc.want {
			t.Errorf("%s: %d rows, want %d", tc.name, got, tc.want)
		}
	}
	if r := e.do(t, "GET", "/api/v1/tokens", withSession(cookie, ""), ""); r.status != 200 {
		t.Fatalf("the live session stopped working: %d", r.status)
	}
}
