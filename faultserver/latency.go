package faultserver

import (
	"fmt"
	"math"
	"time"
)

// latency delays the request. With jitter the delay is drawn per request:
// uniformly from [delay-jitter, delay+jitter] (never below zero), or, with
// dist=exp, delay plus an exponential tail whose mean is jitter, which gives
// the long right tail real services have.
type latency struct {
	delay  time.Duration
	jitter time.Duration
	exp    bool
}

func parseLatency(arg string, kv map[string]string) (fault, error) {
	var f latency
	var err error
	if f.delay, err = parseDuration("delay", arg); err != nil {
		return nil, err
	}
	if v, ok := kv["jitter"]; ok {
		if f.jitter, err = parseDuration("jitter", v); err != nil {
			return nil, err
		}
	}
	switch v := kv["dist"]; v {
	case "", "uniform":
	case "exp":
		f.exp = true
	default:
		return nil, fmt.Errorf("dist %q is not uniform or exp", v)
	}
	return f, nil
}

func (f latency) arg() string { return f.delay.String() }

func (f latency) params() []string {
	var ps []string
	if f.jitter > 0 {
		ps = append(ps, "jitter="+f.jitter.String())
	}
	if f.exp {
		ps = append(ps, "dist=exp")
	}
	return ps
}

func (f latency) answers() bool { return false }

func (f latency) plan(rnd randSource) action {
	if f.exp {
		return delayAction(addDuration(f.delay, rnd.ExpFloat64()*float64(f.jitter)))
	}
	return delayAction(uniformJitter(rnd, f.delay, f.jitter))
}

// uniformJitter draws from [d-j, d+j], clamped at zero. It takes no draw when
// j is zero, so a jitter-free setup consumes no randomness.
func uniformJitter(rnd randSource, d, j time.Duration) time.Duration {
	if j <= 0 {
		return d
	}
	return addDuration(d, (2*rnd.Float64()-1)*float64(j))
}

// addDuration returns d+x nanoseconds, clamped to [0, MaxInt64].
func addDuration(d time.Duration, x float64) time.Duration {
	v := float64(d) + x
	switch {
	case v <= 0:
		return 0
	case v >= math.MaxInt64:
		return math.MaxInt64
	}
	return time.Duration(v)
}

// delayAction waits, then lets the request go on.
type delayAction time.Duration

func (a delayAction) act(rc *reqCtx) bool {
	return !rc.wait(time.Duration(a))
}
