package reports

import (
	"context"
	"strings"
	"testing"
)

// TestTemplateFigure: the summary template's figure helper formats any
// catalogue figure by its report.json name, and names the figures it
// knows when given another.
func TestTemplateFigure(t *testing.T) {
	tmpl, err := ParseSummaryTemplate(`{{range .Arms}}{{.Name}} {{figure . "collateral_success_during_fault"}} {{figure . "opens"}} {{figure . "time_to_recover_goodput_s"}};{{end}}`)
	if err != nil {
		t.Fatal(err)
	}
	r := &Report{Arms: []Arm{{Name: "breaker", Breaker: true, Figures: Figures{CollateralSuccessDuringFault: 0.9912, Opens: 2}}}}
	var b strings.Builder
	if err := tmpl.Execute(context.Background(), &b, r); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "breaker 99.1% 2 never;"; got != want {
		t.Errorf("figure helper = %q; want %q", got, want)
	}
	bad, err := ParseSummaryTemplate(`{{range .Arms}}{{figure . "time_to_opne_s"}}{{end}}`)
	if err != nil {
		t.Fatal(err)
	}
	err = bad.Execute(context.Background(), &b, r)
	if err == nil || !strings.Contains(err.Error(), `unknown figure "time_to_opne_s"; want one of time_to_open_s,`) {
		t.Errorf("unknown figure: err = %v; want it to name the figures", err)
	}
}
