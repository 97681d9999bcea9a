package reports_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cbload/cbload/reports"
)

// doubling builds a string of 2^n bytes by doubling it n times.
func doubling(n int) string {
	return `{{$x := "ab"}}` + strings.Repeat(`{{$x = printf "%s%s" $x $x}}`, n) + `{{len $x}}`
}

// TestSummaryTemplateLimits runs templates that would exhaust memory or
// run for ages: each stops at its limit with a TemplateError naming it,
// quickly, and writes nothing.
func TestSummaryTemplateLimits(t *testing.T) {
	r := sample(t)
	tests := []struct {
		name, text, want string
	}{
		{"string doubled 40 times", doubling(40), "MiB of strings a template may build"},
		{"string doubled 40 times with print", `{{$x := "ab"}}` + strings.Repeat(`{{$x = print $x $x}}`, 40), "MiB of strings a template may build"},
		{"many strings of 512 KiB", doubling(18) + strings.Repeat(`{{$y := printf "%s" $x}}`, 40), "MiB of strings a template may build"},
		{"huge widths", `{{$y := printf "%999999d%999999d%999999d%999999d%999999d" 1 2 3 4 5}}`, "MiB output limit"},
		{"many huge widths", strings.Repeat(`{{$y := printf "%999999d%999999d%999999d" 1 2 3}}`, 40), "MiB of strings a template may build"},
		{"range over a huge number", `{{range 1000000000000}}{{end}}`, "more than the 1000000 loop iterations"},
		{"range over a number from the report", `{{range .StartedAt.Unix}}{{end}}`, "more than the 1000000 loop iterations"},
		{"nested ranges", `{{range 1000}}{{range 1000}}{{range 1000}}{{end}}{{end}}{{end}}`, "more than the 1000000 loop iterations"},
		{"ranges in a loop of range with a declaration", `{{range $i, $a := .Arms}}{{range 999999}}{{end}}{{end}}`, "more than the 1000000 loop iterations"},
		// text/template stops recursion 100,000 deep, before the
		// guard's count: binary recursion ends with the first branch,
		// in about 3 s (6 s with -race), within the time limit.
		{"binary recursion", `{{define "t"}}{{template "t" .}}{{template "t" .}}{{end}}{{template "t" .}}`, "exceeded maximum template depth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := reports.ParseSummaryTemplate(tt.text)
			if err != nil {
				t.Fatalf("ParseSummaryTemplate: %v", err)
			}
			var out bytes.Buffer
			start := time.Now()
			err = tmpl.Execute(context.Background(), &out, r)
			took := time.Since(start)
			var te *reports.TemplateError
			if !errors.As(err, &te) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Execute = %v; want a TemplateError containing %q", err, tt.want)
			} else if wantLimit := !strings.Contains(tt.want, "depth"); te.Limit != wantLimit {
				t.Errorf("Execute = %v, Limit %v; want Limit %v", err, te.Limit, wantLimit)
			}
			if out.Len() != 0 {
				t.Errorf("Execute wrote %d bytes; want nothing on error", out.Len())
			}
			// A limit hit early, not after the work: within the time
			// limit, which stops what the other limits do not.
			if took > reports.SummaryTimeout {
				t.Errorf("Execute took %v; want the limit hit within %v", took, reports.SummaryTimeout)
			}
		})
	}
}

// TestSummaryTemplateWithinLimits: what templates normally do — ranges
// over the report, defined templates, printf — still works.
func TestSummaryTemplateWithinLimits(t *testing.T) {
	r := sample(t)
	text := `{{define "arm"}}{{.Name}}:{{len .Series}}{{end}}` +
		`{{range $i, $a := .Arms}}{{if $i}},{{end}}{{template "arm" $a}}{{end}}` +
		`|{{range 3}}{{.}}{{end}}|{{printf "%.1f%%" 99.44}}|{{print "a" 1}}|{{block "b" .Verdict}}{{.Outcome}}{{end}}|` +
		`{{range .Arms}}{{range .Series}}{{end}}{{end}}{{cbloadGuardTemplate 7}}`
	tmpl, err := reports.ParseSummaryTemplate(text)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(context.Background(), &out, r); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	want := "breaker:16,no-breaker:16|012|99.4%|a1|" + r.Verdict.Outcome + "|7"
	if got := out.String(); got != want {
		t.Errorf("Execute = %q; want %q", got, want)
	}
}

// TestSummaryTemplateCancel: a template stops when its context ends, and
// says so with the context's error.
func TestSummaryTemplateCancel(t *testing.T) {
	r := sample(t)
	// Within every limit, but slow: 10^6 iterations, each writing.
	tmpl, err := reports.ParseSummaryTemplate(`{{range 999999}}{{if ge . 0}}{{end}}{{end}}{{range 1}}x{{end}}`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tmpl.Execute(ctx, &bytes.Buffer{}, r); !errors.Is(err, context.Canceled) {
		t.Errorf("Execute with a cancelled context = %v; want context.Canceled", err)
	}
}

// FuzzSummaryTemplate checks the template renderer's limits: no template
// makes it panic, write past MaxSummaryOutput or run past its time limit,
// and every error is one line.
func FuzzSummaryTemplate(f *testing.F) {
	f.Add(doubling(40))
	r := sample(f)
	f.Fuzz(func(t *testing.T, text string) {
		tmpl, err := reports.ParseSummaryTemplate(text)
		if err != nil {
			return
		}
		var out bytes.Buffer
		start := time.Now()
		err = tmpl.Execute(context.Background(), &out, r)
		if took := time.Since(start); took > reports.SummaryTimeout+time.Second {
			t.Errorf("Execute(%q) took %v; want at most the %v limit", text, took, reports.SummaryTimeout)
		}
		if out.Len() > reports.MaxSummaryOutput {
			t.Errorf("Execute(%q) wrote %d bytes; want at most %d", text, out.Len(), reports.MaxSummaryOutput)
		}
		if err != nil && strings.ContainsAny(err.Error(), "\n\r") {
			t.Errorf("Execute(%q) error spans lines: %q", text, err)
		}
	})
}
