package main

import (
	"testing"
	"time"

	"github.com/hzel/hzel/gen/api"
)

func TestDecodeAPIError(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   apiError
		text   string
	}{
		{"the envelope gives code and message", 401, `{"error":{"code":"UNAUTHORIZED","message":"invalid, expired or revoked token"}}`,
			apiError{401, api.CodeUnauthorized, "invalid, expired or revoked token"}, "401 UNAUTHORIZED: invalid, expired or revoked token"},
		{"a code unknown to this SDK is kept", 429, `{"error":{"code":"RATE_LIMITED","message":"slow down"}}`,
			apiError{429, "RATE_LIMITED", "slow down"}, "429 RATE_LIMITED: slow down"},
		{"an envelope without message falls back to the status text", 500, `{"error":{"code":"INTERNAL_ERROR"}}`,
			apiError{500, api.CodeInternalError, "Internal Server Error"}, "500 INTERNAL_ERROR: Internal Server Error"},
		{"an HTML page falls back to the status", 502, `<html><body>Bad Gateway</body></html>`,
			apiError{502, "", "Bad Gateway"}, "502 Bad Gateway (not a response from the hzel API)"},
		{"an empty body falls back to the status", 503, ``,
			apiError{503, "", "Service Unavailable"}, "503 Service Unavailable (not a response from the hzel API)"},
		{"other JSON falls back to the status", 404, `{"message":"no route"}`,
			apiError{404, "", "Not Found"}, "404 Not Found (not a response from the hzel API)"},
		{"an unknown status still reads", 599, `oops`,
			apiError{599, "", "unexpected HTTP status"}, "599 unexpected HTTP status (not a response from the hzel API)"},
	}
	for _, tc := range cases {
		t.Run("ensure "+tc.name, func(t *testing.T) {
			got := decodeAPIError(tc.status, []byte(tc.body))
			if *got != tc.want || got.Error() != tc.text {
				t.Fatalf("got %+v %q, want %+v %q", *got, got.Error(), tc.want, tc.text)
			}
		})
	}
}

func TestParseLifetime(t *testing.T) {
	day := 24 * time.Hour
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * day, true},
		{"2w", 14 * day, true},
		{"1w3d", 10 * day, true},
		{"1d12h", 36 * time.Hour, true},
		{"12h1d", 36 * time.Hour, true},
		{"1.5d", 36 * time.Hour, true},
		{".5w", 84 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"-1d", -day, true}, // parsed; refused as not positive by the caller
		{"", 0, false},
		{"30", 0, false},
		{"d", 0, false},
		{"30D", 0, false},
		{"3 d", 0, false},
		{"30dd", 0, false},
		{"1y", 0, false},
		{"99999999999w", 0, false}, // overflows
	}
	for _, tc := range cases {
		name := "ensure " + tc.in + " is refused"
		if tc.ok {
			name = "ensure " + tc.in + " is " + tc.want.String()
		}
		t.Run(name, func(t *testing.T) {
			got, err := parseLifetime(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("parseLifetime(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}
