package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hzel/hzel/gen/api"
	"github.com/hzel/hzel/server/token"
)

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	_, raw := e.account(t, "alice@example.com")
	ctx := context.Background()

	acct, err := EnsureAccount(ctx, e.queries, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	expiredRow, expired, err := IssueToken(ctx, e.queries, acct.ID, "expired", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, "UPDATE tokens SET expires_at = now() - interval '1 second' WHERE id = $1", expiredRow.ID); err != nil {
		t.Fatal(err)
	}
	revokedRow, revoked, err := IssueToken(ctx, e.queries, acct.ID, "revoked", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, "UPDATE tokens SET revoked_at = now() WHERE id = $1", revokedRow.ID); err != nil {
		t.Fatal(err)
	}
	unknown, err := token.Generate() // well-formed, checksum right, never stored
	if err != nil {
		t.Fatal(err)
	}
	badChecksum := raw[:39] + flip(raw[39])

	for _, tc := range []struct {
		name      string
		header    []string
		challenge string
	}{
		{"no Authorization header", nil, `Bearer realm="hzel"`},
		{"an empty Authorization header", []string{""}, `Bearer realm="hzel"`},
		{"the Basic scheme", []string{"Basic YWxpY2U6c2VjcmV0"}, `Bearer realm="hzel"`},
		{"a token without a scheme", []string{raw}, `Bearer realm="hzel"`},
		{"Bearer without a token", []string{"Bearer"}, `Bearer realm="hzel"`},
		{"Bearer with blanks only", []string{"Bearer    "}, `Bearer realm="hzel"`},
		{"two Authorization headers", []string{"Bearer " + raw, "Bearer " + raw}, `Bearer realm="hzel"`},
		{"a malformed token", []string{"Bearer hzel_nope"}, `Bearer realm="hzel", error="invalid_token"`},
		{"a token with a bad checksum", []string{"Bearer " + badChecksum}, `Bearer realm="hzel", error="invalid_token"`},
		{"another service's token", []string{"Bearer ghp_" + strings.Repeat("a", 36)}, `Bearer realm="hzel", error="invalid_token"`},
		{"an unknown token", []string{"Bearer " + unknown.Reveal()}, `Bearer realm="hzel", error="invalid_token"`},
		{"an expired token", []string{"Bearer " + expired.Reveal()}, `Bearer realm="hzel", error="invalid_token"`},
		{"a revoked token", []string{"Bearer " + revoked.Reveal()}, `Bearer realm="hzel", error="invalid_token"`},
		{"a huge header", []string{"Bearer " + strings.Repeat("A", 16<<10)}, `Bearer realm="hzel", error="invalid_token"`},
	} {
		t.Run("ensure "+tc.name+" is 401 UNAUTHORIZED", func(t *testing.T) {
			for _, path := range []string{"GET /api/v1/tokens", "POST /api/v1/tokens", "DELETE /api/v1/tokens/" + expiredRow.ID.String()} {
				method, p, _ := strings.Cut(path, " ")
				h := http.Header{"Content-Type": {"application/json"}}
				for _, v := range tc.header {
					h.Add("Authorization", v)
				}
				r := e.do(t, method, p, h, `{"name":"x"}`)
				expectError(t, r, http.StatusUnauthorized, api.CodeUnauthorized)
				if got := r.header.Get("WWW-Authenticate"); got != tc.challenge {
					t.Fatalf("%s: WWW-Authenticate = %q, want %q", path, got, tc.challenge)
				}
			}
		})
	}

	t.Run("ensure the scheme name is case-insensitive", func(t *testing.T) {
		for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
			r := e.do(t, http.MethodGet, "/api/v1/tokens", http.Header{"Authorization": {scheme + " " + raw}}, "")
			if r.status != http.StatusOK {
				t.Fatalf("%s: status %d", scheme, r.status)
			}
		}
	})

	t.Run("ensure nothing was written by refused requests", func(t *testing.T) {
		var n int
		if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM tokens WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())").Scan(&n); err != nil || n != 1 {
			t.Fatalf("%d valid tokens, want 1 (%v)", n, err)
		}
	})
}

func TestMalformedTokensNeverReachTheDatabase(t *testing.T) {
	// A pool on a port where nothing listens: any query fails, and a request that queried
	// would be a 500. Malformed tokens must get their 401 without one.
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/none?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	e := newEnvOnPool(t, pool)
	good, err := token.Generate()
	if err != nil {
		t.Fatal(err)
	}
	raw := good.Reveal()
	for _, bad := range []string{"hzel_short", raw[:39] + flip(raw[39]), flip(raw[0]) + raw[1:], raw[:20] + flip(raw[20]) + raw[21:]} {
		r := e.do(t, http.MethodGet, "/api/v1/tokens", bearer(bad), "")
		expectError(t, r, http.StatusUnauthorized, api.CodeUnauthorized)
	}
	// The control: a well-formed token does query, and so fails with the database.
	expectError(t, e.do(t, http.MethodGet, "/api/v1/tokens", bearer(raw), ""), http.StatusInternalServerError, api.CodeInternalError)
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestLastUsedAt(t *testing.T) {
	e := newEnv(t)
	_, raw := e.account(t, "alice@example.com")
	c := e.client(t, raw)
	ctx := context.Background()
	resp, err := c.CreateTokenWithResponse(ctx, api.CreateTokenRequest{Name: "watched"})
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("%v %s", err, resp.Body)
	}
	watched := resp.JSON200.Data
	lastUsed := func(t *testing.T) *time.Time {
		t.Helper()
		var at *time.Time
		if err := e.pool.QueryRow(ctx, "SELECT last_used_at FROM tokens WHERE id = $1", watched.Id).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	use := func(t *testing.T) *api.ListTokensResponse {
		t.Helper()
		r, err := e.client(t, watched.Token).ListTokensWithResponse(ctx)
		if err != nil || r.JSON200 == nil {
			t.Fatalf("%v %s", err, r.Body)
		}
		return r
	}

	t.Run("ensure a new token has never been used", func(t *testing.T) {
		if at := lastUsed(t); at != nil {
			t.Fatalf("last_used_at = %v, want null", at)
		}
	})
	t.Run("ensure the first use is recorded before the response", func(t *testing.T) {
		r := use(t)
		for _, tok := range r.JSON200.Data {
			if tok.Id == watched.Id && tok.LastUsedAt == nil {
				t.Fatal("the response to the first use still shows last_used_at null")
			}
		}
	})
	first := lastUsed(t)
	t.Run("ensure uses within a minute do not write again", func(t *testing.T) {
		use(t)
		use(t)
		if at := lastUsed(t); !at.Equal(*first) {
			t.Fatalf("last_used_at moved from %v to %v within a minute", first, at)
		}
	})
	t.Run("ensure a use after a minute is recorded", func(t *testing.T) {
		if _, err := e.pool.Exec(ctx, "UPDATE tokens SET last_used_at = now() - interval '61 seconds' WHERE id = $1", watched.Id); err != nil {
			t.Fatal(err)
		}
		before := lastUsed(t)
		use(t)
		if at := lastUsed(t); !at.After(*before) {
			t.Fatalf("last_used_at stayed %v after a use a minute later", at)
		}
	})
}
