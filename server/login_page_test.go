package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestLoginPage(t *testing.T) {
	e := newEnv(t)
	e.account(t, "alice@example.com")
	if err := SetPassword(context.Background(), e.pool, "alice@example.com", testPassword); err != nil {
		t.Fatal(err)
	}
	post := func(t *testing.T, form url.Values, origin string) rawResponse {
		h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
		if origin != "" {
			h.Set("Origin", origin)
		}
		return e.do(t, http.MethodPost, "/login", h, form.Encode())
	}

	t.Run("ensure the login page is a form that carries next", func(t *testing.T) {
		r := e.do(t, http.MethodGet, "/login?next=%2Fapi%2Fv1%2Foauth%2Fauthorize%3Fclient_id%3Dx", nil, "")
		body := string(r.body)
		if r.status != http.StatusOK || !strings.Contains(body, `<form method="post" action="/login">`) ||
			!strings.Contains(body, `value="/api/v1/oauth/authorize?client_id=x"`) || !strings.Contains(body, `autocomplete="current-password"`) {
			t.Fatalf("%d %s", r.status, body)
		}
	})
	t.Run("ensure a good login sets the session cookie and goes to next", func(t *testing.T) {
		r := post(t, url.Values{"email": {"alice@example.com"}, "password": {testPassword}, "next": {"/api/v1/auth/session"}}, e.srv.URL)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/api/v1/auth/session" || !strings.Contains(r.header.Get("Set-Cookie"), "__Host-hzel_session=hzss_") {
			t.Fatalf("%d %v", r.status, r.header)
		}
	})
	t.Run("ensure a wrong password shows the form again with an error", func(t *testing.T) {
		r := post(t, url.Values{"email": {"alice@example.com"}, "password": {"wrong password"}}, "")
		if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "Invalid email or password.") || r.header.Get("Set-Cookie") != "" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("ensure a login form from another site is refused", func(t *testing.T) {
		r := post(t, url.Values{"email": {"alice@example.com"}, "password": {testPassword}}, "https://evil.example.com")
		if r.status != http.StatusForbidden || r.header.Get("Set-Cookie") != "" {
			t.Fatalf("%d %v", r.status, r.header)
		}
	})
	for _, next := range []string{"https://evil.example.com/", "//evil.example.com/", "/\\evil.example.com", "javascript:alert(1)", ""} {
		t.Run("ensure next="+next+" cannot redirect off the site", func(t *testing.T) {
			r := post(t, url.Values{"email": {"alice@example.com"}, "password": {testPassword}, "next": {next}}, "")
			if r.status != http.StatusSeeOther || r.header.Get("Location") != afterLogin {
				t.Fatalf("%d Location %q", r.status, r.header.Get("Location"))
			}
		})
	}
}
