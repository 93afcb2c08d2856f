package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/hzel/hzel/gen/api"
)

// client runs the tokens commands against one server and writes their output.
type client struct {
	sdk            *api.ClientWithResponses
	url            string
	json           bool
	stdout, stderr io.Writer
}

// create creates a token and prints it alone on stdout, so that $(hzel tokens create …)
// captures exactly the token; everything meant for people goes to stderr.
func (c *client) create(ctx context.Context, req api.CreateTokenRequest) error {
	resp, err := c.sdk.CreateTokenWithResponse(ctx, req)
	if err != nil {
		return c.requestError(err)
	}
	if resp.JSON200 == nil {
		return decodeAPIError(resp.StatusCode(), resp.Body)
	}
	t := resp.JSON200.Data
	if c.json {
		err = writeJSON(c.stdout, t)
	} else {
		_, err = fmt.Fprintln(c.stdout, t.Token)
	}
	if err != nil {
		// The only copy of the token is lost: the token must not be left working.
		return fmt.Errorf("created token %s but could not print it (%w): revoke it with 'hzel tokens revoke %s'", t.Id, err, t.Id)
	}
	expires := "never expires"
	if t.ExpiresAt != nil {
		expires = "expires " + formatTime(*t.ExpiresAt)
	}
	fmt.Fprintf(c.stderr, "Created token %q (id %s, prefix %s), which %s.\n"+
		"Copy it now: it will not be shown again.\n", t.Name, t.Id, t.Prefix, expires)
	return nil
}

// list prints the caller's tokens, newest first as the API sends them.
func (c *client) list(ctx context.Context) error {
	resp, err := c.sdk.ListTokensWithResponse(ctx)
	if err != nil {
		return c.requestError(err)
	}
	if resp.JSON200 == nil {
		return decodeAPIError(resp.StatusCode(), resp.Body)
	}
	tokens := resp.JSON200.Data
	if c.json {
		if tokens == nil {
			tokens = []api.Token{} // scripts get [], never null
		}
		return writeJSON(c.stdout, tokens)
	}
	now := time.Now()
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tCREATED\tEXPIRES\tLAST USED")
	for _, t := range tokens {
		expires, lastUsed := "never", "never"
		if t.ExpiresAt != nil {
			expires = formatTime(*t.ExpiresAt)
			// The API lists expired tokens so that people can clean them up: point them out.
			if !t.ExpiresAt.After(now) {
				expires += " (expired)"
			}
		}
		if t.LastUsedAt != nil {
			lastUsed = formatTime(*t.LastUsedAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Id, t.Name, t.Prefix, formatTime(t.CreatedAt), expires, lastUsed)
	}
	return tw.Flush()
}

// revoke revokes the token with the given id.
func (c *client) revoke(ctx context.Context, id uuid.UUID) error {
	resp, err := c.sdk.RevokeTokenWithResponse(ctx, id)
	if err != nil {
		return c.requestError(err)
	}
	if resp.JSON200 == nil {
		return decodeAPIError(resp.StatusCode(), resp.Body)
	}
	if c.json {
		return writeJSON(c.stdout, resp.JSON200.Data)
	}
	_, err = fmt.Fprintf(c.stdout, "Revoked token %s.\n", id)
	return err
}

// requestError reports a call that got no usable response. A *url.Error would repeat the
// whole request URL; the server's address is what people need to check.
func (c *client) requestError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return fmt.Errorf("cannot reach the hzel API at %s: %w", c.url, ue.Err)
	}
	return fmt.Errorf("unreadable response from %s: %w", c.url, err)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// formatTime is how every time is shown to people: RFC 3339 in UTC, to the second.
func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

// dayOrWeek matches a count of days or weeks, the units --expires-in adds to Go's.
var dayOrWeek = regexp.MustCompile(`([0-9]*\.?[0-9]+)([dw])`)

// parseLifetime parses a Go duration that may also count days (d) and weeks (w): 30d, 2w,
// 1d12h. Go's units have no d or w in them, so each such count is rewritten in hours.
func parseLifetime(s string) (time.Duration, error) {
	inHours := dayOrWeek.ReplaceAllStringFunc(s, func(m string) string {
		n, _ := strconv.ParseFloat(m[:len(m)-1], 64) // the pattern guarantees a number
		hours := n * 24
		if m[len(m)-1] == 'w' {
			hours *= 7
		}
		return strconv.FormatFloat(hours, 'f', -1, 64) + "h"
	})
	return time.ParseDuration(inHours)
}
