package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/cbload/cbload/reports"
)

func TestNew(t *testing.T) {
	for _, arm := range Arms() {
		p, err := New(arm, Options{Name: "t", Breaker: BreakerConfig{Timeout: time.Second, MaxRequests: 1, ConsecutiveFailures: 1}})
		if err != nil {
			t.Fatalf("New(%q) error %v", arm, err)
		}
		done, err := p.Allow(time.Now(), 0)
		if err != nil {
			t.Fatalf("New(%q): first call rejected: %v", arm, err)
		}
		done(nil)
	}
	// The accepted arms are the table's, whatever rows it has.
	if _, err := New("breakr", Options{}); err == nil || err.Error() != `unknown arm "breakr"; want `+strings.Join(Arms(), ", ") || !strings.Contains(err.Error(), "breaker, no-breaker, retry-budget, throttle") {
		t.Errorf(`New("breakr") error = %v; want unknown arm naming the accepted ones`, err)
	}
	if p, _ := New("no-breaker", Options{}); p.State(time.Now()) != reports.StateNone || len(p.Transitions(time.Now())) != 0 {
		t.Errorf("no-breaker policy has state %s and transitions; want none", p.State(time.Now()))
	}
	if p, _ := New("breaker", Options{Breaker: BreakerConfig{Timeout: time.Second, MaxRequests: 1, ConsecutiveFailures: 1}}); p.State(time.Now()) != reports.StateClosed {
		t.Errorf("breaker policy starts %s; want closed", p.State(time.Now()))
	}
}
