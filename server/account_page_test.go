package server

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/hzel/hzel/gen/api"
)

func TestAccountPage(t *testing.T) {
	e := newEnv(t)
	_, pat := e.account(t, "alice@example.com")
	cookie, csrf := e.login(t, "alice@example.com")
	form := func(t *testing.T, path string, values url.Values) rawResponse {
		h := withSession(cookie, "")
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		return e.do(t, http.MethodPost, path, h, values.Encode())
	}

	t.Run("ensure the page sends a browser without a session to log in", func(t *testing.T) {
		r := e.do(t, http.MethodGet, "/account", nil, "")
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login?next=/account" {
			t.Fatalf("%d %q", r.status, r.header.Get("Location"))
		}
	})
	t.Run("ensure the page lists the person's tokens and is never cached", func(t *testing.T) {
		r := e.do(t, http.MethodGet, "/account", withSession(cookie, ""), "")
		if r.status != http.StatusOK || !strings.Contains(string(r.body), pat[:13]) || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})

	var created string
	t.Run("ensure creating a token shows it once, and it works", func(t *testing.T) {
		r := form(t, "/account/tokens", url.Values{"csrf_token": {csrf}, "name": {"from the page"}, "expires_in_days": {"30"}})
		m := regexp.MustCompile(`<code id="new-token">(hzel_[0-9A-Za-z]{35})</code>`).FindSubmatch(r.body)
		if r.status != http.StatusOK || m == nil {
			t.Fatalf("%d %s", r.status, r.body)
		}
		created = string(m[1])
		if got := e.do(t, http.MethodGet, "/api/v1/tokens", bearer(created), ""); got.status != http.StatusOK || !strings.Contains(string(got.body), "from the page") {
			t.Fatalf("the new token does not work: %d", got.status)
		}
		if again := e.do(t, http.MethodGet, "/account", withSession(cookie, ""), ""); strings.Contains(string(again.body), created) {
			t.Fatal("the raw token is shown a second time")
		}
	})
	t.Run("ensure a blank name is refused on the page", func(t *testing.T) {
		r := form(t, "/account/tokens", url.Values{"csrf_token": {csrf}, "name": {"   "}})
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "Name must not be empty") {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	for _, path := range []string{"/account/tokens", "/logout"} {
		t.Run("ensure "+path+" without the CSRF token changes nothing", func(t *testing.T) {
			if r := form(t, path, url.Values{"name": {"x"}}); r.status != http.StatusForbidden {
				t.Fatalf("%d", r.status)
			}
		})
	}
	t.Run("ensure revoking from the page stops the token", func(t *testing.T) {
		list, err := e.client(t, pat).ListTokensWithResponse(t.Context())
		if err != nil || list.JSON200 == nil {
			t.Fatal(err)
		}
		var id string
		for _, tok := range list.JSON200.Data {
			if tok.Name == "from the page" {
				id = tok.Id.String()
			}
		}
		if r := form(t, "/account/tokens/"+id+"/revoke", url.Values{}); r.status != http.StatusForbidden {
			t.Fatalf("revoke without CSRF token: %d", r.status)
		}
		r := form(t, "/account/tokens/"+id+"/revoke", url.Values{"csrf_token": {csrf}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account?revoked=1" {
			t.Fatalf("%d %q", r.status, r.header.Get("Location"))
		}
		expectError(t, e.do(t, http.MethodGet, "/api/v1/tokens", bearer(created), ""), http.StatusUnauthorized, api.CodeUnauthorized)
		if r := form(t, "/account/tokens/"+id+"/revoke", url.Values{"csrf_token": {csrf}}); r.status != http.StatusNotFound {
			t.Fatalf("revoking twice: %d", r.status)
		}
	})
	t.Run("ensure another account's token cannot be revoked from the page", func(t *testing.T) {
		_, bob := e.account(t, "bob@example.com")
		list, _ := e.client(t, bob).ListTokensWithResponse(t.Context())
		r := form(t, "/account/tokens/"+list.JSON200.Data[0].Id.String()+"/revoke", url.Values{"csrf_token": {csrf}})
		if r.status != http.StatusNotFound {
			t.Fatalf("%d", r.status)
		}
		if got := e.do(t, http.MethodGet, "/api/v1/tokens", bearer(bob), ""); got.status != http.StatusOK {
			t.Fatal("bob's token was revoked by alice")
		}
	})
	t.Run("ensure logging out from the page ends the session", func(t *testing.T) {
		r := form(t, "/logout", url.Values{"csrf_token": {csrf}})
		if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
			t.Fatalf("%d %v", r.status, r.header)
		}
		if r := e.do(t, http.MethodGet, "/account", withSession(cookie, ""), ""); r.status != http.StatusSeeOther {
			t.Fatalf("the session survived logout: %d", r.status)
		}
	})
}
