package docs_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/hzel/hzel/server/browsertest"
	"github.com/hzel/hzel/server/docs"
)

// TestReferenceInBrowser ensures that a real browser renders the reference, both /docs and
// the static file, with the token operations on the page, no error, and no request that
// fails or leaves the page's origin: no CDN, no web font, no telemetry.
func TestReferenceInBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	browserCtx, chromiumOwn := browsertest.Start(t, ctx)

	// The pages run side by side, in tabs of their own, to halve the time spent watching.
	t.Run("pages", func(t *testing.T) {
		t.Run("served", func(t *testing.T) {
			t.Parallel()
			srv := newDocsServer(t)
			checkInBrowser(t, browserCtx, srv.URL+docs.PagePath)
		})
		t.Run("static", func(t *testing.T) {
			t.Parallel()
			checkStaticInBrowser(t, browserCtx)
		})
	})

	if hosts := chromiumOwn.Requests(); len(hosts) > 0 {
		t.Logf("Chromium's own requests, refused: %v", hosts)
	}
}

// checkStaticInBrowser checks the file of WriteStatic as checkInBrowser checks /docs.
func checkStaticInBrowser(t *testing.T, browserCtx context.Context) {
	var page bytes.Buffer
	if err := docs.WriteStatic(&page); err != nil {
		t.Fatalf("WriteStatic: %v", err)
	}
	// Served alone, so that any request it made, even a same-origin one, would fail.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/index.html" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page.Bytes())
	}))
	defer srv.Close()
	checkInBrowser(t, browserCtx, srv.URL+"/index.html")
}

// recordViolations runs in each document before its scripts, and keeps what the
// Content-Security-Policy refused, as the page itself is told of it.
const recordViolations = `window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", e => window.__cspViolations.push(
	{blockedURI: e.blockedURI, directive: e.effectiveDirective, source: e.sourceFile}));`

// cspViolation is what recordViolations keeps of one violation.
type cspViolation struct {
	BlockedURI string `json:"blockedURI"`
	Directive  string `json:"directive"`
	Source     string `json:"source"`
}

// checkInBrowser opens pageURL in a fresh browser context, opens the Tokens section of the
// reference as a reader would, and fails on any sign of trouble.
func checkInBrowser(t *testing.T, browserCtx context.Context, pageURL string) {
	t.Helper()
	origin, err := url.Parse(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	w := &pageWatch{origin: origin.Scheme + "://" + origin.Host, urls: map[network.RequestID]string{}}
	// Everything the page, its workers included, asks of another origin goes to this proxy
	// (loopback addresses bypass it), so the test sees requests that no event reports.
	offsite := browsertest.NewRefusingProxy(t)
	tabCtx, cancel := chromedp.NewContext(browserCtx,
		chromedp.WithNewBrowserContext(func(p *target.CreateBrowserContextParams) { p.ProxyServer = offsite.URL }),
		// WithListener sees the tab's events from its first one on.
		chromedp.WithListener(w.observe),
	)
	defer cancel()

	start := time.Now()
	if _, err := chromedp.Call(tabCtx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: recordViolations}); err != nil {
		t.Fatalf("install the CSP recorder: %v", err)
	}
	waitCtx, cancelWait := context.WithTimeout(tabCtx, 20*time.Second)
	defer cancelWait()
	// Redoc 3 shows one section at a time: open Tokens in the sidebar, as a reader would.
	tokens := chromedp.CSS(`[data-component-name="Menu/MenuItem"] span[data-text="Tokens"]`)
	if err := chromedp.Do(waitCtx,
		chromedp.Navigate(pageURL),
		chromedp.WaitVisible(tokens),
		chromedp.Click(tokens),
	); err != nil {
		t.Fatalf("%s: no Tokens section in the sidebar within 20 s (%v); problems so far:\n%s",
			pageURL, err, strings.Join(w.problemList(), "\n"))
	}
	want := []string{"/api/v1/tokens", "/api/v1/tokens/{id}"}
	for _, op := range tokenOperations {
		want = append(want, op.summary)
	}
	rendered := fmt.Sprintf(`(() => { const text = document.querySelector("redoc")?.innerText ?? "";
		return %s.every(s => text.includes(s)); })()`, jsStrings(want))
	if _, err := chromedp.Run(waitCtx, chromedp.Poll[bool](rendered, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		text, _ := chromedp.Run(tabCtx, chromedp.Evaluate[string](`document.querySelector("redoc")?.innerText ?? ""`))
		t.Fatalf("%s: the Tokens section does not show all of %q (%v); page text:\n%s", pageURL, want, err, text)
	}
	shown := time.Now()
	t.Logf("%s: Tokens section shown after %v", pageURL, shown.Sub(start).Round(time.Millisecond))

	// What Redoc asks for after it has drawn counts too. Its telemetry, were it on, would
	// leave in a batch 5 s after Redoc starts: watch past that.
	w.waitQuiet(tabCtx, time.Second, shown.Add(telemetryBatch+time.Second), shown.Add(15*time.Second))
	violations, err := chromedp.Run(tabCtx, chromedp.Evaluate[[]cspViolation](`window.__cspViolations`))
	if err != nil {
		t.Fatalf("read the CSP violations: %v", err)
	}
	problems := w.problemList()
	for _, v := range violations {
		// Redoc tries eval to run its search index in a worker, and searches on the page
		// when refused. Anything else refused means that the page wanted something more.
		if v.BlockedURI == "eval" && v.Directive == "script-src" {
			continue
		}
		problems = append(problems, fmt.Sprintf("CSP refused %s for %s (from %s)", v.BlockedURI, v.Directive, v.Source))
	}
	for _, r := range offsite.Requests() {
		problems = append(problems, "request to another host: "+r)
	}
	if len(problems) > 0 {
		t.Errorf("%s: %d problems:\n%s", pageURL, len(problems), strings.Join(problems, "\n"))
	}
	t.Logf("%s: requests: %v", pageURL, w.requestList())
}

// jsStrings writes ss as a JavaScript array literal.
func jsStrings(ss []string) string {
	quoted := make([]string, len(ss))
	for i, s := range ss {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// pageWatch collects what a tab did. observe runs on the tab's event loop: it must be quick
// and must not call the browser.
type pageWatch struct {
	origin string

	mu           sync.Mutex
	urls         map[network.RequestID]string
	requests     []string
	problems     []string
	inflight     int
	lastActivity time.Time
}

func (w *pageWatch) observe(ev any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		u := ev.Request.URL
		if _, seen := w.urls[ev.RequestID]; !seen { // a redirect keeps the request's id
			w.inflight++
		}
		w.urls[ev.RequestID] = u
		w.requests = append(w.requests, shorten(u))
		w.lastActivity = time.Now()
		if !w.sameOrigin(u) {
			w.problems = append(w.problems, fmt.Sprintf("request to another origin: %s (%s)", u, ev.Type))
		}
	case *network.EventResponseReceived:
		if ev.Response.Status >= 400 {
			w.problems = append(w.problems, fmt.Sprintf("%s answered %d", ev.Response.URL, ev.Response.Status))
		}
	case *network.EventLoadingFinished:
		w.finish(ev.RequestID)
	case *network.EventLoadingFailed:
		w.finish(ev.RequestID)
		w.problems = append(w.problems, fmt.Sprintf("request failed: %s: %s %s",
			shorten(w.urls[ev.RequestID]), ev.ErrorText, ev.BlockedReason))
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		w.problems = append(w.problems, fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber, text))
	case *runtime.EventConsoleAPICalled:
		switch ev.Type {
		case runtime.ConsoleAPICalledTypeError, runtime.ConsoleAPICalledTypeAssert, runtime.ConsoleAPICalledTypeWarning:
			var args []string
			for _, a := range ev.Args {
				if a.Description != "" {
					args = append(args, a.Description)
				} else {
					args = append(args, string(a.Value))
				}
			}
			w.problems = append(w.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *log.EventEntryAdded:
		// CSP violations are judged from the page's own reports, which say what was
		// refused; the browser's log says it in prose.
		if e := ev.Entry; e.Source != log.EntrySourceSecurity &&
			(e.Level == log.EntryLevelError || e.Level == log.EntryLevelWarning) {
			w.problems = append(w.problems, fmt.Sprintf("browser %s (%s): %s %s", e.Level, e.Source, e.Text, e.URL))
		}
	}
}

func (w *pageWatch) finish(id network.RequestID) {
	if _, ok := w.urls[id]; ok && w.inflight > 0 {
		w.inflight--
	}
	w.lastActivity = time.Now()
}

// sameOrigin accepts the page's origin, and data: and blob: URLs, which never reach a
// network (a blob: URL carries its creator's origin, checked too).
func (w *pageWatch) sameOrigin(raw string) bool {
	if strings.HasPrefix(raw, "data:") {
		return true
	}
	raw = strings.TrimPrefix(raw, "blob:")
	u, err := url.Parse(raw)
	return err == nil && u.Scheme+"://"+u.Host == w.origin
}

// telemetryBatch is how long Redoc's telemetry (OpenTelemetry's BatchSpanProcessor) holds
// its first events before sending them.
const telemetryBatch = 5 * time.Second

// waitQuiet returns once it is past notBefore and no request has been in flight for quiet,
// or at deadline.
func (w *pageWatch) waitQuiet(ctx context.Context, quiet time.Duration, notBefore, deadline time.Time) {
	for time.Now().Before(deadline) {
		w.mu.Lock()
		idle := w.inflight == 0 && time.Since(w.lastActivity) >= quiet
		w.mu.Unlock()
		if idle && time.Now().After(notBefore) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (w *pageWatch) problemList() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.problems...)
}

func (w *pageWatch) requestList() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.requests...)
}

// shorten keeps long data: URLs from drowning a message.
func shorten(u string) string {
	if len(u) > 120 {
		return u[:100] + "…"
	}
	return u
}
