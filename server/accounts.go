package server

import (
	"context"
	"fmt"
	"net/mail"
	"strings"

	"github.com/google/uuid"

	"github.com/hzel/hzel/gen/db"
)

// EnsureAccount returns the account with this email address, creating it if there is none.
func EnsureAccount(ctx context.Context, q *db.Queries, email string) (db.Account, error) {
	email = strings.TrimSpace(email)
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		return db.Account{}, &ValidationError{"email", fmt.Sprintf("%q is not an email address", email)}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return db.Account{}, fmt.Errorf("ensure account: new id: %w", err)
	}
	acct, err := q.EnsureAccount(ctx, db.EnsureAccountParams{ID: id, Email: email})
	if err != nil {
		return db.Account{}, fmt.Errorf("ensure account %s: %w", email, err)
	}
	return acct, nil
}
