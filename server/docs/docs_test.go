package docs_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/hzel/hzel/gen/apiserver"
	"github.com/hzel/hzel/server/docs"
)

// tokenOperations are the operations the reference must show, by id and by the summary that
// Redoc prints for each.
var tokenOperations = []struct{ id, summary string }{
	{"CreateToken", "Create a PAT"},
	{"ListTokens", "List your PATs"},
	{"RevokeToken", "Revoke a PAT"},
}

// newDocsServer serves only the reference: it needs no database.
func newDocsServer(t *testing.T) *httptest.Server {
	t.Helper()
	e := echo.New()
	if err := docs.Register(e); err != nil {
		t.Fatalf("Register: %v", err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

// get fetches path with the given request headers, as name-value pairs, and returns the
// response with its body read.
func get(t *testing.T, srv *httptest.Server, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	return do(t, srv, http.MethodGet, path, header...)
}

func do(t *testing.T, srv *httptest.Server, method, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{
		// The default transport would ask for gzip itself and hide the encoding from the test.
		Transport: &http.Transport{DisableCompression: true, DisableKeepAlives: true},
		// Redirects are answers to check, not to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, body
}

func wantHeader(t *testing.T, resp *http.Response, name, want string) {
	t.Helper()
	if got := resp.Header.Get(name); got != want {
		t.Errorf("%s %s: %s = %q, want %q", resp.Request.Method, resp.Request.URL.Path, name, got, want)
	}
}

// loadSpec parses and validates an OpenAPI document, JSON or YAML.
func loadSpec(t *testing.T, data []byte) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatalf("parse spec: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the served spec is not valid OpenAPI: %v", err)
	}
	return doc
}

func TestSpecJSON(t *testing.T) {
	srv := newDocsServer(t)
	resp, body := get(t, srv, docs.JSONPath)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	wantHeader(t, resp, "Content-Type", "application/json")
	wantHeader(t, resp, "X-Content-Type-Options", "nosniff")
	wantHeader(t, resp, "Cache-Control", "no-cache")

	t.Run("ensure it lists the token operations", func(t *testing.T) {
		doc := loadSpec(t, body)
		ops := map[string]string{}
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				ops[op.OperationID] = method + " " + path
			}
		}
		for _, want := range tokenOperations {
			if _, ok := ops[want.id]; !ok {
				t.Errorf("operation %s missing; have %v", want.id, ops)
			}
		}
	})

	t.Run("ensure it is the spec the validator uses", func(t *testing.T) {
		embedded, err := apiserver.GetSwagger()
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(embedded)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := json.Compact(&got, body); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Error("/openapi.json differs from apiserver.GetSwagger()")
		}
	})
}

func TestSpecYAML(t *testing.T) {
	srv := newDocsServer(t)
	resp, body := get(t, srv, docs.YAMLPath)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	wantHeader(t, resp, "Content-Type", "application/yaml")
	wantHeader(t, resp, "X-Content-Type-Options", "nosniff")
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		t.Error("/openapi.yaml is JSON syntax, want block-style YAML")
	}

	t.Run("ensure it is the same document as the JSON", func(t *testing.T) {
		_, jsonBody := get(t, srv, docs.JSONPath)
		fromYAML, err := json.Marshal(loadSpec(t, body))
		if err != nil {
			t.Fatal(err)
		}
		fromJSON, err := json.Marshal(loadSpec(t, jsonBody))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fromYAML, fromJSON) {
			t.Errorf("the YAML and the JSON differ:\nYAML: %s\nJSON: %s", fromYAML, fromJSON)
		}
	})
}

// referenceAttr finds every attribute of the page that makes the browser fetch something or
// names a URL. The page is ours and small, so a pattern is enough to read it.
var referenceAttr = regexp.MustCompile(`\s(src|href|spec-url|action|srcset|poster|data)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)

func TestDocsPage(t *testing.T) {
	srv := newDocsServer(t)
	resp, body := get(t, srv, docs.PagePath)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	wantHeader(t, resp, "Content-Type", "text/html; charset=utf-8")
	wantHeader(t, resp, "X-Content-Type-Options", "nosniff")
	wantHeader(t, resp, "Cache-Control", "no-cache")
	wantHeader(t, resp, "Referrer-Policy", "no-referrer")
	csp := resp.Header.Get("Content-Security-Policy")
	for _, directive := range []string{"default-src 'self'", "object-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, directive) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, directive)
		}
	}
	if strings.Contains(csp, "script-src") {
		t.Errorf("Content-Security-Policy %q relaxes script-src; scripts must come from this origin only", csp)
	}

	t.Run("ensure it references only same-origin assets, which are served", func(t *testing.T) {
		refs := referenceAttr.FindAllStringSubmatch(string(body), -1)
		if len(refs) == 0 {
			t.Fatalf("no references found in:\n%s", body)
		}
		seen := map[string]bool{}
		for _, m := range refs {
			attr, ref := m[1], strings.Trim(m[2], `"'`)
			seen[ref] = true
			switch {
			case ref == "data:,": // the empty favicon, which keeps the browser from asking for one
			case strings.HasPrefix(ref, "/") && !strings.HasPrefix(ref, "//"):
				resp, _ := get(t, srv, ref)
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s=%q answers %d", attr, ref, resp.StatusCode)
				}
			default:
				t.Errorf("%s=%q is not a same-origin path", attr, ref)
			}
		}
		for _, want := range []string{docs.JSONPath, docs.BundlePath} {
			if !seen[want] {
				t.Errorf("the page does not reference %s", want)
			}
		}
	})

	t.Run("ensure it turns Redoc's telemetry off", func(t *testing.T) {
		if !bytes.Contains(body, []byte(`disable-telemetry="true"`)) {
			t.Errorf("no disable-telemetry attribute in:\n%s", body)
		}
	})

	t.Run("ensure /docs/ redirects to /docs", func(t *testing.T) {
		resp, _ := get(t, srv, docs.PagePath+"/")
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != docs.PagePath {
			t.Errorf("status %d, Location %q; want 301 to %s", resp.StatusCode, resp.Header.Get("Location"), docs.PagePath)
		}
	})

	t.Run("ensure HEAD answers without a body", func(t *testing.T) {
		resp, body := do(t, srv, http.MethodHead, docs.PagePath)
		if resp.StatusCode != http.StatusOK || len(body) != 0 {
			t.Errorf("status %d with %d bytes, want 200 and none", resp.StatusCode, len(body))
		}
	})
}

func TestBundle(t *testing.T) {
	srv := newDocsServer(t)
	resp, plain := get(t, srv, docs.BundlePath)
	identityETag := resp.Header.Get("ETag")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	wantHeader(t, resp, "Content-Type", "text/javascript; charset=utf-8")
	wantHeader(t, resp, "X-Content-Type-Options", "nosniff")
	wantHeader(t, resp, "Cache-Control", "public, max-age=31536000, immutable")
	wantHeader(t, resp, "Content-Encoding", "")

	t.Run("ensure the bundle is the version the path names", func(t *testing.T) {
		head := string(plain[:min(len(plain), 300)])
		if !strings.Contains(head, "Version: "+docs.RedocVersion+"\n") {
			t.Errorf("the bundle's header does not say Version: %s:\n%s", docs.RedocVersion, head)
		}
	})

	t.Run("ensure the bundle no longer names Redocly's CDN", func(t *testing.T) {
		if i := bytes.Index(plain, []byte("cdn.redoc.ly")); i >= 0 {
			t.Errorf("the served bundle still loads from cdn.redoc.ly: …%s…", plain[max(0, i-80):i+60])
		}
	})

	t.Run("ensure it is compressed for clients that accept gzip", func(t *testing.T) {
		resp, body := get(t, srv, docs.BundlePath, "Accept-Encoding", "br, gzip")
		wantHeader(t, resp, "Content-Encoding", "gzip")
		wantHeader(t, resp, "Vary", "Accept-Encoding")
		if len(body) >= len(plain)/2 {
			t.Errorf("compressed to %d bytes from %d, want less than half", len(body), len(plain))
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(unzipped, plain) {
			t.Error("the gzip body does not decompress to the bundle")
		}
		if etag := resp.Header.Get("ETag"); etag == "" || etag == identityETag {
			t.Errorf("ETag %q: each encoding needs its own", resp.Header.Get("ETag"))
		}
	})

	t.Run("ensure gzip;q=0 is respected", func(t *testing.T) {
		resp, _ := get(t, srv, docs.BundlePath, "Accept-Encoding", "gzip;q=0")
		wantHeader(t, resp, "Content-Encoding", "")
	})

	t.Run("ensure a revalidation with the ETag answers 304", func(t *testing.T) {
		again, body := get(t, srv, docs.BundlePath, "If-None-Match", identityETag)
		if again.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("status %d with %d bytes, want 304 and none", again.StatusCode, len(body))
		}
	})
}

func TestWriteStatic(t *testing.T) {
	var out bytes.Buffer
	if err := docs.WriteStatic(&out); err != nil {
		t.Fatalf("WriteStatic: %v", err)
	}
	page := out.String()
	const open, end = `<script type="module">`, `</script>`
	i, j := strings.Index(page, open), strings.LastIndex(page, end)
	if i < 0 || j < i {
		t.Fatal("no inline module script in the static page")
	}
	script := page[i+len(open) : j]
	markup := page[:i] + page[j+len(end):]

	t.Run("ensure the markup references nothing outside the file", func(t *testing.T) {
		if strings.Contains(strings.ToLower(markup), "<script") {
			t.Errorf("more than one script element:\n%s", markup)
		}
		for _, m := range referenceAttr.FindAllStringSubmatch(markup, -1) {
			if ref := strings.Trim(m[2], `"'`); !strings.HasPrefix(ref, "data:") {
				t.Errorf("%s=%q: the static page may reference data: URLs only", m[1], ref)
			}
		}
		for _, bad := range []string{"http://", "https://", "url(", "@import"} {
			if strings.Contains(markup, bad) {
				t.Errorf("the markup around the script contains %q:\n%s", bad, markup)
			}
		}
	})

	t.Run("ensure the script inlines the bundle and the spec and loads no fonts", func(t *testing.T) {
		bundle, err := os.ReadFile("assets/redoc.standalone.js")
		if err != nil {
			t.Fatal(err)
		}
		header, _, _ := bytes.Cut(bundle, []byte("**/"))
		if !strings.HasPrefix(script, string(header)) || len(script) < len(bundle) {
			t.Error("the script does not start with the Redoc bundle")
		}
		if strings.Contains(script, "cdn.redoc.ly") {
			t.Error("the script still loads Redocly's logo from cdn.redoc.ly")
		}
		for _, want := range tokenOperations {
			if !strings.Contains(script, `"operationId":"`+want.id+`"`) {
				t.Errorf("the inlined spec lacks %s", want.id)
			}
		}
		// Redoc's own examples load web fonts (Google Fonts); nothing here may.
		for rest := script; ; {
			k := strings.Index(rest, "://")
			if k < 0 {
				break
			}
			u := rest[k:]
			if n := strings.IndexAny(u, " \t\n\"'`)"); n >= 0 {
				u = u[:n]
			}
			if lower := strings.ToLower(u); strings.Contains(lower, "fonts.") ||
				strings.Contains(lower, ".woff") || strings.HasSuffix(lower, ".ttf") || strings.HasSuffix(lower, ".otf") {
				t.Errorf("the script references a web font: %s", u)
			}
			rest = rest[k+3:]
		}
	})

	t.Run("ensure its CSP admits exactly the inline script and forbids every request", func(t *testing.T) {
		csp := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`).FindStringSubmatch(markup)
		if csp == nil {
			t.Fatal("no Content-Security-Policy meta element")
		}
		policy := strings.ReplaceAll(csp[1], "&#39;", "'")
		sum := sha256.Sum256([]byte(script))
		for _, want := range []string{
			"default-src 'none'",
			"script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'",
		} {
			if !strings.Contains(policy, want) {
				t.Errorf("policy %q lacks %q", policy, want)
			}
		}
		for _, directive := range strings.Split(policy, ";") {
			name, sources, _ := strings.Cut(strings.TrimSpace(directive), " ")
			for _, source := range strings.Fields(sources) {
				if source != "'none'" && source != "data:" && source != "'unsafe-inline'" &&
					!strings.HasPrefix(source, "'sha256-") {
					t.Errorf("policy %q: %s allows %s; the page must load nothing", policy, name, source)
				}
			}
		}
	})
}
