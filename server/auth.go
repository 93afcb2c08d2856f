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
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !isAPIPath(c.Request().URL.Path) {
			return next(c)
		}
		p, err := s.resolveCredential(c.Request())
		if err != nil {
			return err
		}
		c.SetRequest(c.Request().WithContext(WithPrincipal(c.Request().Context(), p)))
		return next(c)
	}
}

func (s *Server) resolveCredential(r *http.Request) (Principal, error) {
	values := r.Header.Values(echo.HeaderAuthorization)
	switch {
	case len(values) == 0:
		return Principal{}, errNoCredentials
	case len(values) > 1:
		return Principal{}, errManyCredentials
	}
	scheme, credentials, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
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
	// A malformed token or a bad checksum is refused here, without a database round trip.
	secret, err := token.Parse(credentials)
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
