package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hzel/hzel/gen/api"
)

// registeredApp is an OAuth application a test registered, with its secret.
type registeredApp struct {
	clientID, secret, redirectURI string
}

func (e *testEnv) registerApp(t *testing.T, pat string, redirectURIs ...string) registeredApp {
	t.Helper()
	resp, err := e.client(t, pat).CreateOAuthAppWithResponse(context.Background(), api.CreateOAuthAppRequest{
		Name: "Deploy bot", RedirectUris: redirectURIs,
	})
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("register app: %v %s", err, resp.Body)
	}
	d := resp.JSON200.Data
	return registeredApp{clientID: d.ClientId.String(), secret: d.ClientSecret, redirectURI: redirectURIs[0]}
}

func authorizeQuery(app registeredApp, extra url.Values) string {
	q := url.Values{"client_id": {app.clientID}, "redirect_uri": {app.redirectURI}, "response_type": {"code"}, "state": {"xyz"}}
	for k, v := range extra {
		q[k] = v
	}
	return "/api/v1/oauth/authorize?" + q.Encode()
}

// consent walks the person's side of the flow: the consent page, then the decision. It
// returns where the browser was sent.
func (e *testEnv) consent(t *testing.T, cookie *http.Cookie, csrf string, app registeredApp, extra url.Values, decision string) *url.URL {
	t.Helper()
	page := e.do(t, http.MethodGet, authorizeQuery(app, extra), withSession(cookie, ""), "")
	if page.status != http.StatusOK || !strings.Contains(string(page.body), "Authorize Deploy bot?") || !strings.Contains(string(page.body), csrf) {
		t.Fatalf("consent page: %d %s", page.status, page.body)
	}
	form := url.Values{"client_id": {app.clientID}, "redirect_uri": {app.redirectURI}, "state": {"xyz"}, "csrf_token": {csrf}, "decision": {decision}}
	for k, v := range extra {
		form[k] = v
	}
	h := withSession(cookie, "")
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	r := e.do(t, http.MethodPost, "/api/v1/oauth/authorize", h, form.Encode())
	if r.status != http.StatusFound {
		t.Fatalf("decision: %d %s", r.status, r.body)
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// tokenRequest posts to the token endpoint with HTTP Basic client authentication.
func (e *testEnv) tokenRequest(t *testing.T, app registeredApp, form url.Values) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if app.clientID != "" {
		req.SetBasicAuth(url.QueryEscape(app.clientID), url.QueryEscape(app.secret))
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("token endpoint answered non-JSON: %v", err)
	}
	return resp.StatusCode, body, resp.Header
}

func (e *testEnv) exchangeCode(t *testing.T, app registeredApp, code string, extra url.Values) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {app.redirectURI}}
	for k, v := range extra {
		form[k] = v
	}
	status, body, _ := e.tokenRequest(t, app, form)
	return status, body
}

func expectOAuthError(t *testing.T, status int, body map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || body["error"] != wantCode {
		t.Fatalf("got %d %v, want %d error=%s", status, body, wantStatus, wantCode)
	}
}

// oauthSetup is one person with a PAT and a session, and one registered application.
func oauthSetup(t *testing.T) (*testEnv, string, *http.Cookie, string, registeredApp) {
	e := newEnv(t)
	_, pat := e.account(t, "alice@example.com")
	cookie, csrf := e.login(t, "alice@example.com")
	app := e.registerApp(t, pat, "https://bot.example.com/callback", "http://127.0.0.1:9999/cb")
	return e, pat, cookie, csrf, app
}

func TestOAuthCodeFlow(t *testing.T) {
	e, pat, cookie, csrf, app := oauthSetup(t)
	ctx := context.Background()

	t.Run("ensure authorize without a session sends the person to log in, and back", func(t *testing.T) {
		r := e.do(t, http.MethodGet, authorizeQuery(app, nil), nil, "")
		loc := r.header.Get("Location")
		if r.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=%2Fapi%2Fv1%2Foauth%2Fauthorize") {
			t.Fatalf("%d Location %q", r.status, loc)
		}
	})

	loc := e.consent(t, cookie, csrf, app, nil, "approve")
	code := loc.Query().Get("code")
	t.Run("ensure approving redirects to the registered URI with a code and the state", func(t *testing.T) {
		if loc.Scheme+"://"+loc.Host+loc.Path != app.redirectURI || !strings.HasPrefix(code, "hzac_") || loc.Query().Get("state") != "xyz" {
			t.Fatalf("redirected to %s", loc)
		}
	})

	status, tokens := e.exchangeCode(t, app, code, nil)
	if status != http.StatusOK {
		t.Fatalf("exchange: %d %v", status, tokens)
	}
	access, _ := tokens["access_token"].(string)
	t.Run("ensure the exchange answers RFC 6749 tokens without the envelope", func(t *testing.T) {
		if !strings.HasPrefix(access, "hzat_") || !strings.HasPrefix(tokens["refresh_token"].(string), "hzrt_") ||
			tokens["token_type"] != "Bearer" || tokens["expires_in"] != float64(900) || tokens["data"] != nil {
			t.Fatalf("tokens %v", tokens)
		}
	})
	t.Run("ensure an access token acts for its person on the API", func(t *testing.T) {
		list, err := e.client(t, access).ListTokensWithResponse(ctx)
		if err != nil || list.JSON200 == nil || len(list.JSON200.Data) != 1 || list.JSON200.Data[0].Name != "test" {
			t.Fatalf("%v %s", err, list.Body)
		}
	})
	t.Run("ensure an access token may not create a PAT: 403 FORBIDDEN", func(t *testing.T) {
		resp, err := e.client(t, access).CreateTokenWithResponse(ctx, api.CreateTokenRequest{Name: "sneaky"})
		if err != nil || resp.StatusCode() != http.StatusForbidden || resp.JSON403 == nil ||
			resp.JSON403.Error.Code != api.CodeForbidden || resp.JSON403.Error.Message != "OAuth app tokens may not create PATs" {
			t.Fatalf("%v %d %s", err, resp.StatusCode(), resp.Body)
		}
	})
	t.Run("ensure an access token may revoke its person's tokens, as the seed allows", func(t *testing.T) {
		victim, err := e.client(t, pat).CreateTokenWithResponse(ctx, api.CreateTokenRequest{Name: "old laptop"})
		if err != nil || victim.JSON200 == nil {
			t.Fatal(err)
		}
		r, err := e.client(t, access).RevokeTokenWithResponse(ctx, victim.JSON200.Data.Id)
		if err != nil || r.JSON200 == nil {
			t.Fatalf("%v %s", err, r.Body)
		}
	})
	t.Run("ensure an access token may not manage OAuth applications", func(t *testing.T) {
		r, err := e.client(t, access).ListOAuthAppsWithResponse(ctx)
		if err != nil || r.StatusCode() != http.StatusForbidden {
			t.Fatalf("%v %d", err, r.StatusCode())
		}
	})
	t.Run("ensure a code works only once, and its reuse revokes what it gave", func(t *testing.T) {
		status, body := e.exchangeCode(t, app, code, nil)
		expectOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
		expectError(t, e.do(t, http.MethodGet, "/api/v1/tokens", bearer(access), ""), http.StatusUnauthorized, api.CodeUnauthorized)
	})
	t.Run("ensure denying redirects with access_denied and the state", func(t *testing.T) {
		loc := e.consent(t, cookie, csrf, app, nil, "deny")
		if loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "xyz" || loc.Query().Get("code") != "" {
			t.Fatalf("redirected to %s", loc)
		}
	})
	t.Run("ensure an expired access token is refused", func(t *testing.T) {
		code := e.consent(t, cookie, csrf, app, nil, "approve").Query().Get("code")
		_, tokens := e.exchangeCode(t, app, code, nil)
		if _, err := e.pool.Exec(ctx, "UPDATE oauth_access_tokens SET expires_at = now() - interval '1 second'"); err != nil {
			t.Fatal(err)
		}
		expectError(t, e.do(t, http.MethodGet, "/api/v1/tokens", bearer(tokens["access_token"].(string)), ""), http.StatusUnauthorized, api.CodeUnauthorized)
	})
}

func TestOAuthAuthorizeErrors(t *testing.T) {
	e, _, cookie, csrf, app := oauthSetup(t)

	for _, tc := range []struct{ name, query string }{
		{"an unknown client", authorizeQuery(registeredApp{clientID: "01942cf7-8c1a-7b2e-9f3d-5a6b7c8d9e0f", redirectURI: app.redirectURI}, nil)},
		{"a malformed client_id", authorizeQuery(registeredApp{clientID: "nope", redirectURI: app.redirectURI}, nil)},
		{"an unregistered redirect URI", authorizeQuery(registeredApp{clientID: app.clientID, redirectURI: "https://evil.example.com/callback"}, nil)},
		{"a redirect URI that only starts like a registered one", authorizeQuery(registeredApp{clientID: app.clientID, redirectURI: app.redirectURI + "/../evil"}, nil)},
		{"a missing redirect URI when several are registered", "/api/v1/oauth/authorize?response_type=code&client_id=" + app.clientID},
	} {
		t.Run("ensure "+tc.name+" is an error page, never a redirect", func(t *testing.T) {
			r := e.do(t, http.MethodGet, tc.query, withSession(cookie, ""), "")
			if r.status != http.StatusBadRequest || r.header.Get("Location") != "" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
				t.Fatalf("%d Location %q: %s", r.status, r.header.Get("Location"), r.body)
			}
		})
	}
	for _, tc := range []struct {
		name  string
		extra url.Values
		want  string
	}{
		{"response_type token", url.Values{"response_type": {"token"}}, "unsupported_response_type"},
		{"no response_type", url.Values{"response_type": {""}}, "invalid_request"},
		{"the plain PKCE method", url.Values{"code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"plain"}}, "invalid_request"},
		{"a PKCE challenge without a method", url.Values{"code_challenge": {strings.Repeat("a", 43)}}, "invalid_request"},
	} {
		t.Run("ensure "+tc.name+" redirects with error="+tc.want, func(t *testing.T) {
			r := e.do(t, http.MethodGet, authorizeQuery(app, tc.extra), withSession(cookie, ""), "")
			loc, _ := url.Parse(r.header.Get("Location"))
			if r.status != http.StatusFound || loc.Query().Get("error") != tc.want || loc.Query().Get("state") != "xyz" {
				t.Fatalf("%d Location %q", r.status, r.header.Get("Location"))
			}
		})
	}
	t.Run("ensure a decision without the session's CSRF token approves nothing", func(t *testing.T) {
		h := withSession(cookie, "")
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		form := url.Values{"client_id": {app.clientID}, "redirect_uri": {app.redirectURI}, "csrf_token": {strings.Repeat("0", 64)}, "decision": {"approve"}}
		r := e.do(t, http.MethodPost, "/api/v1/oauth/authorize", h, form.Encode())
		if r.status != http.StatusForbidden || r.header.Get("Location") != "" {
			t.Fatalf("%d %s", r.status, r.header.Get("Location"))
		}
	})
	t.Run("ensure a decision without a session approves nothing", func(t *testing.T) {
		form := url.Values{"client_id": {app.clientID}, "redirect_uri": {app.redirectURI}, "csrf_token": {csrf}, "decision": {"approve"}}
		r := e.do(t, http.MethodPost, "/api/v1/oauth/authorize", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, form.Encode())
		if r.status != http.StatusUnauthorized || r.header.Get("Location") != "" {
			t.Fatalf("%d %s", r.status, r.header.Get("Location"))
		}
	})
	t.Run("ensure a code is bound to its redirect URI", func(t *testing.T) {
		code := e.consent(t, cookie, csrf, app, nil, "approve").Query().Get("code")
		status, body := e.exchangeCode(t, app, code, url.Values{"redirect_uri": {"http://127.0.0.1:9999/cb"}})
		expectOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
	})
}

func pkcePair(verifier string) (string, url.Values) {
	sum := sha256.Sum256([]byte(verifier))
	return verifier, url.Values{"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
}

func TestOAuthPKCE(t *testing.T) {
	e, _, cookie, csrf, app := oauthSetup(t)
	verifier, challenge := pkcePair(strings.Repeat("v", 20) + "-._~" + strings.Repeat("w", 30))
	code := e.consent(t, cookie, csrf, app, challenge, "approve").Query().Get("code")

	for _, tc := range []struct {
		name     string
		verifier string
	}{
		{"no code_verifier", ""},
		{"a wrong code_verifier", strings.Repeat("x", 60)},
		{"a malformed code_verifier", "short"},
	} {
		t.Run("ensure "+tc.name+" is invalid_grant", func(t *testing.T) {
			status, body := e.exchangeCode(t, app, code, url.Values{"code_verifier": {tc.verifier}})
			expectOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
		})
	}
	t.Run("ensure the right code_verifier gets tokens", func(t *testing.T) {
		status, body := e.exchangeCode(t, app, code, url.Values{"code_verifier": {verifier}})
		if status != http.StatusOK || body["access_token"] == nil {
			t.Fatalf("%d %v", status, body)
		}
	})
	t.Run("ensure a code_verifier for a code issued without PKCE is refused", func(t *testing.T) {
		code := e.consent(t, cookie, csrf, app, nil, "approve").Query().Get("code")
		status, body := e.exchangeCode(t, app, code, url.Values{"code_verifier": {verifier}})
		expectOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
	})
}

func TestOAuthRefreshRotation(t *testing.T) {
	e, _, cookie, csrf, app := oauthSetup(t)
	code := e.consent(t, cookie, csrf, app, nil, "approve").Query().Get("code")
	_, first := e.exchangeCode(t, app, code, nil)
	refresh := func(rt string) (int, map[string]any) {
		status, body, _ := e.tokenRequest(t, app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		return status, body
	}

	status, second := refresh(first["refresh_token"].(string))
	t.Run("ensure a refresh returns a new access token and a new refresh token", func(t *testing.T) {
		if status != http.StatusOK || second["refresh_token"] == first["refresh_token"] || second["access_token"] == first["access_token"] {
			t.Fatalf("%d %v", status, second)
		}
		if r := e.do(t, http.MethodGet, "/api/v1/tokens", bearer(second["access_token"].(string)), ""); r.status != http.StatusOK {
			t.Fatalf("new access token: %d", r.status)
		}
	})
	t.Run("ensure reusing a rotated refresh token revokes the whole grant", func(t *testing.T) {
		status, body := refresh(first["refresh_token"].(string))
		expectOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
		expectError(t, e.do(t, http.MethodGet, "/api/v1/tokens", bearer(second["access_token"].(string)), ""), http.StatusUnauthorized, api.CodeUnauthorized)
		status, body = refresh(second["refresh_token"].(string))
		expectOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("ensure an unknown refresh token is invalid_grant", func(t *testing.T) {
		status, body := refresh("hzrt_nope")
		expectOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
	})
}

func TestOAuthTokenEndpointErrors(t *testing.T) {
	e, _, cookie, csrf, app := oauthSetup(t)
	code := func() string { return e.consent(t, cookie, csrf, app, nil, "approve").Query().Get("code") }

	t.Run("ensure a wrong client secret is 401 invalid_client with a Basic challenge", func(t *testing.T) {
		status, body, h := e.tokenRequest(t, registeredApp{clientID: app.clientID, secret: "hzcs_wrong"},
			url.Values{"grant_type": {"authorization_code"}, "code": {code()}, "redirect_uri": {app.redirectURI}})
		expectOAuthError(t, status, body, http.StatusUnauthorized, "invalid_client")
		if h.Get("WWW-Authenticate") != `Basic realm="hzel"` {
			t.Fatalf("WWW-Authenticate %q", h.Get("WWW-Authenticate"))
		}
	})
	t.Run("ensure no client authentication is 401 invalid_client", func(t *testing.T) {
		status, body, _ := e.tokenRequest(t, registeredApp{}, url.Values{"grant_type": {"authorization_code"}, "code": {code()}})
		expectOAuthError(t, status, body, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("ensure two client authentications at once are invalid_request", func(t *testing.T) {
		status, body, _ := e.tokenRequest(t, app, url.Values{"grant_type": {"authorization_code"}, "code": {code()},
			"redirect_uri": {app.redirectURI}, "client_secret": {app.secret}})
		expectOAuthError(t, status, body, http.StatusBadRequest, "invalid_request")
	})
	t.Run("ensure an unknown grant_type is unsupported_grant_type", func(t *testing.T) {
		status, body, _ := e.tokenRequest(t, app, url.Values{"grant_type": {"password"}})
		expectOAuthError(t, status, body, http.StatusBadRequest, "unsupported_grant_type")
	})
	t.Run("ensure a missing grant_type is invalid_request", func(t *testing.T) {
		status, body, _ := e.tokenRequest(t, app, url.Values{"code": {code()}})
		expectOAuthError(t, status, body, http.StatusBadRequest, "invalid_request")
	})
	t.Run("ensure client credentials in a JSON body work", func(t *testing.T) {
		body, _ := json.Marshal(map[string]string{"grant_type": "authorization_code", "code": code(), "redirect_uri": app.redirectURI,
			"client_id": app.clientID, "client_secret": app.secret})
		r := e.do(t, http.MethodPost, "/api/v1/oauth/token", http.Header{"Content-Type": {"application/json"}}, string(body))
		if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("ensure another application cannot spend a code", func(t *testing.T) {
		_, pat := e.account(t, "mallory@example.com")
		other := e.registerApp(t, pat, app.redirectURI)
		c := code()
		status, body := e.exchangeCode(t, other, c, nil)
		expectOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
		if status, _ := e.exchangeCode(t, app, c, nil); status != http.StatusOK {
			t.Fatalf("the rightful client could not use its code after another tried: %d", status)
		}
	})
}

func TestOAuthApps(t *testing.T) {
	e := newEnv(t)
	_, pat := e.account(t, "alice@example.com")
	_, bobPAT := e.account(t, "bob@example.com")
	ctx := context.Background()
	c := e.client(t, pat)

	t.Run("ensure bad redirect URIs are refused with VALIDATION_FAILED", func(t *testing.T) {
		for _, uri := range []string{"http://bot.example.com/cb", "https://bot.example.com/cb#frag", "/relative", "ftp://bot.example.com/",
			"https://user:pass@bot.example.com/cb", "javascript:alert(1)", "https://", "https://bot.example.com/" + strings.Repeat("a", 2000)} {
			resp, err := c.CreateOAuthAppWithResponse(ctx, api.CreateOAuthAppRequest{Name: "x", RedirectUris: []string{uri}})
			if err != nil || resp.StatusCode() != http.StatusBadRequest || resp.JSON400 == nil || resp.JSON400.Error.Code != api.CodeValidationFailed {
				t.Fatalf("%q: %v %d %s", uri, err, resp.StatusCode(), resp.Body)
			}
		}
	})
	t.Run("ensure loopback http redirect URIs are accepted", func(t *testing.T) {
		for _, uri := range []string{"http://localhost:8000/cb", "http://127.0.0.1/cb", "http://[::1]:1234/cb"} {
			if resp, err := c.CreateOAuthAppWithResponse(ctx, api.CreateOAuthAppRequest{Name: "x", RedirectUris: []string{uri}}); err != nil || resp.JSON200 == nil {
				t.Fatalf("%q: %v %s", uri, err, resp.Body)
			}
		}
	})
	t.Run("ensure no redirect URI, too many, or a duplicate is refused", func(t *testing.T) {
		many := make([]string, 11)
		for i := range many {
			many[i] = "https://bot.example.com/cb" + strings.Repeat("x", i)
		}
		for _, uris := range [][]string{{}, many, {"https://a.example/cb", "https://a.example/cb"}} {
			r, _ := c.CreateOAuthAppWithResponse(ctx, api.CreateOAuthAppRequest{Name: "x", RedirectUris: uris})
			if r.StatusCode() != http.StatusBadRequest {
				t.Fatalf("%v: %d", uris, r.StatusCode())
			}
		}
	})

	app := e.registerApp(t, pat, "https://bot.example.com/callback")
	t.Run("ensure the client secret is shown once and stored only as a hash", func(t *testing.T) {
		list, err := c.ListOAuthAppsWithResponse(ctx)
		if err != nil || list.JSON200 == nil || strings.Contains(string(list.Body), app.secret) || strings.Contains(string(list.Body), "client_secret") {
			t.Fatalf("%v %s", err, list.Body)
		}
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM oauth_apps a WHERE a::text LIKE '%' || $1 || '%'`, app.secret[5:]).Scan(&n); err != nil || n != 0 {
			t.Fatalf("raw secret stored in %d rows (%v)", n, err)
		}
	})
	t.Run("ensure another account can neither rotate nor delete the app: 404", func(t *testing.T) {
		id := uuidOf(t, app.clientID)
		if r, _ := e.client(t, bobPAT).RotateOAuthAppSecretWithResponse(ctx, id); r.StatusCode() != http.StatusNotFound {
			t.Fatalf("rotate: %d", r.StatusCode())
		}
		if r, _ := e.client(t, bobPAT).DeleteOAuthAppWithResponse(ctx, id); r.StatusCode() != http.StatusNotFound {
			t.Fatalf("delete: %d", r.StatusCode())
		}
	})
	t.Run("ensure rotating the secret retires the old one at once", func(t *testing.T) {
		r, err := c.RotateOAuthAppSecretWithResponse(ctx, uuidOf(t, app.clientID))
		if err != nil || r.JSON200 == nil || r.JSON200.Data.ClientSecret == app.secret {
			t.Fatalf("%v %s", err, r.Body)
		}
		status, body, _ := e.tokenRequest(t, app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"hzrt_x"}})
		expectOAuthError(t, status, body, http.StatusUnauthorized, "invalid_client")
		app.secret = r.JSON200.Data.ClientSecret
		status, body, _ = e.tokenRequest(t, app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"hzrt_x"}})
		expectOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("ensure deleting an app stops its tokens at once", func(t *testing.T) {
		cookie, csrf := e.login(t, "alice@example.com")
		code := e.consent(t, cookie, csrf, app, nil, "approve").Query().Get("code")
		_, tokens := e.exchangeCode(t, app, code, nil)
		if r, err := c.DeleteOAuthAppWithResponse(ctx, uuidOf(t, app.clientID)); err != nil || r.JSON200 == nil || r.JSON200.Data != api.Deleted {
			t.Fatalf("delete: %v", err)
		}
		expectError(t, e.do(t, http.MethodGet, "/api/v1/tokens", bearer(tokens["access_token"].(string)), ""), http.StatusUnauthorized, api.CodeUnauthorized)
	})
}

func TestOAuthSecretsStoredOnlyAsHashes(t *testing.T) {
	e, _, cookie, csrf, app := oauthSetup(t)
	code := e.consent(t, cookie, csrf, app, nil, "approve").Query().Get("code")
	_, tokens := e.exchangeCode(t, app, code, nil)
	ctx := context.Background()
	for name, secret := range map[string]string{"client secret": app.secret, "code": code,
		"access token": tokens["access_token"].(string), "refresh token": tokens["refresh_token"].(string)} {
		for _, table := range []string{"oauth_apps", "oauth_grants", "oauth_codes", "oauth_access_tokens", "oauth_refresh_tokens"} {
			var n int
			if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM `+table+` t WHERE t::text LIKE '%' || $1 || '%'`, secret[5:]).Scan(&n); err != nil || n != 0 {
				t.Fatalf("ensure the %s is not stored: found in %s (%v)", name, table, err)
			}
		}
	}
}
