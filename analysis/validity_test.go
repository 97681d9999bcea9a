package analysis

import (
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

// cpuReport builds a report whose one arm's seconds had the given
// scheduling latency p99s (ms; a negative one was not measured).
func cpuReport(mode string, p99s ...float64) *reports.Report {
	a := reports.Arm{Name: reports.ArmBreaker, Load: &reports.LoadGen{StallThresholdMS: 250}}
	for t, p := range p99s {
		s := reports.Second{T: t, Phase: "baseline", Scheduled: 100, Sent: 100}
		if p >= 0 {
			s.SchedLatencyP99MS = &p
		}
		a.Series = append(a.Series, s)
	}
	return &reports.Report{Config: reports.Config{Rate: 100, ArmMode: mode}, Arms: []reports.Arm{a}}
}

func cpuCheck(t *testing.T, r *reports.Report) (reports.ValidityCheck, bool) {
	t.Helper()
	for _, c := range CheckValidity(r).Checks {
		if c.Name == reports.CheckCPU {
			return c, true
		}
	}
	return reports.ValidityCheck{}, false
}

// cpu_not_starved fails when a starved process's seconds — schedStarvedSeconds
// of them over the limit — are in the report, and passes one spike or two;
// the limit itself is not over it.
func TestCPUNotStarved(t *testing.T) {
	lim := float64(schedLatencyLimitMS)
	tests := []struct {
		name      string
		p99s      []float64
		pass      bool
		wantValue float64
	}{
		{"quiet", []float64{0.2, 0.4, 8.4, 0.3, 0.5}, true, 0.4},
		{"two spikes", []float64{300, 0.2, 400, 0.3, 0.5}, true, 0.5},
		{"three at the limit", []float64{lim, lim, lim, 0.3}, true, lim},
		{"three just over", []float64{lim + 0.001, lim + 0.001, lim + 0.001, 0.3}, false, lim + 0.001},
		{"two over, one at", []float64{lim + 1, 0.1, lim + 1, lim}, true, lim},
		{"starved throughout", []float64{170, 235, 335, 235, 400, 100}, false, 235},
		{"unmeasured seconds do not count", []float64{-1, 60, -1, 60, -1}, true, 60},
		{"fewer seconds than the rule", []float64{80, 90}, true, 80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := cpuCheck(t, cpuReport("sequential", tt.p99s...))
			if !ok {
				t.Fatalf("no %s check", reports.CheckCPU)
			}
			if c.Pass != tt.pass || c.Value != tt.wantValue || c.Limit != lim || c.Unit != "ms" {
				t.Errorf("check = pass %v, value %v, limit %v %s; want pass %v, value %v, limit %v ms (%s)", c.Pass, c.Value, c.Limit, c.Unit, tt.pass, tt.wantValue, lim, c.Message)
			}
		})
	}
}

// The message names the whole process's wait, both arms' when they ran
// at once, and the worst second; a report without the measurement (a
// version of cbload before it) has no check rather than a passed one.
func TestCPUNotStarvedMessage(t *testing.T) {
	c, _ := cpuCheck(t, cpuReport("concurrent", 0.3, 120, 90, 70, 0.2))
	for _, want := range []string{"both arms'", "3 of 5 seconds", "second 1, 120 ms", "more work than CPU"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("message %q; want %q in it", c.Message, want)
		}
	}
	c, _ = cpuCheck(t, cpuReport("sequential", 0.3, 0.5))
	if strings.Contains(c.Message, "both arms") || !c.Pass {
		t.Errorf("sequential check = %v: %q; want a pass of the process's wait alone", c.Pass, c.Message)
	}
	if _, ok := cpuCheck(t, cpuReport("sequential", -1, -1)); ok {
		t.Errorf("a report without scheduling latencies has a %s check; want none", reports.CheckCPU)
	}
	r := cpuReport("concurrent", 100, 100, 100)
	if v := CheckValidity(r); v.Valid {
		t.Errorf("validity of a starved process = valid; want not valid")
	}
}
