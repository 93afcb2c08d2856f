package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	t.Run("ensure -o writes the page, creating its folder", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "docs", "index.html")
		if err := run([]string{"-o", out}, nil); err != nil {
			t.Fatalf("run: %v", err)
		}
		page, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(page, []byte("<!DOCTYPE html>")) || !bytes.Contains(page, []byte("</html>")) {
			t.Errorf("%s is not a whole HTML page (%d bytes)", out, len(page))
		}
		leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*"))
		if len(leftovers) > 0 {
			t.Errorf("temporary files left behind: %v", leftovers)
		}
	})

	t.Run("ensure no -o writes to standard output", func(t *testing.T) {
		var stdout bytes.Buffer
		if err := run(nil, &stdout); err != nil {
			t.Fatalf("run: %v", err)
		}
		if !strings.HasPrefix(stdout.String(), "<!DOCTYPE html>") {
			t.Errorf("standard output starts %q", stdout.String()[:min(stdout.Len(), 40)])
		}
	})

	t.Run("ensure stray arguments are refused", func(t *testing.T) {
		if err := run([]string{"index.html"}, &bytes.Buffer{}); err == nil {
			t.Error("run accepted an argument it does not use")
		}
	})
}
