package inputfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cbload/cbload/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestReadSmallFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Read(context.Background(), p, 5, time.Second)
	if err != nil || string(got) != "hello" {
		t.Errorf("Read = %q, %v; want hello", got, err)
	}
	_, err = Read(context.Background(), p, 4, time.Second)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Limit != 4 {
		t.Errorf("Read with limit 4 = %v; want a TooLargeError", err)
	}
	if _, err := Read(context.Background(), filepath.Join(t.TempDir(), "none"), 4, time.Second); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Read of a missing file = %v; want ErrNotExist", err)
	}
}

// TestReadDevZero reads a file with no end: it must stop at the limit.
func TestReadDevZero(t *testing.T) {
	zero := filepath.Join(t.TempDir(), "zero") // never the machine's /dev
	if err := syscall.Mknod(zero, syscall.S_IFCHR|0o444, 1<<8|5); err != nil {
		t.Skipf("cannot make a device node here (%v); CI runs as root", err)
	}
	_, err := Read(context.Background(), zero, 1<<20, 5*time.Second)
	var tl *TooLargeError
	if !errors.As(err, &tl) {
		t.Errorf("Read(/dev/zero) = %v; want a TooLargeError", err)
	}
	if err != nil && err.Error() != "larger than the 1 MiB limit" {
		t.Errorf("TooLargeError message %q", err)
	}
}

// TestReadFIFOCancel cancels while Read waits for a FIFO's writer (in open)
// and while it waits for data (in read): each returns promptly with the
// context's error and leaves no goroutine behind (TestMain checks).
func TestReadFIFOCancel(t *testing.T) {
	for _, withWriter := range []bool{false, true} {
		p := testenv.FIFO(t)
		if withWriter {
			// A writer that never writes: open's wait is over, read's begins.
			testenv.HoldFIFO(t, p)
		}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err := Read(ctx, p, 1<<20, time.Minute)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Read(FIFO, writer %v) cancelled = %v; want context.Canceled", withWriter, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Read(FIFO, writer %v) took %v after a cancel at 100ms; want well under 2s", withWriter, d)
		}
	}
}

func TestReadFIFOTimeout(t *testing.T) {
	p := testenv.FIFO(t)
	_, err := Read(context.Background(), p, 1<<20, 200*time.Millisecond)
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("Read(FIFO) = %v; want ErrTimeout", err)
	}
}

func TestReadFIFOWithData(t *testing.T) {
	p := testenv.FIFO(t)
	go func() {
		w, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		w.Write([]byte("seed: 1\n"))
		w.Close()
	}()
	got, err := Read(context.Background(), p, 1<<20, 5*time.Second)
	if err != nil || string(got) != "seed: 1\n" {
		t.Errorf("Read(FIFO) = %q, %v; want the data written", got, err)
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{1 << 20: "1 MiB", 64 << 20: "64 MiB", 4096: "4 KiB", 1000: "1000 bytes"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q; want %q", n, got, want)
		}
	}
}

// TestReadRegular refuses a FIFO and a folder without opening them (an
// open of the FIFO would block: no one writes to it) and reads a regular
// file.
func TestReadRegular(t *testing.T) {
	dir := t.TempDir()
	for path, want := range map[string]string{testenv.FIFO(t): "a FIFO, not a regular file", dir: "a folder, not a regular file"} {
		_, err := ReadRegular(context.Background(), path, 1<<20, time.Minute)
		if !errors.Is(err, ErrNotRegular) || err.Error() != want {
			t.Errorf("ReadRegular(%s) = %v; want %q", path, err, want)
		}
	}
	p := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(p, []byte("pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadRegular(context.Background(), p, 1<<20, time.Minute); err != nil || string(got) != "pem" {
		t.Errorf("ReadRegular(regular file) = %q, %v; want its content", got, err)
	}
	if _, err := ReadRegular(context.Background(), filepath.Join(dir, "none"), 1<<20, time.Minute); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadRegular(missing) = %v; want ErrNotExist", err)
	}
}
