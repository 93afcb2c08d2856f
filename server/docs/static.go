package docs

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"strings"
)

// staticOptions are the Redoc options of the static page; see the /docs template for why.
var staticOptions = map[string]any{"disableTelemetry": true}

var staticTemplate = template.Must(template.New("static").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{.CSP}}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="icon" href="data:,">
</head>
<body>
<redoc></redoc>
{{.Script}}
</body>
</html>
`))

// WriteStatic writes the reference as one self-contained HTML file for publishing: the Redoc
// bundle and the spec are inlined, and the page's own Content-Security-Policy forbids it any
// request, wherever it is hosted.
func WriteStatic(w io.Writer) error {
	c, err := loadContract()
	if err != nil {
		return err
	}
	// json.Compact keeps json.Marshal's escaping of <, > and &, so the spec cannot end the
	// script element it is inlined in.
	var spec bytes.Buffer
	if err := json.Compact(&spec, c.json); err != nil {
		return fmt.Errorf("compact spec: %w", err)
	}
	bundle, err := redocScript()
	if err != nil {
		return err
	}
	options, err := json.Marshal(staticOptions)
	if err != nil {
		return fmt.Errorf("encode Redoc options: %w", err)
	}
	// The bundle is an ES module defining init; the call goes in the same module.
	script := string(bundle) + "\ninit(" + spec.String() + ", " + string(options) +
		", document.querySelector(\"redoc\"));\n"
	if err := checkScriptText(script); err != nil {
		return fmt.Errorf("inline Redoc %s: %w", RedocVersion, err)
	}
	// The hash admits exactly this script and nothing else (CSP Level 2 §4.2.4).
	sum := sha256.Sum256([]byte(script))
	csp := strings.Join([]string{
		"default-src 'none'",
		"script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'",
		"style-src 'unsafe-inline'",
		"font-src data:",
		"img-src data:",
		"base-uri 'none'",
		"form-action 'none'",
	}, "; ")
	return staticTemplate.Execute(w, struct {
		Title, CSP string
		Script     template.HTML
	}{
		Title: c.title,
		CSP:   csp,
		// checkScriptText has shown that this text stays one script element.
		Script: template.HTML(`<script type="module">` + script + `</script>`),
	})
}

// checkScriptText returns an error unless s, put between <script> and </script>, is parsed
// as exactly that element's text and hashes as written. HTML has no escaping inside a script
// element: "</script" ends it early, and "<!--" followed by "<script" makes the parser skip
// the real end tag (HTML §13.2.5.4, the script data states). This is stricter than the
// parser, never looser.
func checkScriptText(s string) error {
	if strings.ContainsAny(s, "\r\x00") {
		// The parser rewrites both, which would also change the script's hash.
		return errors.New("contains a carriage return or NUL")
	}
	lower := strings.ToLower(s)
	if i := strings.Index(lower, "</script"); i >= 0 {
		return fmt.Errorf(`contains "</script" at byte %d`, i)
	}
	for rest, offset := lower, 0; ; {
		open := strings.Index(rest, "<!--")
		if open < 0 {
			return nil
		}
		// From "<!--", the comment-like escaped section runs to the next "-->"; "<!-->"
		// closes at once, so the search starts at its dashes.
		section := rest[open+2:]
		end := strings.Index(section, "-->")
		if end < 0 {
			end = len(section)
		}
		if i := strings.Index(section[:end], "<script"); i >= 0 {
			return fmt.Errorf(`contains "<script" after "<!--" at byte %d`, offset+open+2+i)
		}
		if end == len(section) {
			return nil
		}
		advance := open + 2 + end + len("-->")
		rest, offset = rest[advance:], offset+advance
	}
}
