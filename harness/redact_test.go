package harness

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"http://127.0.0.1:8080/api", "http://127.0.0.1:8080/api"},
		{"http://admin:hunter2@127.0.0.1:8080/api", "http://xxxxx@127.0.0.1:8080/api"},
		{"https://tok3n@127.0.0.1/", "https://xxxxx@127.0.0.1/"},
		{"http://admin:p@ss@127.0.0.1:1/x?q=a@b", "http://xxxxx@127.0.0.1:1/x?q=a@b"},
		{"admin:hunter2@127.0.0.1:4318", "xxxxx@127.0.0.1:4318"},
		{"/local?mail=a@b", "/local?mail=a@b"},
		{"http://admin:hunter2@127.0.0.1:99999999/api", "http://xxxxx@127.0.0.1:99999999/api"}, // does not parse
		{"http://admin:hun ter2@127.0.0.1:1/api", "http://xxxxx@127.0.0.1:1/api"},
		{"admin:hunter2@127.0.0.1:7", "xxxxx@127.0.0.1:7"},
		{"http://127.0.0.1:1/a@b#c@d", "http://127.0.0.1:1/a@b#c@d"},
	} {
		if got := RedactURL(c.in); got != c.want {
			t.Errorf("RedactURL(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

func TestRedactText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`Get "http://admin:hunter2@127.0.0.1:1/api": dial tcp 127.0.0.1:1: connect: connection refused`,
			`Get "http://xxxxx@127.0.0.1:1/api": dial tcp 127.0.0.1:1: connect: connection refused`},
		{`parse "http://a:p\"w@@127.0.0.1:x/": invalid port`, `parse "http://xxxxx@127.0.0.1:x/": invalid port`},
		{"--target 'b=https://u:p@h/api' --collateral http://h/local mail me@example.com",
			"--target 'b=https://xxxxx@h/api' --collateral http://h/local mail me@example.com"},
		{"no urls here", "no urls here"},
	} {
		got := RedactText(c.in)
		if got != c.want {
			t.Errorf("RedactText(%q) = %q; want %q", c.in, got, c.want)
		}
		if strings.Contains(got, "hunter2") {
			t.Errorf("RedactText(%q) kept the password", c.in)
		}
	}
}
