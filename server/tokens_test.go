package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hzel/hzel/gen/api"
	"github.com/hzel/hzel/server/token"
)

func TestCreateToken(t *testing.T) {
	e := newEnv(t)
	_, raw := e.account(t, "alice@example.com")
	c := e.client(t, raw)
	ctx := context.Background()

	t.Run("ensure a token is created with the seed's fields, shown once", func(t *testing.T) {
		expires := time.Date(2099, 1, 1, 2, 0, 0, 0, time.FixedZone("", 2*3600))
		resp, err := c.CreateTokenWithResponse(ctx, api.CreateTokenRequest{Name: "  CI deploy key ", ExpiresAt: &expires})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != http.StatusOK || resp.JSON200 == nil {
			t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body)
		}
		got := resp.JSON200.Data
		if _, err := token.Parse(got.Token); err != nil {
			t.Fatalf("returned token does not parse: %v", err)
		}
		if got.Prefix != got.Token[:13] || got.Name != "CI deploy key" || got.Id.Version() != 7 {
			t.Fatalf("prefix %q, name %q, id version %d", got.Prefix, got.Name, got.Id.Version())
		}
		// Exactly the seed's members, nullable ones present as null, times in UTC.
		var body map[string]map[string]any
		if err := json.Unmarshal(resp.Body, &body); err != nil {
			t.Fatal(err)
		}
		wantKeys := []string{"token", "id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"}
		if len(body["data"]) != len(wantKeys) {
			t.Fatalf("data has %d members, want %d: %s", len(body["data"]), len(wantKeys), resp.Body)
		}
		for _, k := range wantKeys {
			if _, ok := body["data"][k]; !ok {
				t.Fatalf("data lacks %q: %s", k, resp.Body)
			}
		}
		if body["data"]["last_used_at"] != nil || body["data"]["revoked_at"] != nil {
			t.Fatalf("last_used_at and revoked_at must be null: %s", resp.Body)
		}
		if body["data"]["expires_at"] != "2099-01-01T00:00:00Z" || !strings.HasSuffix(body["data"]["created_at"].(string), "Z") {
			t.Fatalf("times must be RFC 3339 in UTC: %s", resp.Body)
		}

		// The new token works, and the database holds its hash, never the raw value.
		if r, err := e.client(t, got.Token).ListTokensWithResponse(ctx); err != nil || r.StatusCode() != http.StatusOK {
			t.Fatalf("new token refused: %v %s", err, r.Body)
		}
		var hits int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM tokens t WHERE t::text LIKE '%' || $1 || '%'`, got.Token[5:]).Scan(&hits); err != nil {
			t.Fatal(err)
		}
		if hits != 0 {
			t.Fatalf("the raw token is stored in %d rows", hits)
		}
		hash := sha256Hex(got.Token)
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM tokens WHERE encode(token_hash, 'hex') = $1 AND id = $2`, hash, got.Id).Scan(&hits); err != nil || hits != 1 {
			t.Fatalf("token stored by SHA-256: %d rows, %v", hits, err)
		}
	})

	t.Run("ensure a token without expires_at never expires", func(t *testing.T) {
		resp, err := c.CreateTokenWithResponse(ctx, api.CreateTokenRequest{Name: "laptop"})
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("%v %s", err, resp.Body)
		}
		if resp.JSON200.Data.ExpiresAt != nil {
			t.Fatalf("expires_at = %v, want null", resp.JSON200.Data.ExpiresAt)
		}
	})

	t.Run("ensure a name of exactly 100 characters, multi-byte ones included, is accepted", func(t *testing.T) {
		name := strings.Repeat("é", 100)
		resp, err := c.CreateTokenWithResponse(ctx, api.CreateTokenRequest{Name: "\t" + name + "  "})
		if err != nil || resp.JSON200 == nil || resp.JSON200.Data.Name != name {
			t.Fatalf("%v %s", err, resp.Body)
		}
	})

	t.Run("ensure no x-csrf-token is needed with a PAT", func(t *testing.T) {
		r := e.do(t, http.MethodPost, "/api/v1/tokens", jsonBearer(raw), `{"name":"no csrf"}`)
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})

	t.Run("ensure missing auth is 401 UNAUTHORIZED", func(t *testing.T) {
		resp, err := e.client(t, "").CreateTokenWithResponse(ctx, api.CreateTokenRequest{Name: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != http.StatusUnauthorized || resp.JSON401 == nil || resp.JSON401.Error.Code != api.CodeUnauthorized {
			t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body)
		}
	})
}

func TestCreateTokenBadInput(t *testing.T) {
	e := newEnv(t)
	_, raw := e.account(t, "alice@example.com")
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)

	for _, tc := range []struct {
		name        string
		contentType string
		body        string
		status      int
		code        api.ErrorCode
		mention     string // the message must name this
	}{
		{"name missing", "application/json", `{}`, 400, api.CodeValidationFailed, "name"},
		{"name empty", "application/json", `{"name":""}`, 400, api.CodeValidationFailed, "name"},
		{"name blank", "application/json", `{"name":" \t "}`, 400, api.CodeValidationFailed, "name"},
		{"name too long", "application/json", `{"name":"` + strings.Repeat("x", 101) + `"}`, 400, api.CodeValidationFailed, "name"},
		{"name not a string", "application/json", `{"name":42}`, 400, api.CodeValidationFailed, "name"},
		{"name null", "application/json", `{"name":null}`, 400, api.CodeValidationFailed, "name"},
		{"name with a control character", "application/json", `{"name":"a\u0007b"}`, 400, api.CodeValidationFailed, "name"},
		{"name with a NUL", "application/json", `{"name":"a\u0000b"}`, 400, api.CodeValidationFailed, "name"},
		{"expires_at not a date-time", "application/json", `{"name":"x","expires_at":"next week"}`, 400, api.CodeValidationFailed, "expires_at"},
		{"expires_at a date only", "application/json", `{"name":"x","expires_at":"2099-01-01"}`, 400, api.CodeValidationFailed, "expires_at"},
		{"expires_at without offset", "application/json", `{"name":"x","expires_at":"2099-01-01T00:00:00"}`, 400, api.CodeValidationFailed, "expires_at"},
		{"expires_at a leap second", "application/json", `{"name":"x","expires_at":"2099-12-31T23:59:60Z"}`, 400, api.CodeValidationFailed, "expires_at"},
		{"expires_at in the past", "application/json", `{"name":"x","expires_at":"` + past + `"}`, 400, api.CodeValidationFailed, "expires_at"},
		{"expires_at a number", "application/json", `{"name":"x","expires_at":1700000000}`, 400, api.CodeValidationFailed, "expires_at"},
		{"unknown field (a typo of expires_at)", "application/json", `{"name":"x","expire_at":"2099-01-01T00:00:00Z"}`, 400, api.CodeValidationFailed, "expire_at"},
		{"body an array", "application/json", `[{"name":"x"}]`, 400, api.CodeValidationFailed, "object"},
		{"body not JSON", "application/json", `name=x`, 400, api.CodeBadRequest, "JSON"},
		{"body truncated JSON", "application/json", `{"name":"x"`, 400, api.CodeBadRequest, "JSON"},
		{"body empty", "application/json", ``, 400, api.CodeBadRequest, "body"},
		{"wrong content type", "text/plain", `{"name":"x"}`, 400, api.CodeBadRequest, "Content-Type"},
		{"no content type", "", `{"name":"x"}`, 400, api.CodeBadRequest, "Content-Type"},
		{"body over 64 KiB", "application/json", `{"name":"` + strings.Repeat("x", 70000) + `"}`, 413, api.CodePayloadTooLarge, "64 KiB"},
	} {
		t.Run("ensure "+tc.name+" is "+string(tc.code), func(t *testing.T) {
			h := bearer(raw)
			if tc.contentType != "" {
				h.Set("Content-Type", tc.contentType)
			}
			r := e.do(t, http.MethodPost, "/api/v1/tokens", h, tc.body)
			detail := expectError(t, r, tc.status, tc.code)
			t.Logf("message: %s", detail.Message)
			if !strings.Contains(detail.Message, tc.mention) {
				t.Fatalf("message %q does not mention %q", detail.Message, tc.mention)
			}
		})
	}

	t.Run("ensure no bad request wrote a token", func(t *testing.T) {
		var n int
		if err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM tokens").Scan(&n); err != nil || n != 1 {
			t.Fatalf("%d tokens, want only the bootstrap one (%v)", n, err)
		}
	})

	t.Run("ensure credentials are checked before the body", func(t *testing.T) {
		r := e.do(t, http.MethodPost, "/api/v1/tokens", http.Header{"Content-Type": {"application/json"}}, `{"nope`)
		expectError(t, r, http.StatusUnauthorized, api.CodeUnauthorized)
	})
}

func TestListTokens(t *testing.T) {
	e := newEnv(t)
	acct, raw := e.account(t, "alice@example.com")
	c := e.client(t, raw)
	ctx := context.Background()

	var created []api.CreatedToken
	for _, name := range []string{"first", "second", "third"} {
		resp, err := c.CreateTokenWithResponse(ctx, api.CreateTokenRequest{Name: name})
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("%v %s", err, resp.Body)
		}
		created = append(created, resp.JSON200.Data)
	}
	// "second" is revoked, "third" has expired.
	if r, err := c.RevokeTokenWithResponse(ctx, created[1].Id); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("revoke: %v", err)
	}
	if _, err := e.pool.Exec(ctx, "UPDATE tokens SET expires_at = now() - interval '1 day' WHERE id = $1", created[2].Id); err != nil {
		t.Fatal(err)
	}

	resp, err := c.ListTokensWithResponse(ctx)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("%v %s", err, resp.Body)
	}
	t.Run("ensure non-revoked tokens are listed newest first, expired ones included", func(t *testing.T) {
		var names []string
		for _, tok := range resp.JSON200.Data {
			names = append(names, tok.Name)
		}
		if got := strings.Join(names, ","); got != "third,first,test" {
			t.Fatalf("listed %s, want third,first,test", got)
		}
	})
	t.Run("ensure neither the raw token nor its hash is listed", func(t *testing.T) {
		for _, tok := range created {
			if strings.Contains(string(resp.Body), tok.Token) || strings.Contains(string(resp.Body), sha256Hex(tok.Token)) {
				t.Fatal("the list holds a raw token or a hash")
			}
		}
		var body struct{ Data []map[string]any }
		if err := json.Unmarshal(resp.Body, &body); err != nil {
			t.Fatal(err)
		}
		for _, tok := range body.Data {
			if len(tok) != 7 || tok["token"] != nil {
				t.Fatalf("listed token has members %v, want the seed's seven", tok)
			}
		}
	})
	t.Run("ensure another account's tokens are not listed", func(t *testing.T) {
		_, other := e.account(t, "bob@example.com")
		r, err := e.client(t, other).ListTokensWithResponse(ctx)
		if err != nil || r.JSON200 == nil || len(r.JSON200.Data) != 1 || r.JSON200.Data[0].Id == created[0].Id {
			t.Fatalf("bob sees %v", r.JSON200)
		}
		_ = acct
	})
	t.Run("ensure missing auth is 401 UNAUTHORIZED", func(t *testing.T) {
		r, err := e.client(t, "").ListTokensWithResponse(ctx)
		if err != nil || r.StatusCode() != http.StatusUnauthorized || r.JSON401 == nil || r.JSON401.Error.Code != api.CodeUnauthorized {
			t.Fatalf("%v %s", err, r.Body)
		}
	})
}

func TestRevokeToken(t *testing.T) {
	e := newEnv(t)
	_, raw := e.account(t, "alice@example.com")
	_, bobRaw := e.account(t, "bob@example.com")
	c := e.client(t, raw)
	ctx := context.Background()

	newToken := func(t *testing.T) api.CreatedToken {
		t.Helper()
		resp, err := c.CreateTokenWithResponse(ctx, api.CreateTokenRequest{Name: "victim"})
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("%v %s", err, resp.Body)
		}
		return resp.JSON200.Data
	}

	t.Run("ensure a revoked token is refused on its very next use", func(t *testing.T) {
		victim := newToken(t)
		if r, err := e.client(t, victim.Token).ListTokensWithResponse(ctx); err != nil || r.StatusCode() != http.StatusOK {
			t.Fatal("the token does not work before revocation")
		}
		r, err := c.RevokeTokenWithResponse(ctx, victim.Id)
		if err != nil || r.JSON200 == nil || r.JSON200.Data != api.Revoked || string(r.Body) != `{"data":"revoked"}`+"\n" {
			t.Fatalf("%v %s", err, r.Body)
		}
		after, err := e.client(t, victim.Token).ListTokensWithResponse(ctx)
		if err != nil || after.StatusCode() != http.StatusUnauthorized || after.JSON401 == nil {
			t.Fatalf("revoked token answered %d", after.StatusCode())
		}
		if got := after.HTTPResponse.Header.Get("WWW-Authenticate"); got != `Bearer realm="hzel", error="invalid_token"` {
			t.Fatalf("WWW-Authenticate = %q", got)
		}
	})

	t.Run("ensure a token may revoke itself", func(t *testing.T) {
		self := newToken(t)
		selfClient := e.client(t, self.Token)
		if r, err := selfClient.RevokeTokenWithResponse(ctx, self.Id); err != nil || r.StatusCode() != http.StatusOK {
			t.Fatalf("self-revoke: %v %s", err, r.Body)
		}
		if r, _ := selfClient.ListTokensWithResponse(ctx); r.StatusCode() != http.StatusUnauthorized {
			t.Fatalf("self-revoked token answered %d", r.StatusCode())
		}
	})

	t.Run("ensure an unknown id is 404 NOT_FOUND", func(t *testing.T) {
		r, err := c.RevokeTokenWithResponse(ctx, uuid.Must(uuid.NewV7()))
		if err != nil || r.StatusCode() != http.StatusNotFound || r.JSON404 == nil || r.JSON404.Error.Code != api.CodeNotFound {
			t.Fatalf("%v %s", err, r.Body)
		}
	})

	t.Run("ensure another account's token is 404 NOT_FOUND and keeps working", func(t *testing.T) {
		victim := newToken(t)
		r, err := e.client(t, bobRaw).RevokeTokenWithResponse(ctx, victim.Id)
		if err != nil || r.StatusCode() != http.StatusNotFound || r.JSON404 == nil || r.JSON404.Error.Code != api.CodeNotFound {
			t.Fatalf("%v %s", err, r.Body)
		}
		if r, _ := e.client(t, victim.Token).ListTokensWithResponse(ctx); r.StatusCode() != http.StatusOK {
			t.Fatal("bob's attempt revoked alice's token")
		}
	})

	t.Run("ensure an already revoked token is 404 NOT_FOUND", func(t *testing.T) {
		victim := newToken(t)
		if r, _ := c.RevokeTokenWithResponse(ctx, victim.Id); r.StatusCode() != http.StatusOK {
			t.Fatal("first revoke failed")
		}
		r, err := c.RevokeTokenWithResponse(ctx, victim.Id)
		if err != nil || r.StatusCode() != http.StatusNotFound || r.JSON404 == nil {
			t.Fatalf("%v %s", err, r.Body)
		}
	})

	t.Run("ensure an id that is not a UUID is 400 VALIDATION_FAILED", func(t *testing.T) {
		for _, id := range []string{"nope", "123", "01942cf7-8c1a-7b2e-9f3d-5a6b7c8d9e0fff", "%00"} {
			r := e.do(t, http.MethodDelete, "/api/v1/tokens/"+id, bearer(raw), "")
			detail := expectError(t, r, http.StatusBadRequest, api.CodeValidationFailed)
			if !strings.Contains(detail.Message, "id") {
				t.Fatalf("message %q does not name id", detail.Message)
			}
		}
	})

	t.Run("ensure missing auth is 401 UNAUTHORIZED", func(t *testing.T) {
		victim := newToken(t)
		r, err := e.client(t, "").RevokeTokenWithResponse(ctx, victim.Id)
		if err != nil || r.StatusCode() != http.StatusUnauthorized || r.JSON401 == nil {
			t.Fatalf("%v %s", err, r.Body)
		}
	})
}

func TestConcurrentCreation(t *testing.T) {
	e := newEnv(t)
	_, raw := e.account(t, "alice@example.com")
	c := e.client(t, raw)
	const n = 40
	var wg sync.WaitGroup
	tokens := make([]string, n)
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			resp, err := c.CreateTokenWithResponse(context.Background(), api.CreateTokenRequest{Name: fmt.Sprintf("t%d", i)})
			if err != nil || resp.JSON200 == nil {
				errs <- fmt.Errorf("create %d: %v %s", i, err, resp.Body)
				return
			}
			tokens[i] = resp.JSON200.Data.Token
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seen := map[string]bool{}
	for _, tok := range tokens {
		if seen[tok] {
			t.Fatal("two concurrent creations returned the same token")
		}
		seen[tok] = true
	}
	resp, err := c.ListTokensWithResponse(context.Background())
	if err != nil || resp.JSON200 == nil || len(resp.JSON200.Data) != n+1 {
		t.Fatalf("ensure every concurrently created token is kept: listed %d, want %d", len(resp.JSON200.Data), n+1)
	}
}
