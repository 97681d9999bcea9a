package faultserver

import (
	"fmt"
	"time"
)

// hang holds the request without answering. The hold ends early when the
// client gives up, the fault is removed from the active set, or the server
// closes. When the hold ends (its duration passes or the fault is removed)
// the request goes on as if the hang had been a delay; when the client gave
// up or the server closed, nothing more is written.
type hang struct {
	hold time.Duration // 0: until released
}

func parseHang(arg string, _ map[string]string) (fault, error) {
	if arg == "" {
		return hang{}, nil
	}
	d, err := parseDuration("hold", arg)
	if err != nil {
		return nil, err
	}
	if d == 0 {
		return nil, fmt.Errorf("hold %q must be above zero; omit it to hang until released", arg)
	}
	return hang{hold: d}, nil
}

func (f hang) arg() string {
	if f.hold == 0 {
		return ""
	}
	return f.hold.String()
}

func (f hang) params() []string       { return nil }
func (f hang) answers() bool          { return false }
func (f hang) plan(randSource) action { return f }

func (f hang) act(rc *reqCtx) bool {
	var timeout <-chan time.Time
	if f.hold > 0 {
		t := time.NewTimer(f.hold)
		defer t.Stop()
		timeout = t.C
	}
	start := time.Now()
	endedBy := "hold"
	select {
	case <-timeout:
	case <-rc.release:
		endedBy = "cleared"
	case <-rc.r.Context().Done(): // client gone or server closing
		return true
	}
	if rc.onHangEnd != nil {
		rc.onHangEnd(rc.r, time.Since(start), endedBy)
	}
	return false
}
