package server

import (
	"context"
	"net/http"
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
