package reports

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// terminalGroups is the order the terminal summary shows the key figure
// groups in: the whole run's in-flight peak right under the fault's.
var terminalGroups = []string{GroupFault, GroupRun, GroupEdges}

// maxSummaryPhases bounds the fault phases the terminal summary details;
// the reports hold them all.
const maxSummaryPhases = 3

// maxSummaryMethods bounds the gRPC methods the terminal summary counts
// the calls of, per upstream; the reports hold them all.
const maxSummaryMethods = 3

// WriteTerminal writes the summary `cbload run`, `merge` and `report`
// print at the end: the failed validity checks, the key figures of every
// arm (from the catalogue, with their range over several trials), each
// fault phase's detail and the verdict.
func WriteTerminal(w io.Writer, r *Report) error {
	var b bytes.Buffer
	fmt.Fprintln(&b)
	for _, c := range r.Validity.Failed() {
		fmt.Fprintf(&b, "NOT VALID: %s failed for the %s arm: %s\n", c.Name, c.Arm, c.Message)
	}
	if len(r.Validity.Failed()) > 0 {
		fmt.Fprintln(&b)
	}
	if r.Config.ArmMode == "concurrent" {
		fmt.Fprintln(&b, "arms run concurrently: all at once on one clock, each with its own gateway and upstream")
	}
	if r.Trials != nil {
		fmt.Fprintf(&b, "during the fault, median of %d trials (min–max)\n", r.Trials.N)
	}
	writeColumns(&b, terminalFigures(r))
	api := TermsOf(r.Config).API
	for i := range r.Arms {
		if s := SuspectOKText(&r.Arms[i], api); s != "" {
			fmt.Fprintf(&b, "%s: %s\n", r.Arms[i].Name, s)
		}
	}
	writeDetailSummary(&b, r)
	fmt.Fprintf(&b, "\nverdict: %s\n", r.Verdict.Summary)
	if st := r.Verdict.Steady; st != nil {
		for _, p := range []struct {
			name string
			c    SteadyCheck
		}{{"contained", st.Contained}, {"shed", st.Shed}, {"failed fast", st.FailedFast}, {"recovered", st.Recovered}} {
			held := "cannot be judged"
			if p.c.Judged {
				held = map[bool]string{true: "yes", false: "no"}[p.c.Held]
			}
			fmt.Fprintf(&b, "  %s: %s — %s\n", p.name, held, p.c.Finding)
		}
	}
	for _, av := range r.Verdict.Arms {
		if av.Summary != r.Verdict.Summary { // every policy arm but the headline's
			fmt.Fprintf(&b, "verdict, %s arm: %s\n", av.Arm, av.Summary)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// terminalFigures is the key figure table: a heading row of arm names,
// then a row per catalogue figure the terminal shows for r.
func terminalFigures(r *Report) [][]string {
	heading := "during the fault"
	if r.Trials != nil {
		heading = "" // said on the line above
	}
	head := []string{heading}
	for _, a := range r.Arms {
		head = append(head, a.Name)
	}
	rows := [][]string{head}
	t := TermsOf(r.Config)
	for _, g := range terminalGroups {
		var figs []*Figure
		for i := range Catalogue {
			f := &Catalogue[i]
			if f.Group != g || f.Short == "" || f.Collateral && !t.HasCollateral || f.Brief != nil && !f.Brief(r) {
				continue
			}
			figs = append(figs, f)
		}
		slices.SortStableFunc(figs, func(a, b *Figure) int { return cmp.Compare(a.Order, b.Order) })
		for _, f := range figs {
			value := f.Text
			if f.AtUpstream && r.Config.Upstream.External {
				value = func(*Arm) string { return "unknown" } // another process runs it
			}
			if f.Breaker {
				value = breakerValue(f, value, "unknown")
			}
			cells := []string{t.Label(f.Short)}
			for i := range r.Arms {
				cells = append(cells, figureValue(r, keyFigure{value: value}, &r.Arms[i]))
			}
			rows = append(rows, cells)
			if f.Name == "api_success_during_fault" {
				rows = append(rows, requestMixRows(r)...)
			}
		}
	}
	return rows
}

// requestMixRows gives each request of a request mix (method and path) its
// own success row under the api's.
func requestMixRows(r *Report) [][]string {
	var reqs []string
	for _, a := range r.Arms {
		for _, f := range a.RequestMix {
			if !slices.Contains(reqs, f.Request) {
				reqs = append(reqs, f.Request)
			}
		}
	}
	var rows [][]string
	for _, q := range reqs {
		cells := []string{"  " + q + " success"}
		for i := range r.Arms {
			cells = append(cells, RequestSuccess(&r.Arms[i], q))
		}
		rows = append(rows, cells)
	}
	return rows
}

// writeColumns prints rows as a table: the first column left-aligned at
// least 34 wide, every other column right-aligned at least 14 wide and wide
// enough for its longest cell, so values never run into each other.
func writeColumns(w io.Writer, rows [][]string) {
	var widths []int
	for _, cells := range rows {
		for i, c := range cells {
			min := 14
			if i == 0 {
				min = 34
			}
			if i == len(widths) {
				widths = append(widths, min)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c)+2)
		}
	}
	for _, cells := range rows {
		var b strings.Builder
		for i, c := range cells {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if i == 0 {
				b.WriteString(c + pad)
			} else {
				b.WriteString(pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// writeDetailSummary prints, for each fault phase, arm and endpoint, the
// latency p50/p95/p99/max/mean, status codes, bytes and the error set.
func writeDetailSummary(w io.Writer, r *Report) {
	t := TermsOf(r.Config)
	shown := 0
	for _, p := range r.Phases {
		if len(p.Faults) == 0 {
			continue
		}
		if shown == maxSummaryPhases {
			fmt.Fprintf(w, "\n(more fault phases in report.md and report.html)\n")
			return
		}
		shown++
		fmt.Fprintf(w, "\nrequests completed in phase %s%s:\n", p.Name, TrialScope(r))
		for _, a := range r.Arms {
			s, ok := a.Summary[p.Name]
			if !ok {
				continue
			}
			eps := []struct {
				name  string
				stats Stats
			}{{t.API, s.API}, {t.Collateral, s.Collateral}}
			if !t.HasCollateral {
				eps = eps[:1]
			}
			for _, e := range eps {
				fmt.Fprintf(w, "  %-12s %-7s %s\n", a.Name, e.name, LatencyText(r, e.stats.LatencyMS))
				fmt.Fprintf(w, "  %-12s %-7s status %s · bytes in/out %s\n", "", "", StatusCodesText(r, e.stats), BytesText(r, e.stats))
				if errs := ErrorSetText(r, e.stats, 3, 100); errs != "none" {
					fmt.Fprintf(w, "  %-12s %-7s errors %s\n", "", "", errs)
				}
			}
			for _, name := range slices.Sorted(maps.Keys(s.Upstreams)) {
				calls := grpcMethodsText(s.Upstreams[name].GRPC)
				if more := len(calls) - maxSummaryMethods; more > 0 {
					calls = append(calls[:maxSummaryMethods], fmt.Sprintf("%d more methods in report.md", more))
				}
				if len(calls) > 0 {
					fmt.Fprintf(w, "  %-12s %-7s gRPC calls to %s: %s\n", "", "", name, strings.Join(calls, "; "))
				}
			}
		}
	}
}
