package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hzel/hzel/gen/api"
	"github.com/hzel/hzel/server/browsertest"
	"github.com/hzel/hzel/server/token"
)

// TestAccountPageInBrowser is a person in a real browser: log in, create a token on the
// account page, see it listed, revoke it, and the token stops working on the API.
func TestAccountPageInBrowser(t *testing.T) {
	e := newEnv(t)
	e.account(t, "alice@example.com")
	if err := SetPassword(context.Background(), e.pool, "alice@example.com", testPassword); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	browserCtx, _ := browsertest.Start(t, ctx)
	tab, cancelTab := chromedp.NewContext(browserCtx)
	defer cancelTab()

	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	if err := chromedp.Do(tab,
		chromedp.Navigate(e.srv.URL+"/account"),
		chromedp.WaitVisible(css(`#email`)),
		chromedp.SendKeys(css(`#email`), "alice@example.com"),
		chromedp.SendKeys(css(`#password`), testPassword),
		chromedp.Click(css(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(css(`#name`)),
	); err != nil {
		t.Fatalf("ensure logging in lands on the account page: %v", err)
	}
	if title, err := chromedp.Run(tab, chromedp.Title()); err != nil || title != "Your tokens · hzel" {
		t.Fatalf("after login the page is %q (%v)", title, err)
	}

	if err := chromedp.Do(tab,
		chromedp.SendKeys(css(`#name`), "made in a browser"),
		chromedp.Click(css(`form[action="/account/tokens"] button[type="submit"]`)),
		chromedp.WaitVisible(css(`#new-token`)),
	); err != nil {
		t.Fatalf("ensure a token can be created on the page: %v", err)
	}
	raw, err := chromedp.Run(tab, chromedp.Text(css(`#new-token`)))
	if err != nil {
		t.Fatal(err)
	}
	list, err := chromedp.Run(tab, chromedp.Text(css(`ul.tokens`)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := token.Parse(raw); err != nil || !strings.Contains(list, "made in a browser") || !strings.Contains(list, raw[:13]) {
		t.Fatalf("shown token %q (%v); list %q", raw, err, list)
	}
	if r := e.do(t, http.MethodGet, "/api/v1/tokens", bearer(raw), ""); r.status != http.StatusOK {
		t.Fatalf("the token made in the browser does not work: %d", r.status)
	}

	if err := chromedp.Do(tab,
		chromedp.Click(css(`button[aria-label="Revoke made in a browser"]`)),
		chromedp.WaitVisible(css(`.notice`)),
	); err != nil {
		t.Fatalf("ensure a token can be revoked on the page: %v", err)
	}
	notice, err := chromedp.Run(tab, chromedp.Text(css(`.notice`)))
	if err != nil {
		t.Fatal(err)
	}
	page, err := chromedp.Run(tab, chromedp.Text(css(`main`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notice, "Token revoked") || strings.Contains(page, "made in a browser") {
		t.Fatalf("notice %q, page %q", notice, page)
	}
	expectError(t, e.do(t, http.MethodGet, "/api/v1/tokens", bearer(raw), ""), http.StatusUnauthorized, api.CodeUnauthorized)
}

// TestOAuthConsentInBrowser is the authorization code flow as a person sees it: the
// application's link, the login page, the consent page, Approve, and back to the application
// with a code that it exchanges for tokens.
func TestOAuthConsentInBrowser(t *testing.T) {
	e := newEnv(t)
	_, pat := e.account(t, "alice@example.com")
	if err := SetPassword(context.Background(), e.pool, "alice@example.com", testPassword); err != nil {
		t.Fatal(err)
	}
	codes := make(chan string, 1)
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("state") == "xyz" {
			codes <- r.URL.Query().Get("code")
		}
		fmt.Fprintln(w, "back at the application")
	}))
	defer callback.Close()
	app := e.registerApp(t, pat, callback.URL+"/callback")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	browserCtx, _ := browsertest.Start(t, ctx)
	tab, cancelTab := chromedp.NewContext(browserCtx)
	defer cancelTab()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	if err := chromedp.Do(tab,
		chromedp.Navigate(e.srv.URL+authorizeQuery(app, nil)),
		chromedp.WaitVisible(css(`#email`)),
		chromedp.SendKeys(css(`#email`), "alice@example.com"),
		chromedp.SendKeys(css(`#password`), testPassword),
		chromedp.Click(css(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(css(`button[value="approve"]`)),
	); err != nil {
		t.Fatalf("ensure the login page leads back to the consent page: %v", err)
	}
	heading, err := chromedp.Run(tab, chromedp.Text(css(`h1`)))
	if err != nil || heading != "Authorize Deploy bot?" {
		t.Fatalf("consent page heading %q (%v)", heading, err)
	}
	if err := chromedp.Do(tab, chromedp.Click(css(`button[value="approve"]`))); err != nil {
		t.Fatalf("approve: %v", err)
	}
	var code string
	select {
	case code = <-codes:
	case <-ctx.Done():
		t.Fatal("the browser never came back to the application with a code")
	}
	status, tokens := e.exchangeCode(t, app, code, nil)
	if status != http.StatusOK || !strings.HasPrefix(fmt.Sprint(tokens["access_token"]), "hzat_") {
		t.Fatalf("ensure the code from the browser gets tokens: %d %v", status, tokens)
	}
}
