package reports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// A summary template is the user's own rendering of a report (k6's
// handleSummary, without running user code): a Go text/template executed
// over the *Report, so {{.Verdict.Outcome}}, {{range .Arms}}{{.Name}}
// {{.Figures.CollateralSuccessDuringFault}}{{end}} and every other field
// of the v2 report struct, by its Go name, are in reach. Besides the
// text/template builtins it gets the functions in summaryFuncs.

// MaxSummaryTemplate is the largest summary template accepted, and
// MaxSummaryOutput the most a summary template may write. As it runs, a
// template is also held to MaxSummaryBuilt bytes of strings built by
// printf, print and println in all, MaxSummarySteps loop iterations
// ({{range}} over a list, a map or a number) and template calls
// ({{template}}, {{block}}) in all, and SummaryTimeout: each is checked
// before the work is done, so no template can exhaust memory or run for
// ages, whatever it loops over.
const (
	MaxSummaryTemplate = 1 << 20
	MaxSummaryOutput   = 4 << 20
	MaxSummaryBuilt    = 16 << 20
	MaxSummarySteps    = 1_000_000
	SummaryTimeout     = 10 * time.Second
)

// SummaryTemplate is a parsed summary template. Build one with
// ParseSummaryTemplate.
type SummaryTemplate struct{ t *template.Template }

// TemplateError is a summary template that does not parse or fails while
// it runs, located at its line (and column when known).
type TemplateError struct {
	Line, Column int // from 1; 0 when unknown
	Msg          string
	// Limit is true when the template ran past one of its limits (built
	// strings, steps, time) rather than failing on the data.
	Limit bool
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
	t, err := template.New(tmplName).Funcs(summaryFuncs).Funcs((&budget{ctx: context.Background()}).funcs()).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, templateError(err)
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			guard(tt.Tree, tt.Root)
		}
	}
	return &SummaryTemplate{t: t}, nil
}

// Names of the guards woven into every {{range}} and {{template}}: valid
// identifiers a template may call too, to no effect but counting.
const (
	guardRange    = "cbloadGuardRange"
	guardTemplate = "cbloadGuardTemplate"
)

// guard rewrites the parse tree under n so that every {{range PIPE}}
// becomes {{range PIPE | cbloadGuardRange}} and every {{template "x"
// PIPE}} {{template "x" PIPE | cbloadGuardTemplate}}: text/template has no
// context and no limit on loops or recursion, so the guards count the
// work before it is done and stop a template past its limits.
func guard(t *parse.Tree, n parse.Node) {
	call := func(name string, pos parse.Pos) *parse.CommandNode {
		id := parse.NewIdentifier(name).SetTree(t).SetPos(pos)
		return &parse.CommandNode{NodeType: parse.NodeCommand, Pos: pos, Args: []parse.Node{id}}
	}
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			guard(t, c)
		}
	case *parse.RangeNode:
		n.Pipe.Cmds = append(n.Pipe.Cmds, call(guardRange, n.Pos))
		guard(t, n.List)
		guard(t, n.ElseList)
	case *parse.IfNode:
		guard(t, n.List)
		guard(t, n.ElseList)
	case *parse.WithNode:
		guard(t, n.List)
		guard(t, n.ElseList)
	case *parse.TemplateNode:
		if n.Pipe == nil {
			n.Pipe = &parse.PipeNode{NodeType: parse.NodePipe, Pos: n.Pos, Line: n.Line}
		}
		n.Pipe.Cmds = append(n.Pipe.Cmds, call(guardTemplate, n.Pos))
	}
}

// budget is what one execution of a summary template may still do.
type budget struct {
	ctx          context.Context
	built, steps int64
}

// step counts n steps (loop iterations or template calls).
func (b *budget) step(n int64) error {
	if err := b.ctx.Err(); err != nil {
		return stopped(err)
	}
	if b.steps += n; n > MaxSummarySteps || b.steps > MaxSummarySteps {
		return limitError(fmt.Sprintf("more than the %d loop iterations and template calls a template may run", MaxSummarySteps))
	}
	return nil
}

// build returns the string f builds, if its estimated length est fits in
// what may still be built, and the string fits the output.
func (b *budget) build(est int64, f func() string) (string, error) {
	if err := b.ctx.Err(); err != nil {
		return "", stopped(err)
	}
	if b.built+est > MaxSummaryBuilt {
		return "", limitError(fmt.Sprintf("more than the %d MiB of strings a template may build", MaxSummaryBuilt>>20))
	}
	s := f()
	if len(s) > MaxSummaryOutput {
		return "", limitError(fmt.Sprintf("a string of %d bytes, more than the %d MiB output limit", len(s), MaxSummaryOutput>>20))
	}
	b.built += int64(len(s))
	return s, nil
}

// limitError is a template past one of its limits.
type limitError string

func (e limitError) Error() string { return string(e) }

// errSummaryTimeout is a template that ran past SummaryTimeout.
var errSummaryTimeout = limitError(fmt.Sprintf("ran longer than the %v limit", SummaryTimeout))

// stopped is the error of a guard or write after ctx ended.
func stopped(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return errSummaryTimeout
	}
	return err
}

// funcs returns the guards and the string builders, bound to b: they
// replace text/template's printf, print and println, which would build a
// string of any size.
func (b *budget) funcs() template.FuncMap {
	return template.FuncMap{
		guardRange: func(v reflect.Value) (reflect.Value, error) {
			n := int64(0)
			rv := v
			for rv.IsValid() && (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface) && !rv.IsNil() {
				rv = rv.Elem()
			}
			switch rv.Kind() {
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				n = max(rv.Int(), 0)
			case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
				n = int64(min(rv.Uint(), MaxSummarySteps+1))
			case reflect.Slice, reflect.Array, reflect.Map, reflect.String:
				n = int64(rv.Len())
			case reflect.Func, reflect.Chan:
				return v, fmt.Errorf("range over a %s: not supported", rv.Kind())
			}
			return v, b.step(n)
		},
		guardTemplate: func(args ...reflect.Value) (reflect.Value, error) {
			if err := b.step(1); err != nil || len(args) == 0 {
				return reflect.Value{}, err
			}
			return args[len(args)-1], nil
		},
		"printf": func(format string, args ...any) (string, error) {
			return b.build(estimate(format, args), func() string { return fmt.Sprintf(format, args...) })
		},
		"print": func(args ...any) (string, error) {
			return b.build(estimate("", args), func() string { return fmt.Sprint(args...) })
		},
		"println": func(args ...any) (string, error) {
			return b.build(estimate("", args), func() string { return fmt.Sprintln(args...) })
		},
	}
}

// estimate bounds the length of fmt.Sprintf(format, args...) from above,
// before it is built: the format, the widths and precisions its verbs ask
// for (fmt pads up to 10^6 per verb), and each argument formatted (a
// string or byte slice at most 4 times its length, quoted or in hex; a
// number 64 bytes; anything else, a part of the report, by the size it
// has).
func estimate(format string, args []any) int64 {
	n := int64(len(format)) + 64
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		// Every run of digits in a verb is a width or a precision.
		for i++; i < len(format) && strings.IndexByte("+-# 0123456789.*[]", format[i]) >= 0; i++ {
			if format[i] < '0' || format[i] > '9' {
				if format[i] == '*' {
					n += 1_000_000 // a width from an argument
				}
				continue
			}
			j := i
			for j < len(format) && format[j] >= '0' && format[j] <= '9' && j-i < 8 {
				j++
			}
			v, _ := strconv.Atoi(format[i:j])
			n += int64(v)
			i = j - 1
		}
	}
	for _, a := range args {
		switch a := a.(type) {
		case string:
			n += 4*int64(len(a)) + 2
		case []byte:
			n += 4*int64(len(a)) + 2
		case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr, float32, float64, complex64, complex128:
			n += 64
		default:
			n += 64 + int64(len(fmt.Sprint(a)))
		}
	}
	return n
}

// Execute renders the template over r into w. Nothing is written unless
// the whole rendering succeeds within the limits (MaxSummaryOutput and
// the others). It returns ctx's error when ctx ends first.
func (s *SummaryTemplate) Execute(ctx context.Context, w io.Writer, r *Report) error {
	ctx, cancel := context.WithTimeout(ctx, SummaryTimeout)
	defer cancel()
	t, err := s.t.Clone()
	if err != nil {
		return templateError(err)
	}
	b := &budget{ctx: ctx}
	t.Funcs(b.funcs())
	out := &capped{ctx: ctx}
	done := make(chan error, 1)
	go func() { done <- t.Execute(out, r) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// Every write and guard now fails, which ends the template at
		// its next one. Only one builtin can stand between two — fmt
		// printing a large part of the report — and the caller does not
		// wait more than a second for it: the goroutine then ends on its
		// own, at that write.
		select {
		case err = <-done:
		case <-time.After(time.Second):
			err = ctx.Err()
		}
	}
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(cerr, context.DeadlineExceeded) {
			return &TemplateError{Msg: errSummaryTimeout.Error(), Limit: true}
		}
		return cerr
	}
	if err != nil {
		if errors.Is(err, ErrSummaryTooLarge) {
			return ErrSummaryTooLarge
		}
		te := templateError(err)
		var le limitError
		te.Limit = errors.As(err, &le)
		return te
	}
	_, err = w.Write(out.buf)
	return err
}

// capped is a buffer that refuses to grow past MaxSummaryOutput, or at all
// once ctx has ended.
type capped struct {
	ctx context.Context
	buf []byte
}

func (c *capped) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, stopped(err)
	}
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
