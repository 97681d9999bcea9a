package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cbload/cbload/reports"
)

// statePoller polls a breaker state URL until stopped and keeps the
// transitions it saw, timed when it saw them.
type statePoller struct {
	url    string
	metric *StateMetric
	client *http.Client
	// ctx is cancelled by stop, which aborts a poll in flight.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	mu      sync.Mutex
	start   time.Time
	cur     string
	raw     string
	trans   []reports.Transition
	breaker bool
}

// startStatePoller starts polling at once, reading the state as sm says
// (nil: JSON); tune adjusts its transport as for every client of the
// user's service. The caller must call stop.
func startStatePoller(u string, sm *StateMetric, tune func(*http.Transport)) *statePoller {
	ctx, cancel := context.WithCancel(context.Background())
	tr := &http.Transport{Proxy: nil}
	tune(tr)
	p := &statePoller{
		url:    u,
		metric: sm,
		client: &http.Client{Transport: tr, Timeout: statePollInterval * 4, CheckRedirect: noRedirects},
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		start:  time.Now(),
		cur:    reports.StateUnknown,
	}
	go p.loop()
	return p
}

func (p *statePoller) setStart(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start = t
	p.trans = nil
}

func (p *statePoller) loop() {
	defer close(p.done)
	tick := time.NewTicker(statePollInterval)
	defer tick.Stop()
	for {
		p.pollOnce()
		select {
		case <-p.ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (p *statePoller) pollOnce() {
	req, err := http.NewRequestWithContext(p.ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxStateBody))
	resp.Body.Close()
	var raw, state string
	if p.metric != nil {
		var err error
		if raw, state, err = p.metric.state(body); err != nil {
			raw = err.Error()
		}
	} else {
		raw, state = parseState(body)
	}
	// raw goes into notes: a short excerpt, never the page.
	raw = sanitizeNote(raw, maxStateExcerpt)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		raw, state = fmt.Sprintf("HTTP %d redirect to %s, not followed", resp.StatusCode, resp.Header.Get("Location")), reports.StateUnknown
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.raw = raw
	if state == reports.StateClosed || state == reports.StateOpen || state == reports.StateHalfOpen {
		p.breaker = true
	}
	if state != p.cur {
		if p.cur != reports.StateUnknown && state != reports.StateUnknown && !now.Before(p.start) {
			p.trans = append(p.trans, reports.Transition{T: round3(now.Sub(p.start).Seconds()), From: p.cur, To: state})
		}
		p.cur = state
	}
}

// maxStateBody caps what is read of a breaker state answer: a Prometheus
// page of a large service runs to hundreds of KB. maxStateExcerpt caps what
// of it a note quotes.
const (
	maxStateBody    = 4 << 20
	maxStateExcerpt = 80
)

// probeState checks a breaker state URL's answer before any load: with sm,
// the page parses, sm picks exactly one series and its value maps; without,
// the answer is JSON (or bare) state. The error says in one line what was
// found instead, quoting at most a short excerpt.
func probeState(body []byte, sm *StateMetric) error {
	if sm != nil {
		if _, _, err := sm.state(body); err != nil {
			return fmt.Errorf("%v (--breaker-state-metric %s)", err, sm)
		}
		return nil
	}
	if _, st := parseState(body); st != reports.StateUnknown {
		return nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	if fams, err := p.TextToMetricFamilies(bytes.NewReader(body)); err == nil && len(fams) > 0 {
		return fmt.Errorf("answered a Prometheus text page (%d metrics), not JSON state; name the series that holds the state with --breaker-state-metric, like resilience4j_circuitbreaker_state{name=\"backend\"} --breaker-state-map label:state", len(fams))
	}
	return fmt.Errorf("answered %q, which is not a breaker state; want JSON {\"state\": \"closed\"|\"open\"|\"half-open\"} or a bare state, or Prometheus text with --breaker-state-metric", sanitizeNote(strings.TrimSpace(string(body)), maxStateExcerpt))
}

// parseState reads {"state": "..."} or a bare JSON string and maps it to a
// report state.
func parseState(body []byte) (raw, state string) {
	var obj struct {
		State string `json:"state"`
	}
	if json.Unmarshal(body, &obj) != nil || obj.State == "" {
		if json.Unmarshal(body, &raw) != nil {
			raw = strings.TrimSpace(string(body))
		}
	} else {
		raw = obj.State
	}
	return raw, stateWord(raw)
}

func (p *statePoller) state() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

func (p *statePoller) transitions() []reports.Transition {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]reports.Transition(nil), p.trans...)
}

func (p *statePoller) sawBreaker() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.breaker
}

func (p *statePoller) lastRaw() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw
}

// stop ends polling and waits for the poller; it may be called twice.
func (p *statePoller) stop() {
	p.once.Do(func() {
		p.cancel()
		<-p.done
		p.client.CloseIdleConnections()
	})
}
