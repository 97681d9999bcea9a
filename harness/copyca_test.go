package harness

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestCopyUpstreamCA(t *testing.T) {
	ctx := context.Background()
	tlsDir, out := t.TempDir(), t.TempDir()
	if _, err := CopyUpstreamCA(ctx, tlsDir, out); err == nil {
		t.Fatal("copied a CA from a folder with none")
	}
	if _, err := EnsureUpstreamCert(ctx, tlsDir); err != nil {
		t.Fatal(err)
	}
	p, err := CopyUpstreamCA(ctx, tlsDir, out)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(tlsDir, UpstreamCAFile))
	got, _ := os.ReadFile(p)
	if p != filepath.Join(out, UpstreamCAFile) || len(want) == 0 || !bytes.Equal(got, want) {
		t.Fatalf("copy at %s holds %d bytes; want %s holding the %d of the CA", p, len(got), filepath.Join(out, UpstreamCAFile), len(want))
	}
}
