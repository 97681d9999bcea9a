package faultserver

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// fire sends n concurrent GETs with client timeout and returns their
// results once all are back.
func fire(t *testing.T, s *Server, n int, timeout time.Duration) []result {
	t.Helper()
	c := newClient(t, timeout)
	out := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = get(c, s.URL()+"/")
		}()
	}
	wg.Wait()
	return out
}

// TestCapacityQueuesAndRejects sends six requests at once to two workers
// with a queue of two: two are served after one service time, two after
// two, and two are answered 503 at once.
func TestCapacityQueuesAndRejects(t *testing.T) {
	const service = 300 * time.Millisecond
	s := start(t, Config{ServiceTime: service, Concurrency: 2, Queue: 2})
	var mu sync.Mutex
	var peakQueue, peakBusy int64
	stop := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			st := s.Stats()
			mu.Lock()
			peakQueue, peakBusy = max(peakQueue, st.QueueLen), max(peakBusy, st.BusyWorkers)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	res := fire(t, s, 6, 10*time.Second)
	close(stop)
	<-polled

	var first, second, rejected int
	for _, r := range res {
		switch {
		case r.err != nil:
			t.Errorf("GET: %v", r.err)
		case r.status == 503:
			rejected++
			if r.elapsed > service/2 || r.fault != "" {
				t.Errorf("rejected GET took %v with fault %q; want it at once, with no fault named", r.elapsed, r.fault)
			}
		case r.status == 200 && r.elapsed < service*3/2:
			first++
		case r.status == 200 && r.elapsed < service*5/2:
			second++
		default:
			t.Errorf("GET = %d after %v; want 200 after one or two service times, or 503", r.status, r.elapsed)
		}
	}
	if first != 2 || second != 2 || rejected != 2 {
		t.Errorf("served after one service time %d, after two %d, rejected %d; want 2, 2, 2", first, second, rejected)
	}
	st := s.Stats()
	if st.Completed != 4 || st.Rejected != 2 || st.CompletedForGone != 0 || st.QueueLen != 0 || st.BusyWorkers != 0 {
		t.Errorf("Stats = completed %d, rejected %d, for gone %d, queue %d, busy %d; want 4, 2, 0, 0, 0",
			st.Completed, st.Rejected, st.CompletedForGone, st.QueueLen, st.BusyWorkers)
	}
	if peakQueue != 2 || peakBusy != 2 {
		t.Errorf("peak queue %d, busy %d while loaded; want 2 and 2", peakQueue, peakBusy)
	}
	// The queue emptied before the snapshot; its peak was kept.
	if p := s.TakeQueuePeak(); p != 2 {
		t.Errorf("TakeQueuePeak = %d after the burst; want 2, the most that waited at once", p)
	}
	if p := s.TakeQueuePeak(); p != 0 {
		t.Errorf("TakeQueuePeak = %d again; want 0: nothing waited since the last call", p)
	}
}

// TestCapacityWorkOutlivesCallers checks the default: callers that give up
// do not free the workers; their work is done in full, for nobody. With
// HonorCancel the same callers free the workers at once.
func TestCapacityWorkOutlivesCallers(t *testing.T) {
	const (
		service = 200 * time.Millisecond
		n       = 4
	)
	for _, honor := range []bool{false, true} {
		s := start(t, Config{ServiceTime: service, Concurrency: 1, Queue: n, HonorCancel: honor})
		t0 := time.Now()
		for _, r := range fire(t, s, n, 50*time.Millisecond) {
			if r.err == nil {
				t.Errorf("honor %v: GET = %d; want the 50ms client timeout", honor, r.status)
			}
		}
		if !honor {
			waitFor(t, "the abandoned work to be done", 10*time.Second, func() bool { return s.Stats().Completed == n })
			// One worker does the n requests one after another.
			if d := time.Since(t0); d < n*service-50*time.Millisecond {
				t.Errorf("work for %d gone callers finished after %v; want about %v, one after another", n, d, n*service)
			}
			if st := s.Stats(); st.CompletedForGone != n || st.Abandoned != 0 {
				t.Errorf("completed for gone %d, abandoned %d; want %d, 0", st.CompletedForGone, st.Abandoned, n)
			}
			continue
		}
		waitFor(t, "the work to be abandoned", 10*time.Second, func() bool { return s.Stats().Abandoned == n })
		if d := time.Since(t0); d > service {
			t.Errorf("honoured cancels took %v; want the workers freed at once, well under %v", d, service)
		}
		if st := s.Stats(); st.Completed != 0 || st.BusyWorkers != 0 || st.QueueLen != 0 {
			t.Errorf("after honoured cancels: completed %d, busy %d, queue %d; want 0", st.Completed, st.BusyWorkers, st.QueueLen)
		}
	}
}

// TestCapacityClose checks that Close does not wait for work nobody is
// waiting for.
func TestCapacityClose(t *testing.T) {
	s, err := New(Config{ServiceTime: time.Hour, Concurrency: 1, Queue: 10})
	if err != nil {
		t.Fatal(err)
	}
	fire(t, s, 3, 50*time.Millisecond)
	t0 := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("Close with an hour of queued work took %v; want it at once", d)
	}
}

func TestCapacityConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Concurrency: -1}, "concurrency -1: want a number of workers from 0 (unbounded) to the limit of 100000"},
		{Config{Concurrency: MaxConcurrency + 1}, "concurrency 100001"},
		{Config{Concurrency: 1, Queue: -1}, "queue -1: want a length from 0 to the limit of 1000000"},
		{Config{Queue: 5}, "queue and honor-cancel need a concurrency above zero"},
		{Config{HonorCancel: true}, "need a concurrency above zero"},
		{Config{Concurrency: 4, ProxyTo: "http://127.0.0.1:1"}, "in proxy mode the backend's own capacity applies"},
		{Config{ProxyTo: "http://127.0.0.1:1", Faults: mustSpecs(t, "slowdown:3x")}, `fault "slowdown:3x": slowdown scales the synthetic service time, and proxy mode has none`},
	} {
		if err := tt.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v; want %q", tt.cfg, err, tt.want)
		}
	}
}
