package testenv

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium returns the path of a Chromium binary: $CBLOAD_CHROMIUM,
// /usr/bin/chromium or /usr/bin/chromium-browser. Without one it skips the
// test, saying that what (the test, as a reader knows it) did not run, or
// fails it in CI.
func Chromium(t testing.TB, what string) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CBLOAD_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	SkipOrFail(t, "Chromium is not installed (looked for $CBLOAD_CHROMIUM and /usr/bin/chromium): "+what+" did not run; install it with: apt-get install -y chromium")
	return ""
}

// Browser returns the context of a headless Chromium, exe, with a fresh
// profile in the test's temp dir, a 1400×1000 window and nothing that
// reaches the network on its own; the browser starts with the context's
// first action and ends with timeout. The caller must call stop, which
// ends the browser; the test's end calls it too.
func Browser(t testing.TB, exe string, timeout time.Duration) (ctx context.Context, stop func()) {
	t.Helper()
	tctx, cancel := context.WithTimeout(context.Background(), timeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(tctx,
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium-profile")),
		chromedp.WindowSize(1400, 1000),
	)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	stop = func() { cancelBrowser(); cancelAlloc(); cancel() }
	t.Cleanup(stop)
	return bctx, stop
}
