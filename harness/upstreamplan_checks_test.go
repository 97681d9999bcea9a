package harness

import (
	"strings"
	"testing"
	"time"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/internal/field"
)

func TestNewUpstreamPlan(t *testing.T) {
	spec, err := faultserver.ParseSpec("hang")
	if err != nil {
		t.Fatal(err)
	}
	hang := []faultserver.Spec{spec}
	three := []Phase{{Name: "baseline", Duration: time.Second}, {Name: "fault", Duration: 2 * time.Second, Faults: hang}, {Name: "recovery", Duration: time.Second}}
	plan, err := NewUpstreamPlan(Config{Phases: three, Trials: 1, ClientTimeout: time.Second}, true)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Named || len(plan.Run.Arms) != 1 || plan.Run.Arms[0] != "" || !plan.ExitAfter || plan.Schedule.Duration() != 4*time.Second {
		t.Errorf("NewUpstreamPlan(no arms) = %+v; want one unnamed arm, ExitAfter, a 4s schedule", plan)
	}
	named := append([]Phase(nil), three...)
	named[1].UpstreamFaults = map[string][]faultserver.Spec{"payments": hang}
	long := []Phase{{Name: "a", Duration: 50 * time.Minute}, {Name: "b", Duration: 11 * time.Minute}}
	for _, tt := range []struct {
		phases    []Phase
		path, msg string
	}{
		{named, "phases[1]", "phases[1] (fault): fault payments=hang: serve runs one upstream"},
		{long, "phases[1]", "phases[1] (b): duration 11m0s makes the schedule longer than the limit of 1h0m0s per arm"},
		{nil, "phases", "phases: need at least one phase"},
	} {
		_, err := NewUpstreamPlan(Config{Phases: tt.phases, Trials: 1, ClientTimeout: time.Second}, false)
		if fe := field.As(err); fe == nil || fe.Path() != tt.path || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("NewUpstreamPlan(%v) = %v; want a field error at %s containing %q", tt.phases, err, tt.path, tt.msg)
		}
	}
	for _, tt := range []struct {
		trials    int
		timeout   time.Duration
		path, msg string
	}{
		{0, time.Second, "trials", "--trials 0: want 1 to 20, the run's --trials"},
		{MaxTrials + 1, time.Second, "trials", "--trials 21: want 1 to 20"},
		{1, 0, "load.client_timeout", "--client-timeout 0s: want a positive duration up to 1h0m0s like 3s, the run's --client-timeout"},
		{1, MaxTimeout + 1, "load.client_timeout", "--client-timeout 1h0m0.000000001s: want a positive duration"},
	} {
		_, err := NewUpstreamPlan(Config{Phases: three, Trials: tt.trials, ClientTimeout: tt.timeout}, false)
		if fe := field.As(err); fe == nil || fe.Path() != tt.path || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("NewUpstreamPlan(trials %d, client timeout %v) = %v; want a field error at %s containing %q", tt.trials, tt.timeout, err, tt.path, tt.msg)
		}
	}
}

func TestUpstreamPlanStartAt(t *testing.T) {
	plan, err := NewUpstreamPlan(Config{Phases: []Phase{{Name: "a", Duration: 10 * time.Second}}, Trials: 1, ClientTimeout: time.Second}, false)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		at     time.Time
		detail string
	}{
		{now.Add(-5 * time.Second), ""}, // joins the schedule
		{now.Add(MaxStartAhead), ""},
		{now.Add(-10 * time.Second), "is 10s in the past: the 10s schedule is over"},
		{now.Add(MaxStartAhead + time.Second), "ahead; the limit is 24h0m0s"},
	} {
		err := plan.StartAt(tt.at, now)
		fe := field.As(err)
		switch {
		case tt.detail == "" && (err != nil || !plan.Start.Equal(tt.at)):
			t.Errorf("StartAt(%v) = %v, Start %v; want nil and that start", tt.at, err, plan.Start)
		case tt.detail != "" && (fe == nil || fe.Path() != "start_at" || !strings.Contains(fe.Detail, tt.detail)):
			t.Errorf("StartAt(%v) = %v; want a field error at start_at containing %q", tt.at, err, tt.detail)
		}
	}
}

func TestCheckArmNames(t *testing.T) {
	for _, tt := range []struct {
		names        []string
		path, detail string
	}{
		{[]string{"a", "b-2"}, "", ""},
		{nil, "", ""},
		{[]string{"a", ""}, "arms[1]", "an empty name"},
		{[]string{"a", "b c"}, "arms[1]", `"b c": want a target name`},
		{[]string{"a", "b", "a"}, "arms[2]", `"a" is named twice`},
	} {
		err := CheckArmNames(tt.names)
		fe := field.As(err)
		if tt.path == "" && err != nil || tt.path != "" && (fe == nil || fe.Path() != tt.path || !strings.HasPrefix(fe.Detail, tt.detail)) {
			t.Errorf("CheckArmNames(%q) = %v; want %q at %q", tt.names, err, tt.detail, tt.path)
		}
	}
}
