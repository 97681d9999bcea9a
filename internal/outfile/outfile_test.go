package outfile

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cbload/cbload/internal/testenv"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteRegular(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.xml")
	if err := Write(context.Background(), p, []byte("one")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(p)
	if err := Write(context.Background(), p, []byte("two")); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(p)
	if got := read(t, p); got != "two" {
		t.Errorf("content = %q; want two", got)
	}
	if os.SameFile(before, after) {
		t.Errorf("a regular file was written in place; want a new file renamed over it")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

// TestWriteSymlink: a link to a regular file keeps being a link; the file
// it points to gets the data, atomically.
func TestWriteSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real", "junit.xml")
	os.Mkdir(filepath.Dir(real), 0o755)
	os.WriteFile(real, []byte("old"), 0o644)
	link := filepath.Join(dir, "link.xml")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := Write(context.Background(), link, []byte("new")); err != nil {
		t.Fatal(err)
	}
	li, err := os.Lstat(link)
	if err != nil || li.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", li.Mode(), err)
	}
	if got := read(t, real); got != "new" {
		t.Errorf("target content = %q; want new", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("left behind: %v", entries)
	}
}

func TestWriteRefused(t *testing.T) {
	dir := t.TempDir()
	dangling := filepath.Join(dir, "dangling")
	os.Symlink(filepath.Join(dir, "nothing"), dangling)
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tt := range []struct{ path, want string }{
		{dir, "is a folder"},
		{dangling, "is a symbolic link to " + filepath.Join(dir, "nothing") + ", which does not exist"},
		{sock, "is a socket"},
	} {
		err := Write(context.Background(), tt.path, []byte("x"))
		var re *RefusedError
		if !errors.As(err, &re) || re.Reason != tt.want {
			t.Errorf("Write(%s) = %v; want a refusal %q", tt.path, err, tt.want)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "nothing")); !os.IsNotExist(err) {
		t.Errorf("a dangling link's target was created")
	}
}

// TestWriteFIFO: a FIFO is written through to its reader, not replaced by
// a regular file.
func TestWriteFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(p)
		if err != nil {
			got <- err.Error()
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- string(b)
	}()
	data := strings.Repeat("report line\n", 20000) // more than a pipe buffer
	if err := Write(context.Background(), p, []byte(data)); err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != data {
		t.Errorf("the reader got %d bytes; want %d", len(g), len(data))
	}
	if fi, err := os.Lstat(p); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v %v", fi.Mode(), err)
	}
}

// TestWriteFIFONoReader: a FIFO nobody opens ends with ctx.
func TestWriteFIFONoReader(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := Write(ctx, p, []byte("x"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Write to a FIFO without reader = %v; want the context's error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Write took %v after its context ended", d)
	}
}

// mknod makes a character device node in a temp dir, as root; it skips
// when the node cannot be made or opened here.
func mknod(t *testing.T, name string, major, minor uint32) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := syscall.Mknod(p, syscall.S_IFCHR|0o666, int(major<<8|minor)); err != nil {
		t.Skipf("cannot make a device node here (%v); CI runs as root", err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("cannot open a device node here (%v)", err)
	}
	f.Close()
	return p
}

// TestWriteDevice: a character device is written through and stays one.
func TestWriteDevice(t *testing.T) {
	p := mknod(t, "null", 1, 3)
	if err := Write(context.Background(), p, []byte("discarded")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(p)
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("the device node was replaced: %v %v", fi.Mode(), err)
	}
}

// TestWriteFullDevice: a full disk at the write is an error, also through
// a device (the full device: every write is ENOSPC), for Write, Append
// and a File.
func TestWriteFullDevice(t *testing.T) {
	p := mknod(t, "full", 1, 7)
	err := Write(context.Background(), p, []byte("x"))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Write to the full device = %v; want ENOSPC", err)
	}
	if err := Append(context.Background(), p, []byte("x")); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Append to the full device = %v; want ENOSPC", err)
	}
	f, err := Create(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	_, werr := f.Write([]byte("x"))
	f.Close()
	if !errors.Is(werr, syscall.ENOSPC) {
		t.Errorf("File.Write to the full device = %v; want ENOSPC", werr)
	}
}

// TestWriteFullDisk: a regular file on a full tmpfs is an error, and no
// temporary file is left.
func TestWriteFullDisk(t *testing.T) {
	mnt := testenv.SmallDisk(t, "64k")
	p := filepath.Join(mnt, "report.html")
	err := Write(context.Background(), p, make([]byte, 1<<20))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Write on a full disk = %v; want ENOSPC", err)
	}
	f, err := Create(context.Background(), filepath.Join(mnt, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	_, werr := f.Write(make([]byte, 1<<20))
	cerr := f.Close()
	if !errors.Is(werr, syscall.ENOSPC) && !errors.Is(cerr, syscall.ENOSPC) {
		t.Errorf("File on a full disk: write %v, close %v; want ENOSPC", werr, cerr)
	}
	if entries, _ := os.ReadDir(mnt); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

func TestCreateSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "results.json")
	os.WriteFile(real, []byte("old old old"), 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(real, link)
	f, err := Create(context.Background(), link)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("new"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, real); got != "new" {
		t.Errorf("target = %q; want new", got)
	}
	if li, _ := os.Lstat(link); li.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced")
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	release, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(dir); !errors.Is(err, ErrLocked) {
		t.Errorf("second Lock = %v; want ErrLocked", err)
	}
	release()
	again, err := Lock(dir)
	if err != nil {
		t.Fatalf("Lock after release = %v", err)
	}
	again()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the lock left files: %v", entries)
	}
}

// TestAppend: a regular file grows, a link's file grows and the link
// stays, a link to nothing is refused.
func TestAppend(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "summary.md")
	os.WriteFile(real, []byte("a\n"), 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(real, link)
	for _, p := range []string{real, link} {
		if err := Append(context.Background(), p, []byte("b\n")); err != nil {
			t.Fatal(err)
		}
	}
	if got := read(t, real); got != "a\nb\nb\n" {
		t.Errorf("content = %q; want three lines", got)
	}
	if li, _ := os.Lstat(link); li.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced")
	}
	dangling := filepath.Join(dir, "dangling")
	os.Symlink(filepath.Join(dir, "none"), dangling)
	var re *RefusedError
	if err := Append(context.Background(), dangling, []byte("x")); !errors.As(err, &re) {
		t.Errorf("Append to a dangling link = %v; want a refusal", err)
	}
}

func TestWritePerm(t *testing.T) {
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := WritePerm(context.Background(), p, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v; want 0600", fi.Mode().Perm())
	}
}

// TestWriteFIFOInterrupted: once ctx is done, a write to a FIFO whose
// reader does not read ends within the grace period.
func TestWriteFIFOInterrupted(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0) // opens, never reads
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = Write(ctx, p, make([]byte, 1<<20)) // more than the pipe holds
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Write = %v; want the context's error", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond+stopGrace+time.Second {
		t.Errorf("Write took %v; want about %v", d, 100*time.Millisecond+stopGrace)
	}
}
