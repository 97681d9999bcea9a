package scenario

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/cbload/cbload/harness"
)

// phaseNameRE is what a phase name must look like to be a threshold path
// segment.
var phaseNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// ExpandPhases expands the file's phases, repeat groups included, into the
// harness's phases, and returns the line of each. Errors are *Error. The
// schedule's length is checked where it is built (schedule.New, through
// harness.Config.Validate); the command puts that error at the line.
func (s *File) ExpandPhases() ([]harness.Phase, []int, error) {
	var out []harness.Phase
	var lines []int
	fail := func(path string, line int, format string, args ...any) error {
		return &Error{File: s.name, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)}
	}
	for i, p := range s.Phases {
		path := fmt.Sprintf("phases[%d]", i)
		where := fmt.Sprintf("%s (line %d)", path, p.Line)
		if p.Repeat != 0 || len(p.Phases) > 0 {
			if p.Name != "" || p.Duration != 0 || len(p.Faults) > 0 {
				return nil, nil, fail(path, p.Line, "%s: a repeat group has only repeat and phases; put name, duration and faults on the phases inside it", where)
			}
			if p.Repeat < 1 || p.Repeat > MaxRepeat {
				return nil, nil, fail(path+".repeat", p.Line, "%s: repeat %d: want a count from 1 to %d", where, p.Repeat, MaxRepeat)
			}
			if len(p.Phases) == 0 {
				return nil, nil, fail(path, p.Line, "%s: a repeat group needs phases to repeat", where)
			}
			// Decode has held the count to MaxPhases already.
			for k := 1; k <= int(p.Repeat); k++ {
				for j, q := range p.Phases {
					qpath := fmt.Sprintf("%s.phases[%d]", path, j)
					in := fmt.Sprintf("%s.phases[%d] (line %d)", where, j, q.Line)
					if q.Repeat != 0 || len(q.Phases) > 0 {
						return nil, nil, fail(qpath, q.Line, "%s: repeat groups do not nest", in)
					}
					ph, err := q.phase(in)
					if err != nil {
						return nil, nil, fail(qpath, q.Line, "%v", err)
					}
					ph.Name += "-" + strconv.Itoa(k)
					out, lines = append(out, ph), append(lines, q.Line)
				}
			}
			continue
		}
		ph, err := p.phase(where)
		if err != nil {
			return nil, nil, fail(path, p.Line, "%v", err)
		}
		out, lines = append(out, ph), append(lines, p.Line)
	}
	return out, lines, nil
}

func (p Phase) phase(where string) (harness.Phase, error) {
	switch {
	case p.Name == "":
		return harness.Phase{}, fmt.Errorf("%s: name is required", where)
	case !phaseNameRE.MatchString(p.Name):
		return harness.Phase{}, fmt.Errorf("%s: name %q: want a letter followed by letters, digits, _ or - (it becomes a threshold path segment)", where, p.Name)
	case p.Name == "figures" || p.Name == "worst":
		return harness.Phase{}, fmt.Errorf("%s: name %q is reserved for threshold paths; choose another", where, p.Name)
	case p.Duration == 0:
		return harness.Phase{}, fmt.Errorf("%s (%s): duration is required, like 5s", where, p.Name)
	}
	ph := harness.Phase{Name: p.Name, Duration: time.Duration(p.Duration)}
	for _, f := range p.Faults {
		ph.AddFault(f.Upstream, f.Spec)
	}
	return ph, nil
}
