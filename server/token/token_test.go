package token

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	t.Run("ensure a new token has the documented shape and parses", func(t *testing.T) {
		s, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		raw := s.Reveal()
		if len(raw) != 40 || !strings.HasPrefix(raw, "hzel_") {
			t.Fatalf("token %q: want 40 characters starting hzel_", raw)
		}
		for _, c := range raw[len(Prefix):] {
			if !strings.ContainsRune(alphabet, c) {
				t.Fatalf("token %q has non-base62 character %q", raw, c)
			}
		}
		if _, err := Parse(raw); err != nil {
			t.Fatalf("Parse(Generate()) = %v", err)
		}
		if got := s.DisplayPrefix(); got != raw[:13] {
			t.Fatalf("DisplayPrefix = %q, want %q", got, raw[:13])
		}
		if s.Hash() != sha256.Sum256([]byte(raw)) {
			t.Fatal("Hash is not the SHA-256 of the whole token")
		}
	})

	t.Run("ensure tokens do not repeat and use the whole alphabet", func(t *testing.T) {
		seen := make(map[string]bool)
		chars := make(map[rune]int)
		for range 2000 {
			s, err := Generate()
			if err != nil {
				t.Fatal(err)
			}
			if seen[s.Reveal()] {
				t.Fatalf("token repeated: %s", s.DisplayPrefix())
			}
			seen[s.Reveal()] = true
			for _, c := range s.Reveal()[len(Prefix) : len(Prefix)+randomLength] {
				chars[c]++
			}
		}
		// 58,000 characters over 62 symbols: each is expected ~935 times; a symbol missing or
		// under a third of that means the sampling is broken, not unlucky.
		for _, c := range alphabet {
			if chars[c] < 300 {
				t.Fatalf("character %q drawn %d times in 58000: sampling is biased", c, chars[c])
			}
		}
	})
}

func TestParse(t *testing.T) {
	good, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	raw := good.Reveal()
	flipped := []byte(raw)
	if flipped[10] == 'a' {
		flipped[10] = 'b'
	} else {
		flipped[10] = 'a'
	}
	for _, tc := range []struct {
		name, in string
	}{
		{"empty", ""},
		{"prefix only", "hzel_"},
		{"seed example without valid checksum", "hzel_AbCdEfGhIjKlMnOpQrStUvWxYz012345678"},
		{"one character changed", string(flipped)},
		{"too short", raw[:39]},
		{"too long", raw + "0"},
		{"wrong prefix", "hzal_" + raw[5:]},
		{"upper-case prefix", "HZEL_" + raw[5:]},
		{"non-base62 character", raw[:20] + "-" + raw[21:]},
		{"trailing space", raw[:39] + " "},
		{"non-ASCII", raw[:38] + "é"},
	} {
		t.Run("ensure "+tc.name+" is refused", func(t *testing.T) {
			if _, err := Parse(tc.in); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(%q) = %v, want ErrMalformed", tc.in, err)
			}
		})
	}
}

func TestSecretRedacts(t *testing.T) {
	s, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("made", "token", s)
	for name, out := range map[string]string{
		"%v":   fmt.Sprintf("%v", s),
		"%s":   fmt.Sprintf("%s", s),
		"%+v":  fmt.Sprintf("%+v", s),
		"%#v":  fmt.Sprintf("%#v", s),
		"slog": logged.String(),
		"err":  fmt.Errorf("wrapped %v", s).Error(),
	} {
		if strings.Contains(out, s.Reveal()[len(Prefix):]) {
			t.Errorf("ensure %s does not print the token: got %q", name, out)
		}
	}
}

func FuzzParse(f *testing.F) {
	s, err := Generate()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s.Reveal())
	f.Add("hzel_AbCdEfGhIjKlMnOpQrStUvWxYz012345678")
	f.Add("")
	f.Add("hzel_")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Parse(in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(%q) returned %v, not ErrMalformed", in, err)
			}
			return
		}
		// Whatever parses is exactly a token: it round-trips and its checksum is its own.
		if got.Reveal() != in || len(in) != Length || got.DisplayPrefix() != in[:DisplayPrefixLength] {
			t.Fatalf("Parse(%q) accepted something that is not a token", in)
		}
		body := []byte(in[len(Prefix) : len(Prefix)+randomLength])
		if string(appendChecksum(nil, body)) != in[len(Prefix)+randomLength:] {
			t.Fatalf("Parse(%q) accepted a bad checksum", in)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	s, err := Generate()
	if err != nil {
		b.Fatal(err)
	}
	raw := s.Reveal()
	for b.Loop() {
		if _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func TestKinds(t *testing.T) {
	kinds := []Kind{PAT, Session, ClientSecret, AuthCode, AccessToken, RefreshToken}
	seen := map[string]bool{}
	for _, k := range kinds {
		if len(k.Prefix()) != prefixLength || seen[k.Prefix()] {
			t.Fatalf("prefix %q: every kind needs its own 5-character prefix", k.Prefix())
		}
		seen[k.Prefix()] = true
	}
	for _, k := range kinds {
		s, err := k.Generate()
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range kinds {
			_, err := other.Parse(s.Reveal())
			if (other == k) != (err == nil) {
				t.Errorf("ensure a %s secret parses only as its own kind: %s.Parse = %v", k.Prefix(), other.Prefix(), err)
			}
		}
		if !strings.HasPrefix(s.String(), k.Prefix()) || strings.Contains(s.String(), s.Reveal()[prefixLength:]) {
			t.Errorf("String() = %q: want the prefix and no secret", s.String())
		}
	}
}
