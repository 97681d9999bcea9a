package reports

import (
	"context"
	"errors"
	"io"
	"strings"
)

// CheckFields runs the template over an empty report with these arms and
// phases, before any load is sent, and returns the error of one that names
// a field the report does not have, or runs past a limit (strings built,
// steps, time, output) over a report with no data yet: that is wrong
// whatever the run measures. Other failures may depend on what the run
// measures (a figure that stays nil) and give nil, to wait for the real
// report. The caller tells a cancelled ctx by ctx.Err.
func (s *SummaryTemplate) CheckFields(ctx context.Context, arms, phases []string) error {
	r := &Report{Schema: Schema, Arms: []Arm{}}
	sum := map[string]PhaseSummary{}
	for _, p := range phases {
		r.Phases = append(r.Phases, Phase{Name: p})
		sum[p] = PhaseSummary{}
	}
	for _, a := range arms {
		r.Arms = append(r.Arms, Arm{Name: a, Summary: sum})
	}
	var te *TemplateError
	err := s.Execute(ctx, io.Discard, r)
	// Past a limit over a report with no data yet: past it over any.
	if errors.As(err, &te) && (strings.Contains(te.Msg, "can't evaluate field") || te.Limit) || errors.Is(err, ErrSummaryTooLarge) {
		return err
	}
	return nil
}
