package harness

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cbload/cbload/faultserver"
)

// decodeResults reads a results file as `vegeta report` does: the encoding
// detected, every result decoded until the end.
func decodeResults(t *testing.T, path string) []vegeta.Result {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := vegeta.DecoderFor(f)
	if dec == nil {
		t.Fatalf("vegeta cannot detect the encoding of %s", path)
	}
	var out []vegeta.Result
	for {
		var r vegeta.Result
		if err := dec.Decode(&r); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("decode result %d: %v", len(out)+1, err)
		}
		out = append(out, r)
	}
}

// TestRunResultsFile runs a real short A/B experiment with a results file:
// vegeta's own decoder reads every line, there is one result per request
// the report counted, by arm and phase, and its timings are the requests'.
// Arms that run at once write it in turns (the race detector watches).
func TestRunResultsFile(t *testing.T) {
	for _, mode := range []string{ArmsSequential, ArmsConcurrent} {
		t.Run(mode, func(t *testing.T) { testRunResultsFile(t, mode) })
	}
}

func testRunResultsFile(t *testing.T, mode string) {
	spec, err := faultserver.ParseSpec("error:503")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Seed, cfg.Rate, cfg.ArmMode = 9, 60, mode
	cfg.Phases = []Phase{{Name: "baseline", Duration: time.Second}, {Name: "fault", Duration: time.Second, Faults: []faultserver.Spec{spec}}}
	path := filepath.Join(t.TempDir(), "results.json")
	if cfg.Results, err = CreateResultsFile(context.Background(), path, MaxResultsFile); err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	sum, err := cfg.Results.Close()
	if err != nil {
		t.Fatal(err)
	}
	got := decodeResults(t, path)
	count := map[string]int64{}
	for _, res := range got {
		if len(res.Body) != 0 || res.Latency <= 0 || res.Timestamp.IsZero() || !strings.HasSuffix(res.URL, "/api") && !strings.HasSuffix(res.URL, "/local") {
			t.Fatalf("result %+v: want a timed request to /api or /local without a body", res)
		}
		count[res.Attack+"/"+res.Headers.Get(phaseHeader)]++
	}
	var total int64
	for _, a := range r.Arms {
		for _, p := range r.Phases {
			s := a.Summary[p.Name]
			n := s.API.Requests + s.Collateral.Requests
			total += n
			if c := count[a.Name+"/"+p.Name]; c != n {
				t.Errorf("results of arm %s, phase %s: %d; the report counts %d requests", a.Name, p.Name, c, n)
			}
		}
	}
	if int64(len(got)) != total || sum.Written != total || sum.Dropped != 0 || total < 150 {
		t.Errorf("%d results decoded, %d written, %d dropped; want the report's %d requests (at least 150), none dropped", len(got), sum.Written, sum.Dropped, total)
	}
	if fi, _ := os.Stat(path); fi.Size() != sum.Bytes {
		t.Errorf("bytes = %d; the file holds %d", sum.Bytes, fi.Size())
	}
}

// TestResultsFileLimit: past its limit the file takes no more results,
// counts them as dropped, and what it holds still decodes whole.
func TestResultsFileLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	rf, err := CreateResultsFile(context.Background(), path, 2000)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1700000000, 0)
	for i := range 100 {
		rf.add(&vegeta.Result{Seq: uint64(i), Code: 200, Timestamp: at.Add(time.Duration(i) * time.Millisecond), Latency: time.Millisecond,
			URL: "http://127.0.0.1:1/api", Method: "GET"}, "breaker", "fault")
	}
	sum, err := rf.Close()
	if err != nil {
		t.Fatal(err)
	}
	got := decodeResults(t, path)
	if sum.Written == 0 || sum.Written+sum.Dropped != 100 || int64(len(got)) != sum.Written || sum.Bytes > 2000 {
		t.Errorf("written %d, dropped %d, decoded %d, %d bytes; want written+dropped = 100, all written decoded, at most 2000 bytes", sum.Written, sum.Dropped, len(got), sum.Bytes)
	}
	if got[0].Attack != "breaker" || got[0].Headers.Get(phaseHeader) != "fault" {
		t.Errorf("first result: attack %q, phase %q; want breaker, fault", got[0].Attack, got[0].Headers.Get(phaseHeader))
	}
}
