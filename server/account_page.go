package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/hzel/hzel/gen/db"
	"github.com/hzel/hzel/server/pages"
)

// The account page is the browser's way to the same tokens as the API, under the same
// rules: a session, and its CSRF token (a form field here) on every change.

// pageSession returns the browser's session, or sends it to log in first. Like the API's
// resolveCredential, it refuses any form that can change something unless it carries the
// session's CSRF token (as the csrf_token field).
func (s *Server) pageSession(c echo.Context) (Principal, bool, error) {
	p, err := s.resolveSession(c.Request())
	if errors.Is(err, errNoCredentials) || errors.Is(err, errInvalidSession) {
		return Principal{}, false, c.Redirect(http.StatusSeeOther, "/login?next=/account")
	}
	if err != nil {
		return Principal{}, false, err
	}
	if !safeMethod(c.Request().Method) && !validCSRF(c.FormValue("csrf_token"), p.session.csrfToken) {
		return Principal{}, false, s.renderPage(c, http.StatusForbidden, "error.html", pages.Error{
			Title: "Request refused", Message: "This form did not come from your account page. Nothing was changed."})
	}
	return p, true, nil
}

// accountPage serves GET /account.
func (s *Server) accountPage(c echo.Context) error {
	p, ok, err := s.pageSession(c)
	if !ok {
		return err
	}
	var notice string
	if c.QueryParam("revoked") != "" {
		notice = "Token revoked. It no longer works."
	}
	return s.renderAccount(c, http.StatusOK, p, pages.Account{Notice: notice})
}

// accountCreateToken serves POST /account/tokens.
func (s *Server) accountCreateToken(c echo.Context) error {
	p, ok, err := s.pageSession(c)
	if !ok {
		return err
	}
	name := c.FormValue("name")
	var expiresAt *time.Time
	if days := c.FormValue("expires_in_days"); days != "" {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 3650 {
			return s.renderAccount(c, http.StatusBadRequest, p, pages.Account{Name: name, Error: "Choose when the token expires."})
		}
		t := s.now().AddDate(0, 0, n)
		expiresAt = &t
	}
	_, secret, err := IssueToken(c.Request().Context(), s.queries, p.AccountID, name, expiresAt, s.now())
	var invalid *ValidationError
	if errors.As(err, &invalid) {
		return s.renderAccount(c, http.StatusBadRequest, p, pages.Account{Name: name, Error: "Name " + invalid.Reason + "."})
	}
	if err != nil {
		return err
	}
	return s.renderAccount(c, http.StatusOK, p, pages.Account{NewToken: secret.Reveal()})
}

// accountRevokeToken serves POST /account/tokens/:id/revoke.
func (s *Server) accountRevokeToken(c echo.Context) error {
	p, ok, err := s.pageSession(c)
	if !ok {
		return err
	}
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return s.renderAccount(c, http.StatusNotFound, p, pages.Account{Error: "No such token."})
	}
	n, err := s.queries.RevokeToken(c.Request().Context(), db.RevokeTokenParams{ID: id, AccountID: p.AccountID})
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	if n == 0 {
		return s.renderAccount(c, http.StatusNotFound, p, pages.Account{Error: "No such token: it may be revoked already."})
	}
	// Post/redirect/get, so that reloading the page does not post again.
	return c.Redirect(http.StatusSeeOther, "/account?revoked=1")
}

// logoutForm serves POST /logout.
func (s *Server) logoutForm(c echo.Context) error {
	p, ok, err := s.pageSession(c)
	if !ok {
		return err
	}
	if _, err := s.queries.DeleteSession(c.Request().Context(), db.DeleteSessionParams{ID: p.CredentialID, AccountID: p.AccountID}); err != nil {
		return fmt.Errorf("logout: delete session %s: %w", p.CredentialID, err)
	}
	c.SetCookie(s.sessionCookie("", -1))
	return c.Redirect(http.StatusSeeOther, "/login")
}

func (s *Server) renderAccount(c echo.Context, status int, p Principal, page pages.Account) error {
	rows, err := s.queries.ListTokensByAccount(c.Request().Context(), p.AccountID)
	if err != nil {
		return fmt.Errorf("account page: list tokens: %w", err)
	}
	page.Email, page.CSRFToken = p.session.email, p.session.csrfToken
	now := s.now()
	for _, t := range rows {
		page.Tokens = append(page.Tokens, pages.AccountToken{
			ID:       t.ID.String(),
			Name:     t.Name,
			Prefix:   t.Prefix,
			Created:  t.CreatedAt.UTC().Format(time.DateOnly),
			Expires:  describeExpiry(t.ExpiresAt, now),
			LastUsed: describeLastUse(t.LastUsedAt),
		})
	}
	// The page may hold a raw token: no cache may keep it.
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return s.renderPage(c, status, "account.html", page)
}

func describeExpiry(at *time.Time, now time.Time) string {
	switch {
	case at == nil:
		return "never expires"
	case !at.After(now):
		return "expired " + at.UTC().Format(time.DateOnly)
	}
	return "expires " + at.UTC().Format(time.DateOnly)
}

func describeLastUse(at *time.Time) string {
	if at == nil {
		return "never used"
	}
	return "last used " + at.UTC().Format("2006-01-02 15:04 UTC")
}
