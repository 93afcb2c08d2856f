package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hzel/hzel/gen/api"
	"github.com/hzel/hzel/gen/apiserver"
	"github.com/hzel/hzel/gen/db"
	"github.com/hzel/hzel/server/token"
)

// MaxTokenNameLength is the longest token name, in characters, after trimming.
const MaxTokenNameLength = 100

// ValidationError is input that breaks one of hzel's rules.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// NormalizeTokenName checks a token name and returns it without surrounding white space.
func NormalizeTokenName(name string) (string, error) {
	return normalizeLabel("name", name, MaxTokenNameLength)
}

// normalizeLabel checks a label people will read (a token or application name): trimmed, 1 to
// max characters, valid UTF-8, no control characters.
func normalizeLabel(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	switch n := utf8.RuneCountInString(s); {
	case !utf8.ValidString(s):
		return "", &ValidationError{field, "must be valid UTF-8"}
	case n == 0:
		return "", &ValidationError{field, "must not be empty or only white space"}
	case n > max:
		return "", &ValidationError{field, fmt.Sprintf("must be at most %d characters, got %d", max, n)}
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", &ValidationError{field, "must not contain control characters"}
	}
	return s, nil
}

// IssueToken creates a Personal Access Token for an account. The returned secret is the only
// copy of the raw token: show it once and drop it.
func IssueToken(ctx context.Context, q *db.Queries, accountID uuid.UUID, name string, expiresAt *time.Time, now time.Time) (db.Token, token.Secret, error) {
	name, err := NormalizeTokenName(name)
	if err != nil {
		return db.Token{}, token.Secret{}, err
	}
	if expiresAt != nil && !expiresAt.After(now) {
		return db.Token{}, token.Secret{}, &ValidationError{"expires_at", "must be in the future"}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return db.Token{}, token.Secret{}, fmt.Errorf("issue token: new id: %w", err)
	}
	secret, err := token.Generate()
	if err != nil {
		return db.Token{}, token.Secret{}, fmt.Errorf("issue token: %w", err)
	}
	hash := secret.Hash()
	row, err := q.CreateToken(ctx, db.CreateTokenParams{
		ID:        id,
		AccountID: accountID,
		Name:      name,
		TokenHash: hash[:],
		Prefix:    secret.DisplayPrefix(),
		ExpiresAt: expiresAt,
	})
	if err != nil {
		return db.Token{}, token.Secret{}, fmt.Errorf("issue token for account %s: %w", accountID, err)
	}
	return row, secret, nil
}

// CreateToken implements POST /api/v1/tokens.
func (s *Server) CreateToken(ctx context.Context, req apiserver.CreateTokenRequestObject) (apiserver.CreateTokenResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if p.Kind == CredentialOAuthToken {
		return apiserver.CreateToken403JSONResponse{ForbiddenJSONResponse: apiserver.ForbiddenJSONResponse(
			envelope(api.CodeForbidden, "OAuth app tokens may not create PATs"))}, nil
	}
	row, secret, err := IssueToken(ctx, s.queries, p.AccountID, req.Body.Name, req.Body.ExpiresAt, s.now())
	var invalid *ValidationError
	if errors.As(err, &invalid) {
		return apiserver.CreateToken400JSONResponse{BadRequestJSONResponse: apiserver.BadRequestJSONResponse(
			envelope(api.CodeValidationFailed, invalid.Error()))}, nil
	}
	if err != nil {
		return nil, err
	}
	t := apiToken(row)
	return apiserver.CreateToken200JSONResponse{Data: api.CreatedToken{
		Token:      secret.Reveal(),
		Id:         t.Id,
		Name:       t.Name,
		Prefix:     t.Prefix,
		CreatedAt:  t.CreatedAt,
		ExpiresAt:  t.ExpiresAt,
		LastUsedAt: t.LastUsedAt,
		RevokedAt:  t.RevokedAt,
	}}, nil
}

// ListTokens implements GET /api/v1/tokens.
func (s *Server) ListTokens(ctx context.Context, _ apiserver.ListTokensRequestObject) (apiserver.ListTokensResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.queries.ListTokensByAccount(ctx, p.AccountID)
	if err != nil {
		return nil, fmt.Errorf("list tokens of account %s: %w", p.AccountID, err)
	}
	// An empty list is [], never null.
	tokens := make([]api.Token, 0, len(rows))
	for _, row := range rows {
		tokens = append(tokens, apiToken(row))
	}
	return apiserver.ListTokens200JSONResponse{Data: tokens}, nil
}

// RevokeToken implements DELETE /api/v1/tokens/{id}.
func (s *Server) RevokeToken(ctx context.Context, req apiserver.RevokeTokenRequestObject) (apiserver.RevokeTokenResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	// Scoped by account: another account's token and an unknown id are the same 404, so that
	// existence is never leaked.
	n, err := s.queries.RevokeToken(ctx, db.RevokeTokenParams{ID: req.Id, AccountID: p.AccountID})
	if err != nil {
		return nil, fmt.Errorf("revoke token %s: %w", req.Id, err)
	}
	if n == 0 {
		return apiserver.RevokeToken404JSONResponse{NotFoundJSONResponse: apiserver.NotFoundJSONResponse(
			envelope(api.CodeNotFound, "token not found"))}, nil
	}
	return apiserver.RevokeToken200JSONResponse{Data: api.Revoked}, nil
}

// principal returns the request's principal; its absence is a wiring bug, not a client error.
func principal(ctx context.Context) (Principal, error) {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return Principal{}, &apiError{status: http.StatusInternalServerError, code: api.CodeInternalError, message: "internal error"}
	}
	return p, nil
}

func apiToken(t db.Token) api.Token {
	return api.Token{
		Id:         t.ID,
		Name:       t.Name,
		Prefix:     t.Prefix,
		CreatedAt:  t.CreatedAt.UTC(),
		ExpiresAt:  utc(t.ExpiresAt),
		LastUsedAt: utc(t.LastUsedAt),
		RevokedAt:  utc(t.RevokedAt),
	}
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
