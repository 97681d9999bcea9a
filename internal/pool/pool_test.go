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
