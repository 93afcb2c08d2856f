// Package token makes and checks hzel's secrets: Personal Access Tokens and the other
// bearer secrets (sessions, OAuth client secrets, codes, access and refresh tokens).
//
// A secret is a 5-character prefix naming its kind ("hzel_" for a PAT) + 29 random base62
// characters + the 6-character base62 CRC32 (IEEE) of those 29: 40 characters, about 172.7
// bits of randomness. The checksum lets secret scanners recognise a token offline and lets
// the server refuse a mistyped or forged one without touching the database.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"hash/crc32"
	"log/slog"
	"strings"
)

// Kind is a kind of secret, told apart by its prefix.
type Kind struct {
	prefix string
}

// The kinds of secret hzel issues. Each prefix is 5 characters, so every secret is 40.
var (
	PAT          = Kind{"hzel_"}
	Session      = Kind{"hzss_"}
	ClientSecret = Kind{"hzcs_"}
	AuthCode     = Kind{"hzac_"}
	AccessToken  = Kind{"hzat_"}
	RefreshToken = Kind{"hzrt_"}
)

const (
	// Prefix starts every Personal Access Token.
	Prefix = "hzel_"
	// Length is the length of a whole token.
	Length = prefixLength + randomLength + checksumLength
	// DisplayPrefixLength is how much of a token may be shown to tell tokens apart.
	DisplayPrefixLength = prefixLength + 8

	prefixLength   = 5
	randomLength   = 29
	checksumLength = 6
	alphabet       = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// ErrMalformed means a string is not a well-formed hzel token: wrong length, prefix or
// characters, or a checksum that does not match.
var ErrMalformed = errors.New("malformed token")

// Hash is the SHA-256 of a whole token, the only form in which a token is stored.
type Hash [sha256.Size]byte

// Prefix returns the kind's prefix, such as "hzel_".
func (k Kind) Prefix() string { return k.prefix }

// Secret is a raw token. It redacts itself when formatted or logged, so that it cannot reach
// a log line or an error message by accident; Reveal is the one way to read it.
type Secret struct {
	raw string
}

// Generate makes a new random Personal Access Token.
func Generate() (Secret, error) { return PAT.Generate() }

// Parse checks that s is a well-formed Personal Access Token. It looks at nothing but s.
func Parse(s string) (Secret, error) { return PAT.Parse(s) }

// Generate makes a new random secret of kind k.
func (k Kind) Generate() (Secret, error) {
	body := make([]byte, randomLength, randomLength+checksumLength)
	if err := randomBase62(body); err != nil {
		return Secret{}, err
	}
	return Secret{raw: k.prefix + string(appendChecksum(body, body))}, nil
}

// Parse checks that s is a well-formed secret of kind k with a valid checksum. It looks at
// nothing but s.
func (k Kind) Parse(s string) (Secret, error) {
	if len(s) != Length || !strings.HasPrefix(s, k.prefix) {
		return Secret{}, ErrMalformed
	}
	for i := prefixLength; i < len(s); i++ {
		if strings.IndexByte(alphabet, s[i]) < 0 {
			return Secret{}, ErrMalformed
		}
	}
	body := s[prefixLength : prefixLength+randomLength]
	want := appendChecksum(make([]byte, 0, checksumLength), []byte(body))
	if string(want) != s[prefixLength+randomLength:] {
		return Secret{}, ErrMalformed
	}
	return Secret{raw: s}, nil
}

// Hash returns the token's SHA-256.
func (s Secret) Hash() Hash {
	return sha256.Sum256([]byte(s.raw))
}

// DisplayPrefix returns the token's first characters, safe to show and store.
func (s Secret) DisplayPrefix() string {
	return s.raw[:DisplayPrefixLength]
}

// Reveal returns the raw token, to be shown to its owner once.
func (s Secret) Reveal() string {
	return s.raw
}

// String redacts the token, keeping only its kind's prefix.
func (s Secret) String() string {
	if len(s.raw) < prefixLength {
		return "[REDACTED]"
	}
	return s.raw[:prefixLength] + "[REDACTED]"
}

// GoString redacts the token from %#v.
func (s Secret) GoString() string {
	return s.String()
}

// LogValue redacts the token from slog.
func (s Secret) LogValue() slog.Value {
	return slog.StringValue(s.String())
}

// randomBase62 fills b with uniformly random base62 characters.
func randomBase62(b []byte) error {
	// Rejection sampling: 248 = 4*62, so keeping bytes below 248 and reducing modulo 62
	// gives each character exactly the same chance; a plain modulo would favour the first 8.
	var buf [64]byte
	for i := 0; i < len(b); {
		if _, err := rand.Read(buf[:]); err != nil {
			return err
		}
		for _, c := range buf {
			if c >= 248 {
				continue
			}
			b[i] = alphabet[c%62]
			if i++; i == len(b) {
				break
			}
		}
	}
	return nil
}

// appendChecksum appends the 6-character base62 CRC32 of body to dst.
func appendChecksum(dst, body []byte) []byte {
	sum := crc32.ChecksumIEEE(body)
	var out [checksumLength]byte
	for i := checksumLength - 1; i >= 0; i-- {
		out[i] = alphabet[sum%62]
		sum /= 62
	}
	return append(dst, out[:]...)
}
