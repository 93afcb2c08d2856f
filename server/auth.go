package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"github.com/hzel/hzel/server/token"
)

// lastUsedResolution is how stale last_used_at may get before a use writes it again.
const lastUsedResolution = time.Minute

// authenticate resolves the request's credential into a Principal for every API route. It
// runs before spec validation, so a request without credentials gets 401 whatever its body.
// Routes the spec marks public (security: []) need none, but still see a session when the
// browser sends one: the OAuth consent page is for the person logged in.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if !isAPIPath(r.URL.Path) {
			return next(c)
		}
		var p Principal
		var err error
		if s.public[r.Method+" "+c.Path()] {
			p, err = s.resolveSession(r)
			if errors.Is(err, errNoCredentials) || errors.Is(err, errInvalidSession) {
				return next(c)
			}
		} else {
			p, err = s.resolveCredential(r)
		}
		if err != nil {
			return err
		}
		c.SetRequest(r.WithContext(WithPrincipal(r.Context(), p)))
		return next(c)
	}
}

// resolveCredential judges a request by its Bearer token when it has one, and never then by
// a cookie beside it; otherwise by its session cookie, which needs the CSRF token on every
// request that can change something.
func (s *Server) resolveCredential(r *http.Request) (Principal, error) {
	values := r.Header.Values(echo.HeaderAuthorization)
	switch {
	case len(values) > 1:
		return Principal{}, errManyCredentials
	case len(values) == 1:
		return s.resolveBearer(r, values[0])
	}
	p, err := s.resolveSession(r)
	if err != nil {
		return Principal{}, err
	}
	if !safeMethod(r.Method) && !validCSRF(r.Header.Get("X-Csrf-Token"), p.session.csrfToken) {
		return Principal{}, errCSRF
	}
	return p, nil
}

// safeMethod reports the methods that must not change anything (RFC 9110 §9.2.1), and so
// need no CSRF token.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions || m == http.MethodTrace
}

func (s *Server) resolveBearer(r *http.Request, header string) (Principal, error) {
	scheme, credentials, _ := strings.Cut(strings.TrimSpace(header), " ")
	// RFC 7235 §2.1: the scheme name is case-insensitive.
	if !strings.EqualFold(scheme, "Bearer") {
		if scheme == "" {
			return Principal{}, errNoCredentials
		}
		return Principal{}, errNotBearer
	}
	credentials = strings.TrimSpace(credentials)
	if credentials == "" {
		return Principal{}, errNoCredentials
	}
	if strings.HasPrefix(credentials, token.AccessToken.Prefix()) {
		return s.resolveAccessToken(r, credentials)
	}
	// A malformed token or a bad checksum is refused here, without a database round trip.
	secret, err := token.PAT.Parse(credentials)
	if err != nil {
		return Principal{}, errInvalidToken
	}
	hash := secret.Hash()
	ctx := r.Context()
	row, err := s.queries.GetValidTokenByHash(ctx, hash[:])
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, errInvalidToken
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up token: %w", err)
	}
	// The first use is recorded before the request is answered; later uses refresh it at
	// most once a minute (the query itself enforces that too, against concurrent requests).
	if row.LastUsedAt == nil || s.now().Sub(*row.LastUsedAt) >= lastUsedResolution {
		if err := s.queries.TouchTokenLastUsed(ctx, row.ID); err != nil {
			return Principal{}, fmt.Errorf("record use of token %s: %w", row.ID, err)
		}
	}
	return Principal{AccountID: row.AccountID, Kind: CredentialPAT, CredentialID: row.ID}, nil
}
