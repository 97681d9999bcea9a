package faultserver

import (
	"fmt"
	"strconv"
	"strings"
)

// slowdown multiplies the synthetic service time of the requests it applies
// to: a capacity cut, the trigger of a metastable failure when the upstream
// has finite capacity (Config.Concurrency). Several slowdowns on one request
// multiply, up to MaxSlowdown. It has no effect on latency or hang faults,
// and there is no service time to scale in proxy mode.
type slowdown struct {
	factor float64
}

func parseSlowdown(arg string, _ map[string]string) (fault, error) {
	num := strings.TrimSuffix(strings.TrimSuffix(arg, "x"), "X")
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || !(f >= 1 && f <= MaxSlowdown) {
		return nil, fmt.Errorf("factor %q is not a number from 1x to the limit of %dx, like 3x or 1.5x", arg, MaxSlowdown)
	}
	return slowdown{factor: f}, nil
}

func (f slowdown) arg() string {
	return strconv.FormatFloat(f.factor, 'g', -1, 64) + "x"
}

func (f slowdown) params() []string       { return nil }
func (f slowdown) answers() bool          { return false }
func (f slowdown) plan(randSource) action { return f }

func (f slowdown) act(rc *reqCtx) bool {
	rc.slowdown = min(rc.slowdown*f.factor, MaxSlowdown)
	return false
}
