package reports_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/internal/testenv"
	"github.com/cbload/cbload/reports"
)

// artifactDir is where screenshots go: $CBLOAD_ARTIFACTS, or
// testdata/artifacts (ignored by git).
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CBLOAD_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chartStatus is window.cbloadCharts, which the page's script fills in.
type chartStatus struct {
	Ready  bool     `json:"ready"`
	Errors []string `json:"errors"`
	Charts map[string]struct {
		Title  string `json:"title"`
		Series int    `json:"series"`
		Points int    `json:"points"`
		Drawn  bool   `json:"drawn"`
	} `json:"charts"`
}

// colourPixels counts, per chart canvas, the pixels drawn in each arm's
// colour and in the "ok" outcome colour: proof that series were drawn, not
// only axes and grid.
const colourPixels = `(() => {
  const want = {breaker: [37, 99, 235], "no-breaker": [234, 88, 12], ok: [22, 163, 74]};
  return Array.from(document.querySelectorAll(".chart")).flatMap(card =>
    Array.from(card.querySelectorAll(".uplot canvas")).map((c, i) => {
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      const n = {chart: card.id + "#" + i};
      for (const k in want) n[k] = 0;
      for (let p = 0; p < d.length; p += 4) {
        if (d[p + 3] < 200) continue;
        for (const k in want) {
          const w = want[k];
          if (Math.abs(d[p] - w[0]) < 12 && Math.abs(d[p + 1] - w[1]) < 12 && Math.abs(d[p + 2] - w[2]) < 12) n[k]++;
        }
      }
      return n;
    }));
})()`

// pageLayout measures what a reader at this width would see go wrong: the
// page scrolling sideways, a table cutting its last columns, and a breaker
// state label clipped by its segment (the "h" of a short half-open).
const pageLayout = `(() => {
  const doc = document.documentElement;
  const out = {scrollWidth: doc.scrollWidth, viewport: doc.clientWidth, cut: [], clipped: [], wide: []};
  // The innermost elements that end past the viewport say what overflows.
  document.querySelectorAll("body *").forEach(e => {
    if (e.getBoundingClientRect().right > doc.clientWidth + 0.5 &&
        !Array.from(e.children).some(c => c.getBoundingClientRect().right > doc.clientWidth + 0.5)) {
      out.wide.push(e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && e.className.baseVal === undefined ? "." + e.className.split(" ").join(".") : ""));
    }
  });
  out.wide = out.wide.slice(0, 5);
  document.querySelectorAll("table").forEach((tb, i) => {
    const r = tb.getBoundingClientRect();
    const name = tb.id || (tb.closest("section") || {}).id || "table " + i;
    if (tb.scrollWidth > tb.clientWidth + 1 || r.right > doc.clientWidth + 0.5) {
      out.cut.push(name + ": " + Math.round(tb.scrollWidth) + " px of content in " + Math.round(tb.clientWidth) + " px, ending at " + Math.round(r.right) + " px of a " + doc.clientWidth + " px viewport");
      return;
    }
    tb.querySelectorAll("th, td").forEach(c => {
      const cr = c.getBoundingClientRect();
      if (cr.width > 0 && cr.right > r.right + 0.5) out.cut.push(name + ": cell " + JSON.stringify(c.textContent.trim()) + " ends past the table");
    });
  });
  document.querySelectorAll(".band .seg").forEach(s => {
    if (s.textContent && s.scrollWidth > s.clientWidth + 0.5) out.clipped.push(s.textContent + " in " + s.clientWidth + " px (" + s.title + ")");
  });
  return out;
})()`

// legendValues lists, per chart, the value every legend shows: before any
// hover they must be numbers at the focus second, not dashes.
const legendValues = `Array.from(document.querySelectorAll(".chart .u-legend")).map(l => ({
  chart: l.closest(".chart").id,
  values: Array.from(l.querySelectorAll(".u-series")).map(s => {
    const label = s.querySelector(".u-label"), value = s.querySelector(".u-value");
    return (label ? label.textContent : "") + "=" + (value ? value.textContent : "");
  })
}))`

type layout struct {
	ScrollWidth float64  `json:"scrollWidth"`
	Viewport    float64  `json:"viewport"`
	Cut         []string `json:"cut"`
	Clipped     []string `json:"clipped"`
	Wide        []string `json:"wide"`
}

// checkInBrowser opens the HTML rendering of r in headless Chromium at 800
// and 1400 px and checks that the page does not scroll sideways, that no
// table cuts a column and no state label is clipped, that every legend
// carries numbers before any hover, that every chart drew its data, that
// nothing was logged as an error and that the page made no network request.
// It saves a full-page screenshot as name-WIDTH.png in the artifact folder.
func checkInBrowser(t *testing.T, r *reports.Report, name string) {
	t.Helper()
	exe := testenv.Chromium(t, "the browser test of the HTML report")
	dir := t.TempDir()
	paths, err := reports.WriteAll(context.Background(), dir, r, []string{"html"})
	if err != nil {
		t.Fatal(err)
	}
	page := "file://" + paths[0]

	bctx, stopBrowser := testenv.Browser(t, exe, 150*time.Second)
	defer stopBrowser()

	var mu sync.Mutex
	var requests []string
	err = chromedp.Listen(bctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("start Chromium (%s): %v", exe, err)
	}
	// Console subscribes now; a goroutine owned by this test drains it
	// until cancelConsole, so no message is lost or left queued.
	cctx, cancelConsole := context.WithCancel(bctx)
	messages := chromedp.Console(cctx)
	var problems []string
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()
	defer func() { cancelConsole(); <-consoleDone }()

	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("Network.enable: %v", err)
	}
	for _, width := range []int64{800, 1400} {
		t.Run(fmt.Sprintf("%dpx", width), func(t *testing.T) {
			checkAtWidth(t, bctx, r, page, width, filepath.Join(artifactDir(t), fmt.Sprintf("%s-%d.png", name, width)))
		})
	}

	mu.Lock()
	defer mu.Unlock()
	for _, u := range requests {
		if u != page && !strings.HasPrefix(u, "data:") {
			t.Errorf("the page requested %s; it must load nothing", u)
		}
	}
	for _, p := range problems {
		t.Errorf("browser reported: %s", p)
	}
}

// checkAtWidth loads page in a viewport width px wide and checks it as
// checkInBrowser describes, saving a full-page screenshot to shot.
func checkAtWidth(t *testing.T, bctx context.Context, r *reports.Report, page string, width int64, shot string) {
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(width, 1000)); err != nil {
		t.Fatalf("set the viewport to %d px: %v", width, err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(page)); err != nil {
		t.Fatalf("open %s: %v", page, err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`window.cbloadCharts && window.cbloadCharts.ready`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		raw, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(window.cbloadCharts || null)`))
		t.Fatalf("charts never became ready: %v (window.cbloadCharts = %s)", err, raw)
	}
	raw, err := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(window.cbloadCharts)`))
	if err != nil {
		t.Fatal(err)
	}
	pixels, err := chromedp.Run(bctx, chromedp.Evaluate[[]map[string]any](colourPixels))
	if err != nil {
		t.Fatal(err)
	}
	lay, err := chromedp.Run(bctx, chromedp.Evaluate[layout](pageLayout))
	if err != nil {
		t.Fatal(err)
	}
	if lay.ScrollWidth > lay.Viewport {
		t.Errorf("at %d px the page is %v px wide: it scrolls sideways (too wide: %s)", width, lay.ScrollWidth, strings.Join(lay.Wide, ", "))
	}
	for _, c := range lay.Cut {
		t.Errorf("at %d px a table is cut: %s", width, c)
	}
	for _, c := range lay.Clipped {
		t.Errorf("at %d px a breaker state label is clipped: %s", width, c)
	}
	// Before any hover, every legend shows the values of the focus second,
	// so a screenshot or a printout carries numbers.
	legends, err := chromedp.Run(bctx, chromedp.Evaluate[[]struct {
		Chart  string   `json:"chart"`
		Values []string `json:"values"`
	}](legendValues))
	if err != nil {
		t.Fatal(err)
	}
	if len(legends) == 0 {
		t.Error("the page has no chart legends")
	}
	digit := regexp.MustCompile(`=.*[0-9]`)
	for _, l := range legends {
		for _, v := range l.Values {
			if !digit.MatchString(v) {
				t.Errorf("before any hover, the legend of %s shows %q; want a number", l.Chart, v)
			}
		}
	}
	// "Hover for the values" is said once on the page, not under every chart.
	hovers, err := chromedp.Run(bctx, chromedp.Evaluate[int](`(document.body.innerText.match(/hover/gi) || []).length`))
	if err != nil {
		t.Fatal(err)
	}
	if hovers != 1 {
		t.Errorf("the page text mentions hovering %d times; want once", hovers)
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)

	// Hover the middle of a second near the middle of the collateral chart
	// (the latency chart of a service without a collateral endpoint): the
	// synced cursor moves on every chart, the legend shows that second and
	// the readout names it, its phase and breaker state.
	terms := reports.TermsOf(r.Config)
	hovered, unit := "#chart-local", "%"
	if !terms.HasCollateral {
		hovered, unit = "#chart-latency", "ms"
	}
	hover, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](`(() => {
	  const d = JSON.parse(document.getElementById("cbload-data").textContent), xMax = d.x_max;
	  let k = Math.floor(xMax * 0.45);
	  if (Math.abs(k - d.focus.t) < 2) k = d.focus.t + 2 < xMax ? d.focus.t + 2 : d.focus.t - 2; // not the second shown before hovering
	  const over = document.querySelector("`+hovered+` .u-over");
	  over.scrollIntoView({block: "center"});
	  const o = over.getBoundingClientRect();
	  return [o.left + o.width * (k + 0.5) / xMax, o.top + o.height / 2, k, o.width / xMax, d.focus.t];
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, hover[0], hover[1])); err != nil {
		t.Fatal(err)
	}
	// On a long run a second is under a pixel wide: the cursor may land on
	// a neighbour.
	k, slack := int(hover[2]), 0
	if pxPerSecond := hover[3]; pxPerSecond < 4 {
		slack = 1
	}
	shown := regexp.MustCompile(`second ?(\d+)–(\d+) s`)
	legend, _ := chromedp.Run(bctx, chromedp.Poll[string](fmt.Sprintf(`(() => {
	  const l = document.querySelector("%s .u-legend").textContent;
	  return l.includes("second%d–") ? false : l;
	})()`, hovered, int(hover[4])), chromedp.WithPollingTimeout(5*time.Second)))
	readout, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector("`+hovered+` .readout").textContent`))
	for what, text := range map[string]string{"legend": legend, "readout": readout} {
		m := shown.FindStringSubmatch(text)
		got := -1
		if m != nil {
			got, _ = strconv.Atoi(m[1])
		}
		if got < k-slack || got > k+slack || (what == "legend" && !strings.Contains(text, unit)) {
			t.Errorf("hovering second %d–%d s of the %s chart shows the %s %q; want that second's values", k, k+1, hovered, what, text)
		}
	}

	var st chartStatus
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatalf("window.cbloadCharts = %s: %v", raw, err)
	}
	if len(st.Errors) > 0 {
		t.Errorf("page script errors: %q", st.Errors)
	}
	wantCharts := []string{"load", "latency", "local", "inflight", "upstream", "attempts"}
	if !terms.HasCollateral {
		wantCharts = slices.DeleteFunc(wantCharts, func(c string) bool { return c == "local" })
	}
	if r.Config.Upstream.External { // not counted: said in words, not drawn as zero
		wantCharts = slices.DeleteFunc(wantCharts, func(c string) bool { return c == "upstream" || c == "attempts" })
	}
	if measured, _ := reports.UpstreamQueue(r); measured {
		wantCharts = append(wantCharts, "queue")
	}
	if c := st.Charts["inflight"]; c.Title != terms.Inflight() {
		t.Errorf("the in-flight chart is titled %q; want %q", c.Title, terms.Inflight())
	}
	for _, a := range r.Arms {
		wantCharts = append(wantCharts, "outcomes-"+a.Name)
	}
	for _, id := range wantCharts {
		c, ok := st.Charts[id]
		switch {
		case !ok:
			t.Errorf("chart %q missing from the page", id)
		case !c.Drawn:
			t.Errorf("chart %q (%s) was never drawn", id, c.Title)
		case c.Points == 0:
			t.Errorf("chart %q (%s) has no data points", id, c.Title)
		}
	}
	if len(st.Charts) != len(wantCharts) {
		t.Errorf("page has %d charts; want %d", len(st.Charts), len(wantCharts))
	}
	for _, p := range pixels {
		chart := p["chart"].(string)
		colours := []string{}
		if strings.HasPrefix(chart, "chart-outcomes") {
			colours = append(colours, "ok")
		} else {
			for _, a := range r.Arms {
				colours = append(colours, a.Name)
			}
		}
		for _, k := range colours {
			if n, _ := p[k].(float64); n < 20 {
				t.Errorf("canvas %s has %v pixels in the %s colour; want a drawn series", chart, p[k], k)
			}
		}
	}
	if len(pixels) != len(wantCharts) {
		t.Errorf("page has %d chart canvases; want %d", len(pixels), len(wantCharts))
	}
}

func TestBrowserSample(t *testing.T) {
	checkInBrowser(t, sample(t), "report-sample")
}

// A run whose upstream has finite capacity draws its queue, and one of 3
// tiers lists every tier's transitions.
func TestBrowserQueueAndTiers(t *testing.T) {
	checkInBrowser(t, queueSample(t), "report-queue-tiers")
}

func TestBrowserPartial(t *testing.T) {
	checkInBrowser(t, variants(t)["partial"], "report-partial")
}

// TestBrowserLongRun renders a 10-minute run with a fault every minute and
// a flapping breaker: hundreds of state segments, most too short to name.
func TestBrowserLongRun(t *testing.T) {
	checkInBrowser(t, longRun(t, 600), "report-long-run")
}

// TestBrowserTarget renders reports of a user's service: with a collateral
// endpoint and an inferred breaker, and without one and with an unknown
// breaker (no collateral chart), and with an upstream another process ran
// (no upstream charts).
func TestBrowserTarget(t *testing.T) {
	t.Run("collateral", func(t *testing.T) {
		checkInBrowser(t, targetSample(t, true, reports.BreakerInferred), "report-target")
	})
	t.Run("no-collateral", func(t *testing.T) {
		checkInBrowser(t, targetSample(t, false, reports.BreakerUnknown), "report-target-no-collateral")
	})
	t.Run("external-upstream", func(t *testing.T) {
		r := targetSample(t, true, reports.BreakerInferred)
		r.Config.Upstream.External = true
		checkInBrowser(t, r, "report-target-external")
	})
}

// TestBrowserRealRun renders the report of a real, short run of both arms.
func TestBrowserRealRun(t *testing.T) {
	if testing.Short() {
		t.Skip("a real A/B run takes about 20 s; skipped with -short")
	}
	testenv.Chromium(t, "the browser test of the HTML report") // before the run: skip at once without a browser
	faults, err := faultserver.ParseSpecs([]string{"latency"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := harness.DefaultConfig()
	cfg.Seed = 1
	cfg.Phases = []harness.Phase{
		{Name: "baseline", Duration: 2 * time.Second},
		{Name: "fault", Duration: 5 * time.Second, Faults: faults},
		{Name: "recovery", Duration: 3 * time.Second},
	}
	r, err := harness.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("harness.Run: %v", err)
	}
	checkInBrowser(t, r, "report-real-run")
}
