package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hzel/hzel/gen/api"
)

const testPassword = "correct horse battery staple"

// login logs in as email with testPassword, setting it first if the account has none (which
// ends no session), and returns the cookie and CSRF token.
func (e *testEnv) login(t *testing.T, email string) (*http.Cookie, string) {
	t.Helper()
	var hasPassword bool
	if err := e.pool.QueryRow(context.Background(), "SELECT password_hash IS NOT NULL FROM accounts WHERE lower(email) = lower($1)", email).Scan(&hasPassword); err != nil {
		t.Fatal(err)
	}
	if !hasPassword {
		if err := SetPassword(context.Background(), e.pool, email, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := e.client(t, "").LoginWithResponse(context.Background(), api.LoginRequest{Email: email, Password: testPassword})
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("login: %v %s", err, resp.Body)
	}
	for _, c := range resp.HTTPResponse.Cookies() {
		if c.Name == "__Host-hzel_session" {
			return c, resp.JSON200.Data.Session.CsrfToken
		}
	}
	t.Fatalf("login set no session cookie: %v", resp.HTTPResponse.Header.Values("Set-Cookie"))
	return nil, ""
}

func withSession(cookie *http.Cookie, csrf string) http.Header {
	h := http.Header{"Cookie": {cookie.Name + "=" + cookie.Value}, "Content-Type": {"application/json"}}
	if csrf != "" {
		h.Set("X-Csrf-Token", csrf)
	}
	return h
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	acct, _ := e.account(t, "alice@example.com")
	ctx := context.Background()
	cookie, csrf := e.login(t, "alice@example.com")

	t.Run("ensure the session cookie is HttpOnly, SameSite=Lax, Secure and __Host- prefixed", func(t *testing.T) {
		if !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" || cookie.Domain != "" {
			t.Fatalf("cookie %+v", cookie)
		}
		if cookie.MaxAge != int(DefaultSessionLifetime.Seconds()) {
			t.Fatalf("Max-Age = %d", cookie.MaxAge)
		}
	})
	t.Run("ensure the session is stored only as a hash", func(t *testing.T) {
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM sessions s WHERE s::text LIKE '%' || $1 || '%'`, cookie.Value[5:]).Scan(&n); err != nil || n != 0 {
			t.Fatalf("the raw session value is in %d rows (%v)", n, err)
		}
		var hashed int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE token_hash = sha256(convert_to($1, 'UTF8'))`, cookie.Value).Scan(&hashed); err != nil || hashed != 1 {
			t.Fatalf("no session stored by the SHA-256 of its value (%v)", err)
		}
	})
	t.Run("ensure the password is stored only as an argon2id hash", func(t *testing.T) {
		var stored string
		if err := e.pool.QueryRow(ctx, `SELECT password_hash FROM accounts WHERE id = $1`, acct.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stored, "$argon2id$") || strings.Contains(stored, testPassword) {
			t.Fatalf("stored %q", stored)
		}
	})
	t.Run("ensure GET /auth/session returns the account and the CSRF token", func(t *testing.T) {
		r := e.do(t, http.MethodGet, "/api/v1/auth/session", withSession(cookie, ""), "")
		if r.status != http.StatusOK || !strings.Contains(string(r.body), csrf) || !strings.Contains(string(r.body), "alice@example.com") {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})

	for _, tc := range []struct{ name, email, password string }{
		{"a wrong password", "alice@example.com", "wrong password!"},
		{"an unknown email", "nobody@example.com", testPassword},
		{"an account without a password", "bob@example.com", testPassword},
	} {
		t.Run("ensure "+tc.name+" is 401 with the same answer as any other failure", func(t *testing.T) {
			e.account(t, "bob@example.com")
			resp, err := e.client(t, "").LoginWithResponse(ctx, api.LoginRequest{Email: tc.email, Password: tc.password})
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode() != http.StatusUnauthorized || string(resp.Body) != `{"error":{"code":"UNAUTHORIZED","message":"invalid email or password"}}`+"\n" {
				t.Fatalf("%d %s", resp.StatusCode(), resp.Body)
			}
			if resp.HTTPResponse.Header.Get("WWW-Authenticate") != `Bearer realm="hzel"` || len(resp.HTTPResponse.Cookies()) != 0 {
				t.Fatalf("headers %v", resp.HTTPResponse.Header)
			}
		})
	}
	t.Run("ensure the email is matched in any case", func(t *testing.T) {
		resp, err := e.client(t, "").LoginWithResponse(ctx, api.LoginRequest{Email: "ALICE@Example.com", Password: testPassword})
		if err != nil || resp.StatusCode() != http.StatusOK {
			t.Fatalf("%v %d", err, resp.StatusCode())
		}
	})
	t.Run("ensure a login without a password is 400 VALIDATION_FAILED", func(t *testing.T) {
		r := e.do(t, http.MethodPost, "/api/v1/auth/login", http.Header{"Content-Type": {"application/json"}}, `{"email":"alice@example.com"}`)
		expectError(t, r, http.StatusBadRequest, api.CodeValidationFailed)
	})
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	_, pat := e.account(t, "alice@example.com")
	cookie, csrf := e.login(t, "alice@example.com")
	victim := func(t *testing.T) string {
		resp, err := e.client(t, pat).CreateTokenWithResponse(context.Background(), api.CreateTokenRequest{Name: "v"})
		if err != nil || resp.JSON200 == nil {
			t.Fatal(err)
		}
		return resp.JSON200.Data.Id.String()
	}

	for _, op := range []struct {
		name, method, path, body string
	}{
		{"POST /api/v1/tokens", http.MethodPost, "/api/v1/tokens", `{"name":"from the browser"}`},
		{"DELETE /api/v1/tokens/{id}", http.MethodDelete, "/api/v1/tokens/", ""},
		{"POST /api/v1/auth/logout", http.MethodPost, "/api/v1/auth/logout", ""},
	} {
		path := func(t *testing.T) string {
			if op.method == http.MethodDelete {
				return op.path + victim(t)
			}
			return op.path
		}
		t.Run("ensure "+op.name+" with a session and no x-csrf-token is 403 CSRF_REJECTED", func(t *testing.T) {
			expectError(t, e.do(t, op.method, path(t), withSession(cookie, ""), op.body), http.StatusForbidden, api.CodeCSRFRejected)
		})
		t.Run("ensure "+op.name+" with a session and a wrong x-csrf-token is 403 CSRF_REJECTED", func(t *testing.T) {
			expectError(t, e.do(t, op.method, path(t), withSession(cookie, csrf[:63]+"0"), op.body), http.StatusForbidden, api.CodeCSRFRejected)
			expectError(t, e.do(t, op.method, path(t), withSession(cookie, strings.ToUpper(csrf)), op.body), http.StatusForbidden, api.CodeCSRFRejected)
		})
		if op.method == http.MethodPost && op.path == "/api/v1/auth/logout" {
			continue // the right token would end the session the other tests use
		}
		t.Run("ensure "+op.name+" with a session and the right x-csrf-token succeeds", func(t *testing.T) {
			if r := e.do(t, op.method, path(t), withSession(cookie, csrf), op.body); r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}

	t.Run("ensure GET needs no CSRF token", func(t *testing.T) {
		if r := e.do(t, http.MethodGet, "/api/v1/tokens", withSession(cookie, ""), ""); r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("ensure a Bearer token beside a cookie needs no CSRF token", func(t *testing.T) {
		h := withSession(cookie, "")
		h.Set("Authorization", "Bearer "+pat)
		if r := e.do(t, http.MethodPost, "/api/v1/tokens", h, `{"name":"pat beside cookie"}`); r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("ensure a bad Bearer token is refused even beside a valid cookie", func(t *testing.T) {
		h := withSession(cookie, csrf)
		h.Set("Authorization", "Bearer hzel_nope")
		expectError(t, e.do(t, http.MethodGet, "/api/v1/tokens", h, ""), http.StatusUnauthorized, api.CodeUnauthorized)
	})
	t.Run("ensure a PAT cannot read or end a session", func(t *testing.T) {
		expectError(t, e.do(t, http.MethodGet, "/api/v1/auth/session", bearer(pat), ""), http.StatusForbidden, api.CodeForbidden)
		expectError(t, e.do(t, http.MethodPost, "/api/v1/auth/logout", bearer(pat), ""), http.StatusForbidden, api.CodeForbidden)
	})
}

func TestSessionEnds(t *testing.T) {
	e := newEnv(t)
	e.account(t, "alice@example.com")
	ctx := context.Background()

	t.Run("ensure logout ends the session and clears the cookie", func(t *testing.T) {
		cookie, csrf := e.login(t, "alice@example.com")
		r := e.do(t, http.MethodPost, "/api/v1/auth/logout", withSession(cookie, csrf), "")
		if r.status != http.StatusOK || string(r.body) != `{"data":"logged out"}`+"\n" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if sc := r.header.Get("Set-Cookie"); !strings.Contains(sc, "__Host-hzel_session=;") || !strings.Contains(sc, "Max-Age=0") {
			t.Fatalf("Set-Cookie %q does not clear the cookie", sc)
		}
		expectError(t, e.do(t, http.MethodGet, "/api/v1/tokens", withSession(cookie, ""), ""), http.StatusUnauthorized, api.CodeUnauthorized)
	})
	for _, tc := range []struct{ name, update string }{
		{"past its absolute lifetime", "UPDATE sessions SET expires_at = now() - interval '1 second'"},
		{"idle for longer than the idle lifetime", "UPDATE sessions SET last_seen_at = now() - interval '2 hours 1 second'"},
	} {
		t.Run("ensure a session "+tc.name+" is refused", func(t *testing.T) {
			cookie, _ := e.login(t, "alice@example.com")
			if _, err := e.pool.Exec(ctx, tc.update+" WHERE token_hash = sha256(convert_to($1, 'UTF8'))", cookie.Value); err != nil {
				t.Fatal(err)
			}
			expectError(t, e.do(t, http.MethodGet, "/api/v1/tokens", withSession(cookie, ""), ""), http.StatusUnauthorized, api.CodeUnauthorized)
		})
	}
	t.Run("ensure a password change ends every session", func(t *testing.T) {
		cookie, _ := e.login(t, "alice@example.com")
		if err := SetPassword(ctx, e.pool, "alice@example.com", "another good password"); err != nil {
			t.Fatal(err)
		}
		expectError(t, e.do(t, http.MethodGet, "/api/v1/tokens", withSession(cookie, ""), ""), http.StatusUnauthorized, api.CodeUnauthorized)
	})
	t.Run("ensure a forged cookie is 401", func(t *testing.T) {
		h := http.Header{"Cookie": {"__Host-hzel_session=hzss_forged"}}
		expectError(t, e.do(t, http.MethodGet, "/api/v1/tokens", h, ""), http.StatusUnauthorized, api.CodeUnauthorized)
	})
}

func TestInsecureCookies(t *testing.T) {
	e := newEnv(t)
	h, err := New(Config{InsecureCookies: true, SessionLifetime: time.Hour}, e.pool)
	if err != nil {
		t.Fatal(err)
	}
	e.account(t, "alice@example.com")
	if err := SetPassword(context.Background(), e.pool, "alice@example.com", testPassword); err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = h
	r := e.do(t, http.MethodPost, "/api/v1/auth/login", http.Header{"Content-Type": {"application/json"}},
		`{"email":"alice@example.com","password":"`+testPassword+`"}`)
	sc := r.header.Get("Set-Cookie")
	if r.status != http.StatusOK || !strings.HasPrefix(sc, "hzel_session=hzss_") || strings.Contains(sc, "Secure") || !strings.Contains(sc, "Max-Age=3600") {
		t.Fatalf("ensure plain-HTTP mode drops Secure and the __Host- prefix: %d %q", r.status, sc)
	}
}

// BenchmarkLoginFailure compares the two failures that must not be told apart by timing:
// an unknown email and a wrong password (compare the ns/op of the two sub-benchmarks).
func BenchmarkLoginFailure(b *testing.B) {
	e := newEnv(b)
	e.account(b, "alice@example.com")
	if err := SetPassword(context.Background(), e.pool, "alice@example.com", testPassword); err != nil {
		b.Fatal(err)
	}
	c := e.client(b, "")
	for _, tc := range []struct{ name, email string }{{"unknown email", "nobody@example.com"}, {"wrong password", "alice@example.com"}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				resp, err := c.LoginWithResponse(context.Background(), api.LoginRequest{Email: tc.email, Password: "wrong password!"})
				if err != nil || resp.StatusCode() != http.StatusUnauthorized {
					b.Fatal(err, resp.StatusCode())
				}
			}
		})
	}
}
