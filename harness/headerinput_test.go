package harness

import (
	"strings"
	"testing"
)

func TestParseHeaderInput(t *testing.T) {
	if k, v, err := ParseHeader(" Accept :  application/json "); err != nil || k != "Accept" || v != "application/json" {
		t.Fatalf("ParseHeader = %q, %q, %v; want Accept, application/json", k, v, err)
	}
	_, _, err := ParseHeader("Authorization secret-token")
	if err == nil || !strings.Contains(err.Error(), "want 'Name: value'") {
		t.Fatalf("ParseHeader without a colon: %v", err)
	}
	_, _, err = ParseHeader("Bad Name: x")
	if err == nil || !strings.Contains(err.Error(), "want 'Name: value'") {
		t.Fatalf("ParseHeader with a space in the name: %v", err)
	}
	if got := RedactHeader("X-Api-Key: s3cr3t"); strings.Contains(got, "s3cr3t") {
		t.Fatalf("RedactHeader kept the value: %q", got)
	}
	if got := RedactHeader("Accept: text/plain"); got != "Accept: text/plain" {
		t.Fatalf("RedactHeader changed a plain header: %q", got)
	}

	env := map[string]string{"TOKEN": "s3cr3t", "BAD": "a\nb"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if k, v, err := ParseHeaderEnv("Authorization=TOKEN", lookup); err != nil || k != "Authorization" || v != "s3cr3t" {
		t.Fatalf("ParseHeaderEnv = %q, %q, %v", k, v, err)
	}
	for in, want := range map[string]string{
		"Authorization":       "want Name=ENV_VAR",
		"Authorization=1X":    "want Name=ENV_VAR",
		"Authorization=UNSET": "$UNSET is not set or empty",
		"Authorization=BAD":   "control character",
	} {
		_, _, err := ParseHeaderEnv(in, lookup)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("ParseHeaderEnv(%q) = %v; want an error with %q and no value", in, err, want)
		}
	}
	if !ValidMethod("POST") || ValidMethod("post") {
		t.Fatal("ValidMethod: want POST taken and post refused")
	}
}
