package harness

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/cbload/cbload/reports"
)

// WritePlan describes to w what a run of c would do, as cbload run
// --dry-run prints it: the system under test (the targets and the
// upstreams they call, or the arms and the gateway), the load, tracing,
// trials and the phases with their faults. seedNote follows the seed.
func (c *Config) WritePlan(w io.Writer, seedNote string) {
	if len(c.Targets) > 0 {
		if c.UpstreamExternal {
			fmt.Fprintln(w, "upstream: external (another process runs it on the run's schedule)")
		}
		calls := "your service calls it"
		if c.UpstreamGRPC {
			calls = "gRPC; your service calls it"
		}
		if c.UpstreamAddr != "" {
			fmt.Fprintf(w, "upstream: %s (%s)\n", c.UpstreamAddr, calls)
		}
		for _, u := range c.Upstreams {
			fmt.Fprintf(w, "upstream %s: %s (%s)\n", u.Name, u.Addr, calls)
		}
		for _, t := range c.Targets {
			fmt.Fprintf(w, "target %s: %s", t.Name, RedactURL(t.URL))
			if t.Collateral != "" {
				fmt.Fprintf(w, "  collateral %s", RedactURL(t.Collateral))
			}
			if t.BreakerStateURL != "" {
				fmt.Fprintf(w, "  breaker state %s", RedactURL(t.BreakerStateURL))
				if t.StateMetric != nil {
					fmt.Fprintf(w, " (Prometheus series %s)", t.StateMetric)
				}
			}
			fmt.Fprintln(w)
			t.writeRequests(w)
		}
		for _, e := range c.Expect {
			fmt.Fprintf(w, "expect: %s\n", e)
		}
	} else {
		fmt.Fprintf(w, "arms: %s\n", strings.Join(c.Arms, ", "))
		fmt.Fprintf(w, "gateway: %d workers, queue timeout %v, call timeout %v; breaker timeout %v\n",
			c.Gateway.Workers, c.Gateway.QueueTimeout, c.Gateway.CallTimeout, c.Breaker.Timeout)
		if c.Tiers > 1 || c.Gateway.Retries > 0 {
			fmt.Fprintf(w, "tiers: %d, each retrying %d times (backoff %v, full jitter); retry-budget arm: %s of requests over %v; throttle arm: K %g over %v\n",
				c.Tiers, c.Gateway.Retries, c.Gateway.RetryBackoff, reports.Percent(c.RetryBudget.Ratio), c.RetryBudget.Window, c.Throttle.K, c.Throttle.Window)
		}
	}
	share := fmt.Sprintf(", collateral share %g", c.CollateralShare)
	if !c.Terms().HasCollateral {
		share = "" // a service without a collateral endpoint gets none
	}
	fmt.Fprintf(w, "load: %g req/s%s, client timeout %v, seed %d%s\n", c.Rate, share, c.ClientTimeout, c.Seed, seedNote)
	if t := c.Tracing; t.Endpoint != "" {
		sample := "auto"
		if t.SampleRatio != nil {
			sample = fmt.Sprint(*t.SampleRatio)
		}
		fmt.Fprintf(w, "tracing: %s (%s), sample %s\n", RedactURL(t.Endpoint), cmp.Or(t.Protocol, "protocol from the environment"), sample)
	}
	if c.ArmMode == ArmsConcurrent {
		fmt.Fprintf(w, "arms: concurrent, all at once on one clock, each with its own gateway and upstream\n")
	}
	if c.Trials > 1 {
		fmt.Fprintf(w, "trials: %d per arm, interleaved\n", c.Trials)
	}
	fmt.Fprintf(w, "phases (%v per arm):\n", c.TotalDuration())
	var at time.Duration
	for _, p := range c.Phases {
		fmt.Fprintf(w, "  %-12s %5v – %-5v %s\n", p.Name, at, at+p.Duration, strings.Join(p.FaultStrings(), " "))
		at += p.Duration
	}
}

// writeRequests lists t's requests for a plan: method, URL (its
// userinfo redacted) and header names, never header values.
func (t Target) writeRequests(w io.Writer) {
	for _, q := range t.Requests {
		role := "api"
		if q.Collateral {
			role = "collateral"
		}
		var names []string
		for k := range q.Header {
			names = append(names, k)
		}
		slices.Sort(names)
		fmt.Fprintf(w, "  %-10s %s %s", role, q.Method, RedactURL(q.URL))
		if len(names) > 0 {
			fmt.Fprintf(w, "  headers %s", strings.Join(names, ", "))
		}
		if len(q.Body) > 0 {
			fmt.Fprintf(w, "  body %d bytes", len(q.Body))
		}
		fmt.Fprintln(w)
	}
}
