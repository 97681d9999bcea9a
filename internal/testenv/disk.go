package testenv

import (
	"os"
	"syscall"
	"testing"
)

// SmallDisk mounts a tmpfs of size (as mount's size= takes it, like 64k or
// 1m) on a fresh folder in the test's temp dir and returns the folder,
// unmounted when the test ends: a disk a test can fill. Mounting needs
// root, which CI has: elsewhere the test skips, saying so.
func SmallDisk(t testing.TB, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs; CI runs it")
	}
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v); CI runs it", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return mnt
}
