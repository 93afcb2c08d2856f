package password

import (
	"errors"
	"strings"
	"testing"
)

func TestHashAndVerify(t *testing.T) {
	h, err := Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h, "correct horse") {
		t.Fatalf("hash %q: want PHC argon2id with the stated parameters and no plaintext", h)
	}
	for _, tc := range []struct {
		name string
		pw   string
		want bool
	}{
		{"the right password", "correct horse battery staple", true},
		{"a wrong password", "correct horse battery stapler", false},
		{"a different case", "Correct horse battery staple", false},
		{"the empty password", "", false},
	} {
		t.Run("ensure "+tc.name+" verifies "+map[bool]string{true: "true", false: "false"}[tc.want], func(t *testing.T) {
			got, err := Verify(tc.pw, h)
			if err != nil || got != tc.want {
				t.Fatalf("Verify = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	t.Run("ensure two hashes of one password differ (salted)", func(t *testing.T) {
		h2, err := Hash("correct horse battery staple")
		if err != nil || h2 == h {
			t.Fatalf("same hash twice: %v", err)
		}
	})
}

func TestVerifyMalformed(t *testing.T) {
	for _, h := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$AAAA$AAAA", "$argon2id$v=18$m=1,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=x$AAAA$AAAA", "$argon2id$v=19$m=1,t=1,p=1$!!$AAAA"} {
		if _, err := Verify("pw", h); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("ensure %q is refused as malformed: %v", h, err)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{"short", false},
		{"12345678", true},
		{strings.Repeat("é", 256), true},
		{strings.Repeat("x", 257), false},
		{"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", false},
	} {
		if err := Check(tc.pw); (err == nil) != tc.ok {
			t.Errorf("ensure Check(%d chars) ok=%v: %v", len(tc.pw), tc.ok, err)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	for b.Loop() {
		if _, err := Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
