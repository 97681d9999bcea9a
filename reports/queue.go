package reports

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// This file holds what the Markdown and HTML renderers say about the
// upstream's queue and about the policies of the tiers below the first.

// UpstreamQueue says whether any arm of r measured the upstream's queue
// (Arm.UpstreamQueue); when none did, why says so in one sentence — no
// capacity limit, an external upstream, or a report from before cbload
// measured it — so a renderer can say it rather than draw zeros.
func UpstreamQueue(r *Report) (measured bool, why string) {
	status := ""
	for _, a := range r.Arms {
		if a.UpstreamQueue == QueueMeasured {
			return true, ""
		}
		if status == "" {
			status = a.UpstreamQueue
		}
	}
	switch status {
	case QueueNotModelled:
		return false, "Not modelled: the upstream has unlimited capacity (--upstream-concurrency 0), so no request ever waits for a worker."
	case QueueUnknown:
		return false, "Unknown: the upstream is run by another process (--upstream-external), whose queue this run cannot see."
	}
	return false, "Not recorded: this report was written by a cbload version that did not measure the upstream's queue."
}

// queuePeaksText lists, per arm that measured the queue, its peak in each
// phase it ran: "no-breaker: baseline 0, fault 40, recovery 12".
func queuePeaksText(r *Report) []string {
	var out []string
	for _, a := range r.Arms {
		if a.UpstreamQueue != QueueMeasured {
			continue
		}
		var parts []string
		for _, p := range r.Phases {
			if s, ok := a.Summary[p.Name]; ok && s.UpstreamQueuePeak != nil {
				parts = append(parts, fmt.Sprintf("%s %s", p.Name, count(*s.UpstreamQueuePeak)))
			}
		}
		if len(parts) > 0 {
			out = append(out, a.Name+": "+strings.Join(parts, ", "))
		}
	}
	return out
}

// queueLimitText describes the upstream's capacity for the queue chart's
// caption: "4 workers, queue of 200; beyond it 503 at once".
func queueLimitText(c Config) string {
	u := c.Upstream
	s := fmt.Sprintf("%d worker", u.Concurrency)
	if u.Concurrency != 1 {
		s += "s"
	}
	s += fmt.Sprintf(", a queue of %d (beyond it, 503 at once)", u.Queue)
	if u.HonorCancel {
		return s + "; queued work whose caller gave up is dropped"
	}
	return s + "; queued work is done even when its caller has gone"
}

// tierTransition is one transition of one arm's policies with the tier it
// happened at (1: the gateway the load runner calls).
type tierTransition struct {
	Tier int
	Transition
}

// hasLowerTiers says whether any arm of r reports transitions below tier 1.
func hasLowerTiers(r *Report) bool {
	for _, a := range r.Arms {
		if len(a.LowerTierTransitions) > 0 {
			return true
		}
	}
	return false
}

// tierTransitions returns every transition of a's policies, tier 1's and the
// lower tiers', by time and then tier.
func tierTransitions(a *Arm) []tierTransition {
	out := make([]tierTransition, 0, len(a.Transitions)+len(a.LowerTierTransitions))
	for _, t := range a.Transitions {
		out = append(out, tierTransition{Tier: 1, Transition: t})
	}
	for _, t := range a.LowerTierTransitions {
		out = append(out, tierTransition{Tier: t.Tier, Transition: t})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].T != out[j].T {
			return out[i].T < out[j].T
		}
		return out[i].Tier < out[j].Tier
	})
	return out
}

// tierOpensText counts, per tier from 1, the transitions into the open
// state: "tier 1: 2, tier 3: 1", or "none".
func tierOpensText(a *Arm) string {
	opens := map[int]int{}
	for _, t := range tierTransitions(a) {
		if t.To == StateOpen {
			opens[t.Tier]++
		}
	}
	var per []string
	for _, tier := range slices.Sorted(maps.Keys(opens)) {
		per = append(per, fmt.Sprintf("tier %d: %d", tier, opens[tier]))
	}
	return cmp.Or(strings.Join(per, ", "), "none")
}
