package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/hzel/hzel/server/pages"
)

// afterLogin is where the login page sends people who came to it directly.
const afterLogin = "/account"

// loginPage serves GET /login, the HTML form people log in with.
func (s *Server) loginPage(c echo.Context) error {
	return s.renderPage(c, http.StatusOK, "login.html", pages.Login{Next: localPath(c.QueryParam("next"))})
}

// loginForm serves POST /login: a session for the browser, then back to where it was going.
func (s *Server) loginForm(c echo.Context) error {
	// There is no session yet to carry a CSRF token, so a cross-site form (login CSRF, which
	// would log the victim into the attacker's account) is refused by its Origin instead.
	if origin := c.Request().Header.Get("Origin"); origin != "" && !sameOrigin(origin, c.Request()) {
		return s.renderPage(c, http.StatusForbidden, "error.html", pages.Error{Title: "Request refused", Message: "This login form was sent from another site."})
	}
	next := localPath(c.FormValue("next"))
	email := c.FormValue("email")
	acct, ok, err := s.checkPassword(c.Request().Context(), email, c.FormValue("password"))
	if err != nil {
		return err
	}
	if !ok {
		return s.renderPage(c, http.StatusUnauthorized, "login.html", pages.Login{Email: email, Next: next, Error: "Invalid email or password."})
	}
	cookie, _, err := s.startSession(c.Request().Context(), acct.ID)
	if err != nil {
		return err
	}
	c.SetCookie(cookie)
	return c.Redirect(http.StatusSeeOther, next)
}

func (s *Server) renderPage(c echo.Context, status int, page string, data any) error {
	body, err := s.pages.Render(page, data)
	if err != nil {
		return err
	}
	if status == http.StatusUnauthorized {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, challengeNoToken)
	}
	return c.HTMLBlob(status, body.Bytes())
}

// localPath keeps a redirect target on this site: a path, never a URL to elsewhere (an open
// redirect would let any link send people to a phishing page through hzel's login).
func localPath(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.IsAbs() || u.Host != "" || !strings.HasPrefix(next, "/") ||
		strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return afterLogin
	}
	return next
}

func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}
