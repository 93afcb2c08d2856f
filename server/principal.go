package server

import (
	"context"

	"github.com/google/uuid"
)

// CredentialKind says how a request authenticated.
type CredentialKind string

// The kinds of credential hzel accepts.
const (
	CredentialPAT        CredentialKind = "pat"
	CredentialSession    CredentialKind = "session"
	CredentialOAuthToken CredentialKind = "oauth_token"
)

// Principal is who a request acts for: an account, and the credential that proved it.
type Principal struct {
	AccountID uuid.UUID
	Kind      CredentialKind
	// CredentialID is the id of the token (or session) that authenticated the request.
	CredentialID uuid.UUID

	// session is set for CredentialSession only.
	session *sessionInfo
}

type principalKey struct{}

// WithPrincipal returns a context that carries p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal the authentication middleware put in ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
