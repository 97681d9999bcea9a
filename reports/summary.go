package reports

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/template"
)

// A summary template is the user's own rendering of a report (k6's
// handleSummary, without running user code): a Go text/template executed
// over the *Report, so {{.Verdict.Outcome}}, {{range .Arms}}{{.Name}}
// {{.Figures.CollateralSuccessDuringFault}}{{end}} and every other field
// of the v2 report struct, by its Go name, are in reach. Besides the
// text/template builtins it gets the functions in summaryFuncs.

// MaxSummaryTemplate is the largest summary template accepted, and
// MaxSummaryOutput the most a summary template may write.
const (
	MaxSummaryTemplate = 1 << 20
	MaxSummaryOutput   = 4 << 20
)

// SummaryTemplate is a parsed summary template. Build one with
// ParseSummaryTemplate.
type SummaryTemplate struct{ t *template.Template }

// TemplateError is a summary template that does not parse or fails while
// it runs, located at its line (and column when known).
type TemplateError struct {
	Line, Column int // from 1; 0 when unknown
	Msg          string
}

func (e *TemplateError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// ErrSummaryTooLarge is returned when a summary template would write more
// than MaxSummaryOutput.
var ErrSummaryTooLarge = fmt.Errorf("the output is larger than the %d MiB limit", MaxSummaryOutput>>20)

// summaryFuncs are the functions a summary template may call besides the
// builtins: the report's own formatting, so a template says what the
// reports say in the same words.
var summaryFuncs = template.FuncMap{
	// percent formats a ratio: 0.9912 → "99.1%".
	"percent": Percent,
	// millis formats milliseconds: 12.5 → "12.5 ms", 1500 → "1.50 s".
	"millis": Millis,
	// arm returns the arm of that name, or nil.
	"arm": func(r *Report, name string) *Arm { return r.Arm(name) },
	// figure formats an arm's figure, named as in report.json, the way
	// the reports' key figures do: {{figure $arm "time_to_open_s"}}.
	"figure": figureText,
	// seconds formats an optional duration in seconds: nil → "never".
	"seconds": func(v *float64) string {
		if v == nil {
			return "never"
		}
		return strconv.FormatFloat(*v, 'f', 2, 64) + " s"
	},
}

// tmplName is the name the template is parsed under: errors are located
// by matching it, so it must not look like anything a user writes.
const tmplName = "summary"

// ParseSummaryTemplate parses a summary template. Its error is a
// *TemplateError naming the line.
func ParseSummaryTemplate(text string) (*SummaryTemplate, error) {
	if len(text) > MaxSummaryTemplate {
		return nil, &TemplateError{Msg: fmt.Sprintf("larger than the %d MiB limit for a template", MaxSummaryTemplate>>20)}
	}
	t, err := template.New(tmplName).Funcs(summaryFuncs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, templateError(err)
	}
	return &SummaryTemplate{t: t}, nil
}

// Execute renders the template over r into w. Nothing is written unless
// the whole rendering succeeds within MaxSummaryOutput.
func (s *SummaryTemplate) Execute(w io.Writer, r *Report) error {
	var b capped
	if err := s.t.Execute(&b, r); err != nil {
		if errors.Is(err, ErrSummaryTooLarge) {
			return ErrSummaryTooLarge
		}
		return templateError(err)
	}
	_, err := w.Write(b.buf)
	return err
}

// capped is a buffer that refuses to grow past MaxSummaryOutput.
type capped struct{ buf []byte }

func (c *capped) Write(p []byte) (int, error) {
	if len(c.buf)+len(p) > MaxSummaryOutput {
		return 0, ErrSummaryTooLarge
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

// templateLoc matches text/template's location prefix: "template:
// summary:3:" or "template: summary:3:14:", and an execution error's
// `executing "summary" at <.X>:`.
var (
	templateLoc  = regexp.MustCompile(`^template: ` + tmplName + `:(\d+)(?::(\d+))?: ?`)
	executingLoc = regexp.MustCompile(`^executing "` + tmplName + `" `)
)

// templateError turns a text/template error into a one-line TemplateError.
func templateError(err error) *TemplateError {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	e := &TemplateError{}
	if m := templateLoc.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		if m[2] != "" {
			e.Column, _ = strconv.Atoi(m[2])
		}
		msg = msg[len(m[0]):]
	}
	e.Msg = executingLoc.ReplaceAllString(msg, "")
	return e
}

// figureText formats arm a's figure name by its catalogue row: the key
// figures' text, or the number in its unit for a figure they do not show.
func figureText(a *Arm, name string) (string, error) {
	f := CatalogueFigure(name)
	if f == nil {
		var names []string
		for _, c := range Catalogue {
			names = append(names, c.Name)
		}
		return "", fmt.Errorf("unknown figure %q; want one of %s", name, strings.Join(names, ", "))
	}
	if a == nil {
		return "", errors.New("figure: no arm")
	}
	if f.Text != nil {
		return f.Text(a), nil
	}
	return figureNumber(f, a), nil
}
