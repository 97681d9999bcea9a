package harness

import (
	"context"
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
	client := &http.Client{
		Timeout:   timeout,
		Transport: cancelOn{ctx: stopCtx, next: rt},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	// Without a cap, vegeta's workers grow to rate × timeout during an
	// outage; that is the open model working as intended, but bound it so a
	// hung target cannot exhaust the machine.
	maxWorkers := uint64(math.Ceil(rate*timeout.Seconds())) + 100
	return &loadRunner{
		attacker: vegeta.NewAttacker(
			vegeta.Workers(16),
			vegeta.MaxWorkers(maxWorkers),
			vegeta.MaxBody(0),
			vegeta.Client(client), // last: options before it may reconfigure the transport it replaces
		),
		client: client,
		stop:   stop,
	}
}

// attack sends requests as p paces them until p stops. Results are
// delivered on the returned channel, which closes when the attack is over.
func (l *loadRunner) attack(tr vegeta.Targeter, p *schedulePacer) <-chan *vegeta.Result {
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

type cancelOn struct {
	ctx  context.Context
	next http.RoundTripper
}

func (c cancelOn) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(c.ctx, cancel)
	resp, err := c.next.RoundTrip(r.WithContext(ctx))
	if err != nil {
		stop()
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, header: resp.Header, done: func() { stop(); cancel() }}
	return resp, nil
}

// bodyBytesHeader carries the size of a response body to the recorder:
// vegeta, told to keep no body (MaxBody(0)), reports 0 bytes in, so the
// load runner's transport counts them and, once the body has been read to
// its end, sets this header on the response vegeta hands back.
const bodyBytesHeader = "X-Cbload-Body-Bytes"

type cancelBody struct {
	io.ReadCloser
	header http.Header
	n      int64
	once   sync.Once
	done   func()
}

func (b *cancelBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err == io.EOF && b.header != nil {
		b.header.Set(bodyBytesHeader, strconv.FormatInt(b.n, 10))
	}
	return n, err
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
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
