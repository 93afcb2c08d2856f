package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hzel/hzel/gen/api"
	"github.com/hzel/hzel/gen/db"
	"github.com/hzel/hzel/server/testdb"
	"github.com/hzel/hzel/server/token"
)

// noRedirects shows a test the redirects themselves, which is what the OAuth flow is made of.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// leakedToken matches a raw token or an Authorization header's value in a log.
var leakedToken = regexp.MustCompile(`hzel_[0-9A-Za-z]{35}|(?i)bearer\s`)

// testEnv is one API server on its own fresh database.
type testEnv struct {
	pool    *pgxpool.Pool
	queries *db.Queries
	srv     *httptest.Server
	logs    *lockedBuffer
}

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	pool, _ := testdb.New(t)
	return newEnvOnPool(t, pool)
}

func newEnvOnPool(t testing.TB, pool *pgxpool.Pool) *testEnv {
	t.Helper()
	logs := &lockedBuffer{}
	h, err := New(Config{Logger: slog.New(slog.NewJSONHandler(logs, nil))}, pool)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	// Whatever a test did, no raw token and no Authorization header may reach the log.
	t.Cleanup(func() {
		if leakedToken.MatchString(logs.String()) {
			t.Errorf("the log holds a token or an Authorization header:\n%s", logs.String())
		}
	})
	return &testEnv{pool: pool, queries: db.New(pool), srv: srv, logs: logs}
}

// account creates an account and a non-expiring PAT for it, returning the raw token.
func (e *testEnv) account(t testing.TB, email string) (db.Account, string) {
	t.Helper()
	ctx := context.Background()
	acct, err := EnsureAccount(ctx, e.queries, email)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := IssueToken(ctx, e.queries, acct.ID, "test", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return acct, secret.Reveal()
}

// client returns the generated client, authenticating with raw (none when empty).
func (e *testEnv) client(t testing.TB, raw string) *api.ClientWithResponses {
	t.Helper()
	opts := []api.ClientOption{}
	if raw != "" {
		opts = append(opts, api.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+raw)
			return nil
		}))
	}
	c, err := api.NewClientWithResponses(e.srv.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rawResponse is what a raw HTTP request got back.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// errorEnvelope decodes the body as the error envelope, failing the test if it is not one.
func (r rawResponse) errorEnvelope(t *testing.T) api.ErrorDetail {
	t.Helper()
	var env api.ErrorEnvelope
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil || env.Error.Code == "" || env.Error.Message == "" {
		t.Fatalf("status %d: body is not the error envelope (%v): %s", r.status, err, r.body)
	}
	return env.Error
}

// do sends what the generated client cannot: any method, header or body.
func (e *testEnv) do(t *testing.T, method, path string, header http.Header, body string) rawResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

func bearer(raw string) http.Header {
	return http.Header{"Authorization": {"Bearer " + raw}}
}

func jsonBearer(raw string) http.Header {
	h := bearer(raw)
	h.Set("Content-Type", "application/json")
	return h
}

// expectError checks a raw response's status and error code.
func expectError(t *testing.T, r rawResponse, status int, code api.ErrorCode) api.ErrorDetail {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	detail := r.errorEnvelope(t)
	if detail.Code != code {
		t.Fatalf("error.code = %s, want %s (message %q)", detail.Code, code, detail.Message)
	}
	return detail
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func sha256Hex(raw string) string {
	s, err := token.Parse(raw)
	if err != nil {
		panic(err)
	}
	h := s.Hash()
	return hex.EncodeToString(h[:])
}

func uuidOf(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
