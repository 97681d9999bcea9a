package printable

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestString(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"503 Service Unavailable", 0, "503 Service Unavailable"},
		{"503 \x1b]0;pwned\x07\x1b[2J", 0, `503 \x1b]0;pwned\a\x1b[2J`},
		{"run-1\nfake line\r", 0, `run-1\nfake line\r`},
		{"tab\there", 0, `tab\there`},
		{"bidi \u202eevil", 0, `bidi \u202eevil`},
		{"c1 \u009b31m", 0, `c1 \u009b31m`},
		{"bad \xff\xfe utf8", 0, `bad \xff\xfe utf8`},
		{`C:\path "quoted" é ✓`, 0, `C:\path "quoted" é ✓`},
		{"abcdef", 4, "abcd…"},
		{"ab\x1bcd", 4, "ab…"},
		{"ééé", 3, "é…"},
		{"", 5, ""},
	}
	for _, tt := range tests {
		if got := String(tt.in, tt.max); got != tt.want {
			t.Errorf("String(%q, %d) = %q; want %q", tt.in, tt.max, got, tt.want)
		}
	}
	if got := Clip(strings.Repeat("x", 300)); len(got) != MaxLen+len("…") {
		t.Errorf("Clip(300 x) has %d bytes; want %d", len(got), MaxLen+len("…"))
	}
}

func TestLines(t *testing.T) {
	for in, want := range map[string]string{
		"cbload: one\n\tand two": "cbload: one\n\tand two",
		"status \x1b[2J\nnext":   "status \\x1b[2J\nnext",
		"clean":                  "clean",
	} {
		if got := Lines(in); got != want {
			t.Errorf("Lines(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestWriter(t *testing.T) {
	var b strings.Builder
	w := &Writer{W: &b}
	in := "verdict: \x1b[2Jok\n\tnext\r\n"
	n, err := w.Write([]byte(in))
	if err != nil || n != len(in) {
		t.Errorf("Write = %d, %v; want %d, nil", n, err, len(in))
	}
	if got, want := b.String(), "verdict: \\x1b[2Jok\n\tnext\\r\n"; got != want {
		t.Errorf("written %q; want %q", got, want)
	}
}

func TestEcho(t *testing.T) {
	long := strings.Repeat("é", MaxEcho+10)
	for _, tt := range []struct{ in, want string }{
		{"short", "short"},
		{strings.Repeat("a", MaxEcho), strings.Repeat("a", MaxEcho)},
		{long, strings.Repeat("é", MaxEcho) + "…"},
	} {
		if got := Echo(tt.in); got != tt.want {
			t.Errorf("Echo(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestRoughSpan(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{now.Add(90 * time.Second), "1m30s"},
		{now.Add(-25 * time.Hour), "25h0m0s"},
		{now.Add(10 * 24 * time.Hour), "about 10 days"},
		{time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), "about " + strconv.Itoa(9999-2026) + " years"},
		{time.Time{}, "about 2025 years"},
	} {
		if got := RoughSpan(now, c.t); got != c.want {
			t.Errorf("RoughSpan(%v) = %q; want %q", c.t, got, c.want)
		}
	}
}

func TestClipQuoted(t *testing.T) {
	long := strings.Repeat("é", 100)
	for _, c := range []struct{ in, want string }{
		{`--x "short": want y`, `--x "short": want y`},
		{`--x "` + long + `": want ` + long, `--x "` + strings.Repeat("é", 64) + `…": want ` + long},
		{`a "` + strings.Repeat(`\"`, 40) + `" b "` + strings.Repeat("c", 70) + `"`, `a "` + strings.Repeat(`\"`, 32) + `…" b "` + strings.Repeat("c", 64) + `…"`},
		{`bad "` + strings.Repeat("x", 60) + `\x1b[2J` + strings.Repeat("y", 10) + `"`, `bad "` + strings.Repeat("x", 60) + `\x1b…"`},
		{`bad "` + strings.Repeat("x", 62) + `\x1b[2J` + strings.Repeat("y", 10) + `"`, `bad "` + strings.Repeat("x", 62) + `…"`},
		{`unclosed "` + strings.Repeat("z", 100), `unclosed "` + strings.Repeat("z", 100)},
		{`e "` + strings.Repeat("x", 62) + `\u00e9" f`, `e "` + strings.Repeat("x", 62) + `…" f`},
		{`e "` + strings.Repeat("x", 58) + `\u00e9y" f`, `e "` + strings.Repeat("x", 58) + `\u00e9…" f`},
	} {
		if got := ClipQuoted(c.in); got != c.want {
			t.Errorf("ClipQuoted(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}
