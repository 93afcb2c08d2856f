package server

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// SweepInterval is how often a running server deletes the credentials that can no longer be
// used.
const SweepInterval = time.Hour

// sweep deletes ended sessions and expired OAuth codes and access tokens, which nothing can
// use any more, so that the tables do not grow without end. It is safe to run on several
// instances at once: each statement is an idempotent DELETE.
func (s *Server) sweep(ctx context.Context) error {
	sessions, err := s.queries.DeleteEndedSessions(ctx, s.now().Add(-s.sessionIdle))
	if err != nil {
		return fmt.Errorf("sweep sessions: %w", err)
	}
	codes, err := s.queries.DeleteExpiredOAuthCodes(ctx)
	if err != nil {
		return fmt.Errorf("sweep oauth codes: %w", err)
	}
	access, err := s.queries.DeleteExpiredOAuthAccessTokens(ctx)
	if err != nil {
		return fmt.Errorf("sweep oauth access tokens: %w", err)
	}
	s.logger.InfoContext(ctx, "swept ended credentials", "sessions", sessions, "oauth_codes", codes, "oauth_access_tokens", access)
	return nil
}

// SweepEvery runs Sweep every interval until ctx ends, logging failures: a missed sweep
// only delays clean-up.
func SweepEvery(ctx context.Context, cfg Config, pool *pgxpool.Pool, interval time.Duration) {
	s := newServer(cfg, pool)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.sweep(ctx); err != nil && ctx.Err() == nil {
				s.logger.ErrorContext(ctx, "sweep", "error", err)
			}
		}
	}
}
