package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hzel/hzel/gen/api"
	"github.com/hzel/hzel/server"
	"github.com/hzel/hzel/server/token"
)

// create runs `hzel tokens create --json --name name args…` and returns the new token.
func create(t *testing.T, a testAPI, name string, args ...string) api.CreatedToken {
	t.Helper()
	r := hzel(t, a.env(), "", append([]string{"tokens", "create", "--json", "--name", name}, args...)...)
	if r.code != 0 {
		t.Fatalf("create %q: exit %d: %s", name, r.code, r.stderr)
	}
	var got api.CreatedToken
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("create --json printed %q: %v", r.stdout, err)
	}
	return got
}

// listJSON runs `hzel tokens list --json` with the token raw and returns the tokens.
func listJSON(t *testing.T, a testAPI, raw string) []api.Token {
	t.Helper()
	r := hzel(t, map[string]string{"HZEL_URL": a.url, "HZEL_TOKEN": raw}, "", "tokens", "list", "--json")
	if r.code != 0 {
		t.Fatalf("list: exit %d: %s", r.code, r.stderr)
	}
	var got []api.Token
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("list --json printed %q: %v", r.stdout, err)
	}
	return got
}

func TestCreate(t *testing.T) {
	t.Parallel()
	a := newAPI(t)

	t.Run("ensure create prints the token alone on stdout and the rest on stderr", func(t *testing.T) {
		r := hzel(t, a.env(), "", "tokens", "create", "--name", "CI deploy key", "--expires-at", "2099-01-01T02:00:00+02:00")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		raw, ok := strings.CutSuffix(r.stdout, "\n")
		if !ok || strings.Contains(raw, "\n") {
			t.Fatalf("stdout is not one line: %q", r.stdout)
		}
		if _, err := token.Parse(raw); err != nil {
			t.Fatalf("stdout %q is not a token: %v", raw, err)
		}
		mine := listJSON(t, a, raw) // the new token works
		if mine[0].Name != "CI deploy key" || mine[0].Prefix != raw[:13] {
			t.Fatalf("newest token is %+v, want the one just created", mine[0])
		}
		want := `Created token "CI deploy key" (id ` + mine[0].Id.String() + `, prefix ` + raw[:13] +
			"), which expires 2099-01-01T00:00:00Z.\nCopy it now: it will not be shown again.\n"
		if r.stderr != want {
			t.Fatalf("stderr:\n%s\nwant:\n%s", r.stderr, want)
		}
	})

	t.Run("ensure create --json prints the API's data, token included", func(t *testing.T) {
		r := hzel(t, a.env(), "", "tokens", "create", "--json", "--name", "script")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var data map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &data); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
		}
		for _, k := range []string{"token", "id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"} {
			if _, ok := data[k]; !ok {
				t.Fatalf("stdout lacks %q: %s", k, r.stdout)
			}
		}
		raw, _ := data["token"].(string)
		if _, err := token.Parse(raw); err != nil || data["name"] != "script" || data["expires_at"] != nil {
			t.Fatalf("unexpected data (token parses: %v): %s", err, r.stdout)
		}
		if !strings.Contains(r.stderr, "will not be shown again") {
			t.Fatalf("stderr lacks the warning: %s", r.stderr)
		}
	})

	day := 24 * time.Hour
	cases := []struct {
		name string
		args []string
		want time.Duration // from now; 0 means no expiry
	}{
		{"no expiry flag never expires", nil, 0},
		{"--expires-in 30d lasts 30 days", []string{"--expires-in", "30d"}, 30 * day},
		{"--expires-in 12h lasts 12 hours", []string{"--expires-in", "12h"}, 12 * time.Hour},
		{"--expires-in 2w lasts 14 days", []string{"--expires-in", "2w"}, 14 * day},
		{"--expires-in 1w3d12h lasts 10.5 days", []string{"--expires-in", "1w3d12h"}, 10*day + 12*time.Hour},
		{"--expires-at with an offset is kept, in UTC", []string{"--expires-at", "2099-06-30T23:30:00-01:00"}, time.Until(time.Date(2099, 7, 1, 0, 30, 0, 0, time.UTC))},
	}
	for _, tc := range cases {
		t.Run("ensure "+tc.name, func(t *testing.T) {
			got := create(t, a, tc.name, tc.args...)
			if tc.want == 0 {
				if got.ExpiresAt != nil {
					t.Fatalf("expires_at = %v, want null", got.ExpiresAt)
				}
				return
			}
			if got.ExpiresAt == nil {
				t.Fatal("expires_at is null")
			}
			if d := time.Until(*got.ExpiresAt) - tc.want; d < -time.Minute || d > time.Minute {
				t.Fatalf("expires_at = %v, %v off %v from now", got.ExpiresAt, d, tc.want)
			}
		})
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	created := create(t, a, "deploy key", "--expires-at", "2099-01-01T00:00:00Z")
	never := create(t, a, "laptop")
	// The API refuses a past expiry, so the expired token comes from the server package.
	past := time.Now().Add(-time.Hour)
	if _, _, err := server.IssueToken(context.Background(), a.queries, a.account, "old", &past, past.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	raws := []string{a.token, created.Token, never.Token}

	t.Run("ensure list prints an aligned table of every token, newest first", func(t *testing.T) {
		r := hzel(t, a.env(), "", "tokens", "list")
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		rows := table(t, r.stdout)
		want := [][]string{
			{"", "old", "", "", "(expired)", "never"},
			{never.Id.String(), "laptop", never.Prefix, formatTime(never.CreatedAt), "never", "never"},
			{created.Id.String(), "deploy key", created.Prefix, formatTime(created.CreatedAt), "2099-01-01T00:00:00Z", "never"},
			{"", "bootstrap", a.token[:13], "", "never", "20"}, // used by this very list
		}
		if len(rows) != len(want) {
			t.Fatalf("%d rows, want %d:\n%s", len(rows), len(want), r.stdout)
		}
		for i, w := range want {
			for j, cell := range w {
				// Empty wants are not checked; "(expired)" and "20" are checked as parts.
				if cell != "" && rows[i][j] != cell && !strings.Contains(rows[i][j], cell) {
					t.Fatalf("row %d column %d is %q, want %q:\n%s", i, j, rows[i][j], cell, r.stdout)
				}
			}
		}
		for _, raw := range raws {
			if strings.Contains(r.stdout, raw) {
				t.Fatalf("list printed a raw token:\n%s", r.stdout)
			}
		}
	})

	t.Run("ensure list --json prints the API's data without raw tokens", func(t *testing.T) {
		r := hzel(t, a.env(), "", "tokens", "list", "--json")
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var data []map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &data); err != nil || len(data) != 4 {
			t.Fatalf("stdout is not the 4 tokens (%v):\n%s", err, r.stdout)
		}
		if data[2]["id"] != created.Id.String() || data[2]["expires_at"] != "2099-01-01T00:00:00Z" || data[2]["last_used_at"] != nil {
			t.Fatalf("third token is %v, want %+v", data[2], created)
		}
		for _, tok := range data {
			if _, ok := tok["token"]; ok {
				t.Fatalf("a listed token has a token member: %v", tok)
			}
		}
		for _, raw := range raws {
			if strings.Contains(r.stdout, raw) {
				t.Fatalf("list --json printed a raw token:\n%s", r.stdout)
			}
		}
	})
}

// table splits tabwriter output into cells, by where each heading starts: the cells must line
// up under the headings.
func table(t *testing.T, out string) [][]string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	heads := regexp.MustCompile(`\S+( \S+)*`).FindAllStringIndex(lines[0], -1)
	var names []string
	for _, h := range heads {
		names = append(names, lines[0][h[0]:h[1]])
	}
	if got := strings.Join(names, "|"); got != "ID|NAME|PREFIX|CREATED|EXPIRES|LAST USED" {
		t.Fatalf("headings are %s:\n%s", got, out)
	}
	var rows [][]string
	for _, line := range lines[1:] {
		var row []string
		for i, h := range heads {
			end := len(line)
			if i+1 < len(heads) {
				end = heads[i+1][0]
			}
			// Every cell has a value, starting right under its heading.
			if len(line) <= h[0] || line[h[0]] == ' ' || (h[0] > 0 && line[h[0]-1] != ' ') {
				t.Fatalf("column %s is not aligned:\n%s", names[i], out)
			}
			row = append(row, strings.TrimSpace(line[h[0]:end]))
		}
		rows = append(rows, row)
	}
	return rows
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	victim := create(t, a, "to revoke")
	id := victim.Id.String()

	t.Run("ensure revoke confirms in one line", func(t *testing.T) {
		r := hzel(t, a.env(), "", "tokens", "revoke", id)
		if r.code != 0 || r.stdout != "Revoked token "+id+".\n" || r.stderr != "" {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("ensure a revoked token leaves the list", func(t *testing.T) {
		for _, tok := range listJSON(t, a, a.token) {
			if tok.Id == victim.Id {
				t.Fatalf("revoked token still listed: %+v", tok)
			}
		}
		r := hzel(t, a.env(), "", "tokens", "list")
		if strings.Contains(r.stdout, id) {
			t.Fatalf("revoked token still in the table:\n%s", r.stdout)
		}
	})

	t.Run("ensure a revoked token is refused", func(t *testing.T) {
		r := hzel(t, map[string]string{"HZEL_URL": a.url, "HZEL_TOKEN": victim.Token}, "", "tokens", "list")
		if r.code != 1 || r.stderr != "hzel: 401 UNAUTHORIZED: invalid, expired or revoked token\n" {
			t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
		}
	})

	t.Run("ensure revoking again fails with NOT_FOUND", func(t *testing.T) {
		r := hzel(t, a.env(), "", "tokens", "revoke", id)
		if r.code != 1 || r.stdout != "" || r.stderr != "hzel: 404 NOT_FOUND: token not found\n" {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("ensure revoke --json prints the API's data", func(t *testing.T) {
		other := create(t, a, "other")
		r := hzel(t, a.env(), "", "tokens", "revoke", "--json", other.Id.String())
		if r.code != 0 || r.stdout != "\"revoked\"\n" {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
	})
}
