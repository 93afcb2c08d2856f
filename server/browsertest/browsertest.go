// Package browsertest runs Debian's headless Chromium for tests, without letting it send
// anything off this machine.
package browsertest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// Start launches Chromium for the rest of t and returns a browser context to open tabs in.
// Chromium's own background traffic (sign-in, updates), which it sends whatever its flags
// say, goes to the returned proxy, which refuses it. Without chromium the test fails with the
// command that installs it; it never skips.
func Start(t *testing.T, ctx context.Context) (context.Context, *RefusingProxy) {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("this test drives Debian's chromium, which is not installed: run `apt-get install chromium` (%v)", err)
	}
	own := NewRefusingProxy(t)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root, where Chromium's sandbox cannot start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// /dev/shm is small in containers, and Chromium crashes when it fills.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.ProxyServer(own.URL),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	return browserCtx, own
}

// RefusingProxy is an HTTP proxy that records every request and forwards none.
type RefusingProxy struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

// NewRefusingProxy starts a RefusingProxy for the rest of t.
func NewRefusingProxy(t *testing.T) *RefusingProxy {
	t.Helper()
	p := &RefusingProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+r.Host)
		p.mu.Unlock()
		http.Error(w, "no network in tests", http.StatusForbidden)
	}))
	t.Cleanup(p.Close)
	return p
}

// Requests lists what the proxy refused, as "METHOD host".
func (p *RefusingProxy) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}
