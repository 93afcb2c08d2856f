package server

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hzel/hzel/gen/db"
	"github.com/hzel/hzel/server/password"
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

// ErrNoAccount means no account has the given email address.
var ErrNoAccount = errors.New("no account with this email address")

// SetPassword sets an account's password and ends all its browser sessions, in one
// transaction: a changed password must lock out whoever logged in with the old one.
func SetPassword(ctx context.Context, pool *pgxpool.Pool, email, pw string) error {
	hash, err := password.Hash(pw)
	if err != nil {
		return &ValidationError{"password", err.Error()}
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		acct, err := q.GetAccountByEmail(ctx, email)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("set password for %s: %w", email, ErrNoAccount)
		}
		if err != nil {
			return fmt.Errorf("set password for %s: %w", email, err)
		}
		if _, err := q.SetAccountPassword(ctx, db.SetAccountPasswordParams{Email: acct.Email, PasswordHash: &hash}); err != nil {
			return fmt.Errorf("set password for %s: %w", email, err)
		}
		if _, err := q.DeleteSessionsByAccount(ctx, acct.ID); err != nil {
			return fmt.Errorf("end sessions of %s: %w", email, err)
		}
		return nil
	})
}
