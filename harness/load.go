package harness

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// loadRunner drives a constant open-model rate at a gateway with vegeta,
// sending a seeded share of requests to the collateral endpoint.
type loadRunner struct {
	attacker *vegeta.Attacker
	client   *http.Client
	// stop cancels requests still in flight when the run is cut short, so an
	// interrupt ends the load within a second instead of a client timeout.
	stop context.CancelFunc
}

// newLoadRunner builds a load runner; tune, when not nil, adjusts the
// transport (TLS, which addresses it may dial), and wrap, when not nil,
// wraps it (for tracing, counting, checking answers). The caller must call
// close after the attack's results channel is drained.
func newLoadRunner(rate float64, timeout time.Duration, tune func(*http.Transport), wrap func(http.RoundTripper) http.RoundTripper) *loadRunner {
	stopCtx, stop := context.WithCancel(context.Background())
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
		MaxIdleConnsPerHost: 10000,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	if tune != nil {
		tune(tr)
	}
	var rt http.RoundTripper = tr
	if wrap != nil {
		rt = wrap(rt)
	}
	// The timeout is cancelOn's, not the client's: a client with a
	// Timeout and a transport it does not know (cancelOn) starts a timer,
	// a goroutine and a channel per request to enforce it.
	client := &http.Client{
		Transport: &cancelOn{ctx: stopCtx, timeout: timeout, next: rt},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	// Without a cap, vegeta's workers grow to rate × timeout during an
	// outage; that is the open model working as intended, but bound it so a
	// hung target cannot exhaust the machine.
	maxWorkers := uint64(math.Ceil(rate*timeout.Seconds())) + 100
	return &loadRunner{
		attacker: newAttacker(client, maxWorkers),
		client:   client,
		stop:     stop,
	}
}

// newAttacker returns a vegeta attacker sending with client from 16
// workers, growing to maxWorkers while all are busy, keeping no bodies.
// An attacker serves one attack.
func newAttacker(client *http.Client, maxWorkers uint64) *vegeta.Attacker {
	return vegeta.NewAttacker(
		vegeta.Workers(min(16, maxWorkers)),
		vegeta.MaxWorkers(maxWorkers),
		vegeta.MaxBody(0),
		vegeta.Client(client), // last: options before it may reconfigure the transport it replaces
	)
}

// attack sends requests as p paces them until p stops. Results are
// delivered on the returned channel, which closes when the attack is over.
func (l *loadRunner) attack(tr vegeta.Targeter, p vegeta.Pacer) <-chan *vegeta.Result {
	return l.attacker.Attack(tr, p, 0, "cbload")
}

// MinRate and MaxRate bound the rates the load runner paces. Below MinRate
// vegeta's pacer would sleep more than a second between requests, which an
// interrupt cannot cut short; above MaxRate this load runner does not send
// reliably.
const (
	MinRate = 1
	MaxRate = 20000
)

// sendInterval is the time between two scheduled requests at rate, to the
// nanosecond (schedulePacer paces by it): a rounded frequency could turn a
// small rate into 0, which vegeta reads as "unlimited".
func sendInterval(rate float64) time.Duration {
	return time.Duration(math.Round(float64(time.Second) / rate))
}

// abort stops sending and cancels requests in flight.
func (l *loadRunner) abort() {
	l.attacker.Stop()
	l.stop()
}

func (l *loadRunner) close() {
	l.stop()
	l.client.CloseIdleConnections()
}

// cancelOn gives every request the load runner's timeout and cancels it
// when ctx is: the request's context is derived from ctx with the timeout,
// and cancelled once its body is closed.
type cancelOn struct {
	ctx     context.Context
	timeout time.Duration
	next    http.RoundTripper
}

// errClientTimeout is why a request that ran out its load runner's timeout
// ended; its text says so as net/http's own client timeout does, so
// results and error sets read the same.
var errClientTimeout = fmt.Errorf("%w (Client.Timeout exceeded)", context.DeadlineExceeded)

func (c *cancelOn) RoundTrip(r *http.Request) (*http.Response, error) {
	parent := c.ctx
	var stop func() bool
	if r.Context().Done() != nil {
		// A request with its own deadline or cancellation (vegeta's
		// have none): keep it, and cancel on ctx as well.
		parent = r.Context()
	}
	ctx, cancel := context.WithTimeoutCause(parent, c.timeout, errClientTimeout)
	if parent != c.ctx {
		stop = context.AfterFunc(c.ctx, cancel)
	}
	resp, err := c.next.RoundTrip(r.WithContext(ctx))
	if err != nil {
		if stop != nil {
			stop()
		}
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, header: resp.Header, cancel: cancel, stop: stop}
	return resp, nil
}

// bodyBytesHeader carries the size of a response body to the recorder:
// vegeta, told to keep no body (MaxBody(0)), reports 0 bytes in, so the
// load runner's transport counts them and, once the body has been read to
// its end, sets this header on the response vegeta hands back.
const bodyBytesHeader = "X-Cbload-Body-Bytes"

// cancelBody counts a response body's bytes into bodyBytesHeader and ends
// its request's context when closed.
type cancelBody struct {
	io.ReadCloser
	header http.Header
	n      int64
	cancel context.CancelFunc
	stop   func() bool // nil when there is nothing to stop
}

func (b *cancelBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err == io.EOF && b.header != nil {
		b.header[bodyBytesHeader] = sizeValue(b.n)
	}
	return n, err
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	if b.stop != nil {
		b.stop()
	}
	b.cancel() // idempotent, as stop is
	return err
}

// sizeValues holds the header values of the small body sizes, made once
// each and shared: nothing changes a result's header values after
// cancelBody sets them, and most answers are small.
var sizeValues [4096]atomic.Pointer[[]string]

// sizeValue returns a header value holding n.
func sizeValue(n int64) []string {
	if n < 0 || n >= int64(len(sizeValues)) {
		return []string{strconv.FormatInt(n, 10)}
	}
	if v := sizeValues[n].Load(); v != nil {
		return *v
	}
	v := []string{strconv.FormatInt(n, 10)}
	sizeValues[n].Store(&v)
	return v
}

// mixTargeter returns a targeter that sends each request to collateral
// with probability share and to api otherwise, from a seeded source, so the
// same seed gives the same request sequence. vegeta calls it as it sends
// each request, so it counts the sends in sent as they happen.
func mixTargeter(api, collateral string, share float64, seed int64, sent *atomic.Int64) vegeta.Targeter {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6362_6c6f_6164)) // "cbload"
	return func(t *vegeta.Target) error {
		mu.Lock()
		c := rng.Float64() < share
		mu.Unlock()
		sent.Add(1)
		t.Method = http.MethodGet
		t.URL = api
		if c {
			t.URL = collateral
		}
		return nil
	}
}
