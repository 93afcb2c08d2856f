// Package docs serves hzel's API reference: the contract as /openapi.json and /openapi.yaml,
// and /docs, a page that renders it with Redoc. Everything the page needs comes from this
// server; it makes no request to any other origin, so it works offline and leaks nothing.
package docs

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// RedocVersion is the version of the npm package redoc whose standalone bundle is embedded.
const RedocVersion = "3.0.1"

// Paths where Register serves the reference.
const (
	// PagePath is the HTML page that renders the reference.
	PagePath = "/docs"
	// JSONPath is the contract as JSON; the page loads it from there.
	JSONPath = "/openapi.json"
	// YAMLPath is the contract as YAML.
	YAMLPath = "/openapi.yaml"
	// BundlePath is Redoc's script. It names the version, so it can be cached for good.
	BundlePath = "/docs/redoc-" + RedocVersion + ".standalone.js"
)

//go:embed assets/redoc.standalone.js
var redocBundle []byte

// offlineRewrites replace the URLs on other origins that Redoc would load by itself. Each
// must match once, so that a Redoc upgrade that moves one fails loudly (Register and
// WriteStatic return an error) rather than letting the request through.
var offlineRewrites = []struct{ old, new string }{
	// The sidebar's "API docs by Redocly" badge shows Redocly's logo from their CDN; these
	// show the name as text instead, at the sizes the badge gives the image.
	{"https://cdn.redoc.ly/redoc/logo-mini-full.svg", svgText(44, 12, 10, "Redocly")},
	{"https://cdn.redoc.ly/redoc/logo-mini.svg", svgText(10, 14, 12, "R")},
}

// svgText is a data: URL of an SVG image that shows text in the badge's colours.
func svgText(width, height, size int, text string) string {
	svg := fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d">`+
		`<text x="0" y="%d" font-family="sans-serif" font-size="%d" font-weight="600" fill="#0044d4">%s</text></svg>`,
		width, height, height-2, size, text)
	return "data:image/svg+xml," + strings.NewReplacer(
		"<", "%3C", ">", "%3E", "#", "%23", `"`, "%22", " ", "%20").Replace(svg)
}

// redocScript is the embedded bundle with offlineRewrites applied.
var redocScript = sync.OnceValues(func() ([]byte, error) {
	script := redocBundle
	for _, r := range offlineRewrites {
		if n := bytes.Count(script, []byte(r.old)); n != 1 {
			return nil, fmt.Errorf("Redoc %s: found %q %d times, want once: review offlineRewrites", RedocVersion, r.old, n)
		}
		script = bytes.Replace(script, []byte(r.old), []byte(r.new), 1)
	}
	return script, nil
})

// pageCSP is the Content-Security-Policy of /docs. Redoc needs inline styles
// (styled-components injects <style> elements), a data: font (its tree-view icons) and
// data: images (the badge of offlineRewrites). It probes for eval, to run its search index
// in a worker; refused, it searches on the page instead. The page shares its origin with
// the API, so it gets no 'unsafe-eval'.
var pageCSP = strings.Join([]string{
	"default-src 'self'",
	"style-src 'self' 'unsafe-inline'",
	"font-src 'self' data:",
	"img-src 'self' data:",
	"object-src 'none'",
	"base-uri 'none'",
	"form-action 'none'",
	"frame-ancestors 'none'",
}, "; ")

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="icon" href="data:,">
</head>
<body>
{{/* Redoc 3 reports usage to Redocly unless told not to; the CSP would block that anyway. */ -}}
<redoc spec-url="{{.SpecURL}}" disable-telemetry="true"></redoc>
<script type="module" src="{{.BundleURL}}"></script>
</body>
</html>
`))

// Register adds the reference's routes to e. They need no authentication.
func Register(e *echo.Echo) error {
	c, err := loadContract()
	if err != nil {
		return err
	}
	script, err := redocScript()
	if err != nil {
		return err
	}
	var page bytes.Buffer
	err = pageTemplate.Execute(&page, struct{ Title, SpecURL, BundleURL string }{c.title, JSONPath, BundlePath})
	if err != nil {
		return fmt.Errorf("render %s: %w", PagePath, err)
	}

	bundle := newAsset("text/javascript; charset=utf-8", script)
	html := newAsset("text/html; charset=utf-8", page.Bytes())
	specJSON := newAsset("application/json", c.json)
	specYAML := newAsset("application/yaml", c.yaml)

	// HEAD too, for link checkers and monitors.
	get := func(path string, h echo.HandlerFunc) {
		e.Match([]string{http.MethodGet, http.MethodHead}, path, h)
	}
	get(PagePath, func(ctx echo.Context) error {
		h := ctx.Response().Header()
		h.Set("Content-Security-Policy", pageCSP)
		// The page links out (to Redocly, for one); those sites need not learn where it lives.
		h.Set("Referrer-Policy", "no-referrer")
		return html.serve(ctx, "no-cache")
	})
	get(PagePath+"/", func(ctx echo.Context) error {
		return ctx.Redirect(http.StatusMovedPermanently, PagePath)
	})
	get(BundlePath, func(ctx echo.Context) error {
		return bundle.serve(ctx, "public, max-age=31536000, immutable")
	})
	// The spec changes with every deployment that changes the contract: revalidate each time.
	get(JSONPath, func(ctx echo.Context) error { return specJSON.serve(ctx, "no-cache") })
	get(YAMLPath, func(ctx echo.Context) error { return specYAML.serve(ctx, "no-cache") })
	return nil
}

// asset is a response body fixed at start, served with an ETag and, where the client accepts
// it, gzip-compressed: the Redoc bundle shrinks from 2.3 MB to about 650 kB.
type asset struct {
	contentType string
	body        []byte
	etag        string

	gzipOnce sync.Once
	gzipBody []byte
}

func newAsset(contentType string, body []byte) *asset {
	sum := sha256.Sum256(body)
	return &asset{contentType: contentType, body: body, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// gzipped compresses the body on first use rather than at start, so that servers and tests
// that never serve the bundle do not pay for it.
func (a *asset) gzipped() []byte {
	a.gzipOnce.Do(func() {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		// Writing to a bytes.Buffer cannot fail.
		_, _ = zw.Write(a.body)
		_ = zw.Close()
		if b.Len() < len(a.body) {
			a.gzipBody = b.Bytes()
		}
	})
	return a.gzipBody
}

func (a *asset) serve(c echo.Context, cacheControl string) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, a.contentType)
	h.Set("Cache-Control", cacheControl)
	h.Set(echo.HeaderXContentTypeOptions, "nosniff")
	h.Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
	body, etag := a.body, a.etag
	if acceptsGzip(c.Request().Header.Values(echo.HeaderAcceptEncoding)) {
		if z := a.gzipped(); z != nil {
			// Each encoding is its own representation, with its own entity tag (RFC 9110 §8.8.3).
			body, etag = z, strings.TrimSuffix(a.etag, `"`)+`-gzip"`
			h.Set(echo.HeaderContentEncoding, "gzip")
		}
	}
	h.Set("ETag", etag)
	// ServeContent answers conditional, HEAD and range requests.
	http.ServeContent(c.Response(), c.Request(), "", time.Time{}, bytes.NewReader(body))
	return nil
}

// acceptsGzip reports whether an Accept-Encoding header lists gzip with a non-zero weight.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(item, ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q, found := strings.CutPrefix(strings.ReplaceAll(strings.TrimSpace(params), " ", ""), "q=")
			return !found || strings.Trim(q, "0.") != ""
		}
	}
	return false
}
