package harness

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cbload/cbload/internal/testenv"
	"github.com/cbload/cbload/reports"
)

// The Jaeger UI test opens cbload's traces the way a person does: Jaeger's
// own web UI (built jaeger-ui assets, which the Go module does not ship)
// rendered by headless Chromium. Without the assets or the browser it skips
// locally and fails in CI.

// jaegerUIAssets returns the absolute path of a folder of built Jaeger UI
// assets, $JAEGER_UI or ../shared/jaeger-ui beside the repository (where
// make jaeger-up looks too), or "" and why none was found.
func jaegerUIAssets() (dir, missing string) {
	p := os.Getenv("JAEGER_UI")
	if p == "" {
		p = filepath.Join("..", "..", "shared", "jaeger-ui")
	}
	if _, err := os.Stat(filepath.Join(p, "index.html")); err != nil {
		return "", fmt.Sprintf("no Jaeger UI assets at %s (no index.html): set JAEGER_UI to a folder of built jaeger-ui v1.76.0 (see README, View traces in Jaeger)", p)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Sprintf("Jaeger UI assets %s: %v", p, err)
	}
	return abs, ""
}

// browser starts headless Chromium and returns its context, cancelled (and
// the browser stopped) when the test ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := testenv.Chromium(t, "the Jaeger UI test")
	bctx, _ := testenv.Browser(t, exe, 2*time.Minute) // stopped when the test ends
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start Chromium (%s): %v", exe, err)
	}
	return bctx
}

// screenshot saves the visible page as name.png in $CBLOAD_ARTIFACTS or
// testdata/artifacts (ignored by git).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("CBLOAD_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	out := filepath.Join(dir, name+".png")
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", out)
}

// do runs steps on the browser's page, giving up after 30 seconds.
func do(ctx context.Context, steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

// uiRow is one row of the trace page's span tree as the page draws it.
type uiRow struct {
	Service string `json:"service"`
	Op      string `json:"op"`
	Depth   int    `json:"depth"`
}

// spanRows reads the span tree of the trace page: service, operation and
// indentation of every row.
const spanRows = `Array.from(document.querySelectorAll(".span-row")).map(r => ({
  service: r.querySelector(".span-svc-name").textContent.trim(),
  op: r.querySelector(".endpoint-name").textContent.trim(),
  depth: r.querySelectorAll(".SpanTreeOffset--indentGuide").length,
}))`

// checkJaegerUI opens Jaeger's UI in Chromium: the search page of
// cbload-gateway, and the trace page of the breaker arm's first rejection
// exemplar, reached by the path of the report's link.
func checkJaegerUI(t *testing.T, j *jaeger, r *reports.Report) {
	ctx := browser(t)
	wait := chromedp.WithPollingTimeout(30 * time.Second)

	t.Run("search", func(t *testing.T) {
		page := j.query + "/search?service=" + serviceGateway + "&lookback=1h&limit=20"
		if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
			t.Fatalf("open %s: %v", page, err)
		}
		// The URL's service is searched at once; the results are its traces.
		results, err := chromedp.Run(ctx, chromedp.Poll[int](`document.querySelectorAll(".ResultItem").length || false`, wait))
		if err != nil {
			t.Fatalf("search page of %s: no trace listed: %v", serviceGateway, err)
		}
		if err := do(ctx, chromedp.Click(chromedp.CSS(`.ant-select[name="service"]`))); err != nil {
			t.Fatalf("open the service list: %v", err)
		}
		// The list is read once its drop-down has finished fading in, so
		// that the screenshot shows it.
		services, err := chromedp.Run(ctx, chromedp.Poll[[]string](`(() => {
		  const d = document.querySelector(".ant-select-dropdown");
		  if (!d || getComputedStyle(d).opacity !== "1" || d.getAnimations({subtree: true}).length) return false;
		  const o = Array.from(d.querySelectorAll(".ant-select-item-option")).map(e => e.getAttribute("title"));
		  return o.length ? o : false;
		})()`, wait))
		if err != nil {
			t.Fatalf("the service list never opened: %v", err)
		}
		screenshot(t, ctx, "jaeger-ui-search")
		slices.Sort(services)
		if want := []string{serviceGateway, serviceLoadgen, serviceUpstream}; !slices.Equal(services, want) {
			t.Errorf("service list = %q; want %q", services, want)
		}
		first, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(".ResultItem").textContent`))
		if !strings.Contains(first, serviceGateway) {
			t.Errorf("first search result %q does not involve %s", first, serviceGateway)
		}
		t.Logf("search page: %d traces listed, services %q", results, services)
	})

	t.Run("first rejection", func(t *testing.T) {
		var link *url.URL
		for _, e := range r.Arm(reports.ArmBreaker).Exemplars {
			if e.Phase == "fault" && e.Kind == "first_rejection" {
				u, err := url.Parse(e.URL)
				if err != nil || u.Path != "/trace/"+e.TraceID {
					t.Fatalf("first rejection exemplar link %q; want <jaeger-url>/trace/%s", e.URL, e.TraceID)
				}
				link = u
			}
		}
		if link == nil {
			t.Fatal("the breaker arm has no first_rejection exemplar in the fault phase")
		}
		page := j.query + link.Path
		if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
			t.Fatalf("open %s: %v", page, err)
		}
		rows, err := chromedp.Run(ctx, chromedp.Poll[[]uiRow](`(() => {
		  const rows = `+spanRows+`;
		  return rows.some(r => r.op === "breaker upstream") ? rows : false;
		})()`, wait))
		if err != nil {
			t.Fatalf("trace page %s never showed a breaker upstream span: %v", page, err)
		}
		at := slices.IndexFunc(rows, func(r uiRow) bool { return r.Op == "breaker upstream" })
		for _, row := range rows {
			if row.Service == serviceUpstream || row.Op == "GET /work" {
				t.Errorf("trace page shows a %s span %q; a rejected request never calls the upstream (rows %+v)", row.Service, row.Op, rows)
			}
		}
		// Rows are the tree in depth-first order: a child would come next.
		if at+1 < len(rows) && rows[at+1].Depth > rows[at].Depth {
			t.Errorf("trace page shows %s %q under the breaker span; want nothing under it (rows %+v)", rows[at+1].Service, rows[at+1].Op, rows)
		}

		// Expand the breaker span and its tags into the key/value table.
		if err := do(ctx,
			chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll(".span-row")).find(r => r.querySelector(".endpoint-name").textContent.trim() === "breaker upstream").querySelector(".span-name")`)),
			chromedp.WaitVisible(chromedp.CSS(".detail-row .AccordianKeyValues--header")),
			chromedp.Click(chromedp.CSS(".detail-row .AccordianKeyValues--header")),
		); err != nil {
			t.Fatalf("expand the breaker span: %v", err)
		}
		tags, err := chromedp.Run(ctx, chromedp.Poll[map[string]string](`(() => {
		  const d = document.querySelector(".detail-row");
		  if (!d || !d.querySelector("h2") || d.querySelector("h2").textContent !== "breaker upstream") return false;
		  const kv = {};
		  for (const tr of d.querySelectorAll(".KeyValueTable--row")) {
		    kv[tr.querySelector(".KeyValueTable--keyColumn").textContent] = tr.querySelector(".json-markup").textContent;
		  }
		  return Object.keys(kv).length ? kv : false;
		})()`, wait))
		if err != nil {
			t.Fatalf("the breaker span's tags never showed as a table: %v", err)
		}
		screenshot(t, ctx, "jaeger-ui-first-rejection")
		for k, want := range map[string]string{"cbload.breaker.outcome": "rejected_open", "cbload.arm": "breaker", "error.type": "circuit_breaker_open"} {
			if got := tags[k]; got != want {
				t.Errorf("expanded breaker span shows %s = %q; want %q (tags %v)", k, got, want, tags)
			}
		}
	})
}
