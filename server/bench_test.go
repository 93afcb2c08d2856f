package server

import (
	"context"
	"net/http"
	"testing"

	"github.com/hzel/hzel/gen/api"
)

// BenchmarkListTokens measures an authenticated read end to end: HTTP, token parse and hash,
// the indexed lookup, spec validation and the list query, on the real PostgreSQL.
func BenchmarkListTokens(b *testing.B) {
	e := newEnv(b)
	_, raw := e.account(b, "alice@example.com")
	c := e.client(b, raw)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.ListTokensWithResponse(context.Background())
			if err != nil || resp.StatusCode() != http.StatusOK {
				b.Fatal(err, resp.StatusCode())
			}
		}
	})
}

// BenchmarkCreateToken measures issuing a token: validation, generation and the insert.
func BenchmarkCreateToken(b *testing.B) {
	e := newEnv(b)
	_, raw := e.account(b, "alice@example.com")
	c := e.client(b, raw)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.CreateTokenWithResponse(context.Background(), api.CreateTokenRequest{Name: "bench"})
			if err != nil || resp.StatusCode() != http.StatusOK {
				b.Fatal(err, resp.StatusCode())
			}
		}
	})
}

// BenchmarkRefusedToken measures what a flood of forged tokens costs: the checksum refuses
// them before any database work.
func BenchmarkRefusedToken(b *testing.B) {
	e := newEnv(b)
	_, raw := e.account(b, "alice@example.com")
	forged := raw[:39] + flip(raw[39])
	c := e.client(b, forged)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.ListTokensWithResponse(context.Background())
			if err != nil || resp.StatusCode() != http.StatusUnauthorized {
				b.Fatal(err, resp.StatusCode())
			}
		}
	})
}
