package docs

import "testing"

func TestCheckScriptText(t *testing.T) {
	tests := []struct {
		name   string
		script string
		ok     bool
	}{
		{"plain code", `let a = 1 < 2;`, true},
		{"an end tag in a string", `let a = "</script>";`, false},
		{"an end tag in capitals", `let a = "</SCRIPT ";`, false},
		{"an escaped end tag", `let a = "<\/script>";`, true},
		{"a comment opener then a script tag", `let a = "<!--", b = "<script>";`, false},
		{"a closed comment then a script tag", `let a = "<!-- -->", b = "<script>";`, true},
		{"a comment that closes at once", `let a = "<!-->", b = "<script>";`, true},
		{"a comment opener alone", `let a = "<!--";`, true},
		{"a second comment with a script tag", `"<!-- -->" + "<!--" + "<script>"`, false},
		{"a carriage return", "let a = 1;\r\n", false},
		{"a NUL", "let a = '\x00';", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkScriptText(tt.script)
			if (err == nil) != tt.ok {
				t.Errorf("checkScriptText(%q) = %v, want ok=%v", tt.script, err, tt.ok)
			}
		})
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		header []string
		want   bool
	}{
		{nil, false},
		{[]string{"gzip"}, true},
		{[]string{"br, gzip;q=0.5"}, true},
		{[]string{"GZIP"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0.000"}, false},
		{[]string{"identity", "deflate, gzip"}, true},
		{[]string{"x-gzip2"}, false},
	}
	for _, tt := range tests {
		if got := acceptsGzip(tt.header); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}
