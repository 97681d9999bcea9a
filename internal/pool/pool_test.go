package pool

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAcquireWaitsThenTimesOut(t *testing.T) {
	p := New(1, 50*time.Millisecond)
	leave := p.Enter()
	if err := p.Acquire(context.Background(), nil); err != nil {
		t.Fatalf("first Acquire = %v; want nil", err)
	}
	leave2 := p.Enter()
	var waited time.Duration
	var waitErr error
	start := time.Now()
	err := p.Acquire(context.Background(), func() func(time.Duration, error) {
		return func(d time.Duration, err error) { waited, waitErr = d, err }
	})
	took := time.Since(start)
	if !errors.Is(err, ErrTimeout) || !errors.Is(waitErr, ErrTimeout) {
		t.Errorf("Acquire on a full pool = %v (onWait saw %v); want ErrTimeout", err, waitErr)
	}
	if took < 50*time.Millisecond || took > 250*time.Millisecond || waited < 50*time.Millisecond {
		t.Errorf("timed out after %v (onWait saw %v); want the 50ms queue timeout", took, waited)
	}
	if got := p.TakePeak(); got != 2 {
		t.Errorf("TakePeak = %d; want 2", got)
	}
	leave2()
	if got := p.TakePeak(); got != 2 {
		t.Errorf("TakePeak after one left = %d; want 2 (two were in flight when the period began)", got)
	}
	if got := p.TakePeak(); got != 1 {
		t.Errorf("next TakePeak = %d; want 1 (the one still in flight)", got)
	}
	p.Release()
	leave()
	if got := p.InFlight(); got != 0 {
		t.Errorf("InFlight after all left = %d; want 0", got)
	}
}

func TestAcquireGetsReleasedSlot(t *testing.T) {
	p := New(1, time.Second)
	if err := p.Acquire(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(20*time.Millisecond, p.Release)
	waitedCalled := false
	if err := p.Acquire(context.Background(), func() func(time.Duration, error) { waitedCalled = true; return nil }); err != nil {
		t.Fatalf("Acquire after a release = %v; want nil", err)
	}
	if !waitedCalled {
		t.Errorf("onWait not called although no slot was free at once")
	}
	p.Release()
}

func TestAcquireCancelled(t *testing.T) {
	p := New(1, time.Hour)
	_ = p.Acquire(context.Background(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	if err := p.Acquire(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire with a cancelled context = %v; want context.Canceled", err)
	}
	p.Release()
}

// A queue pool lets at most its queue of callers wait, with no time
// limit; the next caller is refused at once, and the waiting peak never
// counts it.
func TestQueueFullAndWaiting(t *testing.T) {
	p := NewQueue(1, 1)
	if err := p.Acquire(context.Background(), nil); err != nil {
		t.Fatalf("first Acquire = %v; want nil", err)
	}
	waited, waiting := make(chan error, 1), make(chan struct{})
	go func() {
		waited <- p.Acquire(context.Background(), func() func(time.Duration, error) { close(waiting); return nil })
	}()
	<-waiting
	start := time.Now()
	if err := p.Acquire(context.Background(), nil); !errors.Is(err, ErrFull) {
		t.Errorf("Acquire with a full queue = %v; want ErrFull", err)
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("a full queue refused after %v; want at once", took)
	}
	if got := p.Busy(); got != 1 {
		t.Errorf("Busy = %d; want 1", got)
	}
	if got := p.TakeWaitingPeak(); got != 1 {
		t.Errorf("TakeWaitingPeak = %d; want 1 (the refused caller never waited)", got)
	}
	p.Release()
	if err := <-waited; err != nil {
		t.Errorf("queued Acquire = %v; want the released slot", err)
	}
	if got := p.Waiting(); got != 0 {
		t.Errorf("Waiting after the queue emptied = %d; want 0", got)
	}
	if got := p.TakeWaitingPeak(); got != 1 {
		t.Errorf("TakeWaitingPeak = %d; want 1 (one waited in the period)", got)
	}
	if got := p.TakeWaitingPeak(); got != 0 {
		t.Errorf("next TakeWaitingPeak = %d; want 0", got)
	}
	p.Release()
}

// A queue pool's caller waits as long as its context lasts: there is no
// queue timeout.
func TestQueueWaitsForContext(t *testing.T) {
	p := NewQueue(1, 5)
	_ = p.Acquire(context.Background(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.Acquire(ctx, nil)
	if took := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || took < 80*time.Millisecond {
		t.Errorf("Acquire = %v after %v; want the context's deadline after 80ms", err, took)
	}
	p.Release()
}

func TestGauge(t *testing.T) {
	var g Gauge
	g.Add(1)
	g.Add(1)
	g.Add(-1)
	if g.Load() != 1 || g.Peak() != 2 {
		t.Errorf("Load, Peak = %d, %d; want 1, 2", g.Load(), g.Peak())
	}
	if got := g.TakePeak(); got != 2 {
		t.Errorf("TakePeak = %d; want 2", got)
	}
	if got := g.TakePeak(); got != 1 {
		t.Errorf("next TakePeak = %d; want 1, the count when the period began", got)
	}
	if !g.addBelow(2) || g.addBelow(2) {
		t.Errorf("addBelow(2) from 1: want one add, then none")
	}
	if g.Load() != 2 || g.Peak() != 2 {
		t.Errorf("after addBelow: Load, Peak = %d, %d; want 2, 2", g.Load(), g.Peak())
	}
}
