// Package pages renders the HTML pages people see: login, OAuth consent and errors. They are
// server-rendered with html/template, need no build step and load nothing from elsewhere.
package pages

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
)

//go:embed templates/*.html
var files embed.FS

// Set holds the parsed templates.
type Set struct {
	pages map[string]*template.Template
}

// Parse parses every page with the shared layout.
func Parse() (*Set, error) {
	names, err := files.ReadDir("templates")
	if err != nil {
		return nil, err
	}
	s := &Set{pages: map[string]*template.Template{}}
	for _, f := range names {
		if f.Name() == "layout.html" {
			continue
		}
		t, err := template.ParseFS(files, "templates/layout.html", "templates/"+f.Name())
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", f.Name(), err)
		}
		s.pages[f.Name()] = t
	}
	return s, nil
}

// Render executes page (such as "consent.html") with data.
func (s *Set) Render(page string, data any) (*bytes.Buffer, error) {
	t, ok := s.pages[page]
	if !ok {
		return nil, fmt.Errorf("no page %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return nil, fmt.Errorf("render %s: %w", page, err)
	}
	return &buf, nil
}

// Error is what the error page shows.
type Error struct {
	Title   string
	Message string
}

// Login is what the login page shows.
type Login struct {
	Email string
	Next  string
	Error string
}

// Consent is what the OAuth consent page shows and sends back.
type Consent struct {
	AppName             string
	AppDescription      string
	AccountEmail        string
	RedirectHost        string
	ClientID            string
	RedirectURI         string
	State               string
	CodeChallenge       string
	CodeChallengeMethod string
	CSRFToken           string
}

// Account is what the account page shows: the person's tokens and the forms to manage them.
type Account struct {
	Email     string
	CSRFToken string
	Tokens    []AccountToken
	// NewToken is the raw value of a token just created, shown this once.
	NewToken string
	Name     string
	Error    string
	Notice   string
}

// AccountToken is one row of the account page's token list.
type AccountToken struct {
	ID, Name, Prefix, Created, Expires, LastUsed string
}
