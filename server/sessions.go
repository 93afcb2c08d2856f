package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hzel/hzel/gen/api"
	"github.com/hzel/hzel/gen/apiserver"
	"github.com/hzel/hzel/gen/db"
	"github.com/hzel/hzel/server/password"
	"github.com/hzel/hzel/server/token"
)

// Session lifetimes unless configured: a session ends after two idle hours, and a day after
// it began however busy it is.
const (
	DefaultSessionIdle     = 2 * time.Hour
	DefaultSessionLifetime = 24 * time.Hour
)

// sessionInfo is what a session principal carries beyond the account id.
type sessionInfo struct {
	email     string
	csrfToken string
	expiresAt time.Time
}

// csrfToken derives a session's CSRF token from its cookie value, so that nothing more has
// to be stored, and only the holder of the cookie (or the server) can know it.
func csrfToken(session token.Secret) string {
	sum := sha256.Sum256([]byte("hzel csrf token\x00" + session.Reveal()))
	return hex.EncodeToString(sum[:])
}

// validCSRF compares a presented CSRF token with the session's in constant time.
func validCSRF(presented, want string) bool {
	return presented != "" && subtle.ConstantTimeCompare([]byte(presented), []byte(want)) == 1
}

// sessionCookieName is __Host- prefixed whenever the cookie is Secure: the prefix makes the
// browser refuse it unless it is Secure, host-only and for Path=/.
func (s *Server) sessionCookieName() string {
	if s.insecureCookies {
		return "hzel_session"
	}
	return "__Host-hzel_session"
}

func (s *Server) sessionCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     s.sessionCookieName(),
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   !s.insecureCookies,
		SameSite: http.SameSiteLaxMode,
	}
}

// resolveSession turns the request's session cookie into a principal. It returns
// errInvalidSession for a missing, malformed, unknown, idle or expired session.
func (s *Server) resolveSession(r *http.Request) (Principal, error) {
	cookie, err := r.Cookie(s.sessionCookieName())
	if err != nil {
		return Principal{}, errNoCredentials
	}
	secret, err := token.Session.Parse(cookie.Value)
	if err != nil {
		return Principal{}, errInvalidSession
	}
	hash := secret.Hash()
	now := s.now()
	row, err := s.queries.GetValidSessionByHash(r.Context(), db.GetValidSessionByHashParams{
		TokenHash: hash[:],
		SeenAfter: now.Add(-s.sessionIdle),
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, errInvalidSession
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up session: %w", err)
	}
	lastSeen := row.LastSeenAt
	if now.Sub(row.LastSeenAt) >= lastUsedResolution {
		if err := s.queries.TouchSession(r.Context(), row.ID); err != nil {
			return Principal{}, fmt.Errorf("record use of session %s: %w", row.ID, err)
		}
		lastSeen = now
	}
	return Principal{
		AccountID:    row.AccountID,
		Kind:         CredentialSession,
		CredentialID: row.ID,
		session: &sessionInfo{
			email:     row.Email,
			csrfToken: csrfToken(secret),
			expiresAt: earliest(row.ExpiresAt, lastSeen.Add(s.sessionIdle)),
		},
	}, nil
}

// checkPassword returns the account whose email and password these are. An unknown email is
// checked against a stand-in hash, so that it takes as long as a wrong password and the two
// cannot be told apart.
func (s *Server) checkPassword(ctx context.Context, email, pw string) (db.Account, bool, error) {
	acct, err := s.queries.GetAccountByEmail(ctx, email)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return db.Account{}, false, fmt.Errorf("login: look up account: %w", err)
	}
	found := err == nil && acct.PasswordHash != nil
	hash, err := s.standInHash()
	if err != nil {
		return db.Account{}, false, err
	}
	if found {
		hash = *acct.PasswordHash
	}
	ok, err := password.Verify(pw, hash)
	if err != nil {
		return db.Account{}, false, fmt.Errorf("login: verify password of account %s: %w", acct.ID, err)
	}
	return acct, found && ok, nil
}

// startSession creates a session for an account and returns its cookie.
func (s *Server) startSession(ctx context.Context, accountID uuid.UUID) (*http.Cookie, sessionInfo, error) {
	secret, err := token.Session.Generate()
	if err != nil {
		return nil, sessionInfo{}, fmt.Errorf("login: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, sessionInfo{}, fmt.Errorf("login: new id: %w", err)
	}
	hashed := secret.Hash()
	now := s.now()
	sess, err := s.queries.CreateSession(ctx, db.CreateSessionParams{
		ID:        id,
		AccountID: accountID,
		TokenHash: hashed[:],
		ExpiresAt: now.Add(s.sessionLifetime),
	})
	if err != nil {
		return nil, sessionInfo{}, fmt.Errorf("login: create session for account %s: %w", accountID, err)
	}
	return s.sessionCookie(secret.Reveal(), int(s.sessionLifetime.Seconds())), sessionInfo{
		csrfToken: csrfToken(secret),
		expiresAt: earliest(sess.ExpiresAt, now.Add(s.sessionIdle)),
	}, nil
}

// Login implements POST /api/v1/auth/login.
func (s *Server) Login(ctx context.Context, req apiserver.LoginRequestObject) (apiserver.LoginResponseObject, error) {
	acct, ok, err := s.checkPassword(ctx, req.Body.Email, req.Body.Password)
	if err != nil {
		return nil, err
	}
	if !ok {
		challenge := challengeNoToken
		return apiserver.Login401JSONResponse{
			Body:    envelope(api.CodeUnauthorized, "invalid email or password"),
			Headers: apiserver.Login401ResponseHeaders{WWWAuthenticate: &challenge},
		}, nil
	}
	cookie, info, err := s.startSession(ctx, acct.ID)
	if err != nil {
		return nil, err
	}
	setCookie := cookie.String()
	return apiserver.Login200JSONResponse{
		Body:    sessionEnvelope(acct.ID, acct.Email, info),
		Headers: apiserver.Login200ResponseHeaders{SetCookie: &setCookie},
	}, nil
}

// GetSession implements GET /api/v1/auth/session.
func (s *Server) GetSession(ctx context.Context, _ apiserver.GetSessionRequestObject) (apiserver.GetSessionResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if p.session == nil {
		return apiserver.GetSession403JSONResponse{NotASessionJSONResponse: apiserver.NotASessionJSONResponse(notASession)}, nil
	}
	return apiserver.GetSession200JSONResponse(sessionEnvelope(p.AccountID, p.session.email, *p.session)), nil
}

// Logout implements POST /api/v1/auth/logout.
func (s *Server) Logout(ctx context.Context, _ apiserver.LogoutRequestObject) (apiserver.LogoutResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if p.session == nil {
		return apiserver.Logout403JSONResponse{NotASessionJSONResponse: apiserver.NotASessionJSONResponse(notASession)}, nil
	}
	if _, err := s.queries.DeleteSession(ctx, db.DeleteSessionParams{ID: p.CredentialID, AccountID: p.AccountID}); err != nil {
		return nil, fmt.Errorf("logout: delete session %s: %w", p.CredentialID, err)
	}
	cleared := s.sessionCookie("", -1).String()
	return apiserver.Logout200JSONResponse{
		Body:    api.LoggedOutEnvelope{Data: api.LoggedOut},
		Headers: apiserver.Logout200ResponseHeaders{SetCookie: &cleared},
	}, nil
}

var notASession = envelope(api.CodeForbidden, "this call needs a browser session")

func sessionEnvelope(accountID uuid.UUID, email string, info sessionInfo) api.SessionEnvelope {
	var env api.SessionEnvelope
	env.Data.Session = api.Session{
		CsrfToken: info.csrfToken,
		Account:   api.Account{Id: accountID, Email: email},
		ExpiresAt: info.expiresAt.UTC(),
	}
	return env
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
