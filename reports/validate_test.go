package reports_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

// mutate decodes the JSON report doc, lets edit change it as generic JSON
// (numbers as json.Number) and encodes it again.
func mutate(t testing.TB, doc []byte, edit func(r map[string]any)) []byte {
	t.Helper()
	var r map[string]any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		t.Fatal(err)
	}
	edit(r)
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// obj and arr walk generic JSON.
func obj(v any, keys ...any) map[string]any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v.(map[string]any)
}

func arr(v any, keys ...any) []any {
	m := obj(v, keys[:len(keys)-1]...)
	return m[keys[len(keys)-1].(string)].([]any)
}

// TestReadJSONRefusesBrokenInvariants feeds ReadJSON reports that break
// the schema's rules or the run's invariants in the ways a merge would
// lose data, crash or spin on: each is refused with ErrMalformed, one line
// naming the field.
func TestReadJSONRefusesBrokenInvariants(t *testing.T) {
	good, err := os.ReadFile("testdata/report.json")
	if err != nil {
		t.Fatal(err)
	}
	shard := func(index, count any) func(r map[string]any) {
		return func(r map[string]any) {
			r["shard"] = map[string]any{"index": index, "count": count, "rate": 10, "seed": 1, "clock_offset": "unknown"}
		}
	}
	tests := []struct {
		name string
		edit func(r map[string]any)
		want string
	}{
		{"shard count 0", shard(0, 0), "shard.count: 0: want 1..1000"},
		{"shard count 1001", shard(0, 1001), "shard.count: 1001: want 1..1000"},
		{"shard count 2e9", shard(0, 2000000000), "shard.count: 2000000000: want 1..1000"},
		{"shard count negative", shard(0, -3), "shard.count: -3: want 1..1000"},
		{"shard index past the count", shard(5, 2), "shard.index: 5: want 0..1"},
		{"series null", func(r map[string]any) { obj(r, "arms", 1)["series"] = nil }, "arms[1].series: missing or null; want an array"},
		{"load generator null", func(r map[string]any) { obj(r, "arms", 0)["load_generator"] = nil }, "arms[0].load_generator: missing or null; want an object"},
		{"phases null", func(r map[string]any) { r["phases"] = nil }, "phases: missing or null; want an array"},
		{"no phases", func(r map[string]any) { r["phases"] = []any{} }, "phases: 0 phases: want 1..200"},
		{"duplicate arm", func(r map[string]any) { obj(r, "arms", 1)["name"] = obj(r, "arms", 0)["name"] }, `arms[1].name: "breaker": a second arm of that name`},
		{"arm not configured", func(r map[string]any) { r["config"].(map[string]any)["arms"] = []any{"breaker"} }, `arms[1].name: "no-breaker": not in config.arms`},
		{"duplicate configured arm", func(r map[string]any) { r["config"].(map[string]any)["arms"] = []any{"breaker", "breaker"} }, `config.arms[1]: "breaker": named twice`},
		{"negative count", func(r map[string]any) { obj(r, "arms", 0, "series", 2, "api", "outcomes")["ok"] = -5 }, "arms[0].series[2].api.outcomes.ok: -5: want at least 0"},
		{"count past 2^53", func(r map[string]any) { obj(r, "arms", 0, "series", 2)["sent"] = json.Number("9223372036854775807") }, "arms[0].series[2].sent: 9223372036854775807: want at most 9007199254740992"},
		{"sums past 2^53", func(r map[string]any) {
			for i := range 3 {
				obj(r, "arms", 0, "series", i)["sent"] = json.Number("4000000000000000")
			}
		}, "arms[0].series[2].sent: 4000000000000000: the arm's seconds add up to more than 9007199254740992"},
		{"t_s 9e18", func(r map[string]any) { obj(r, "arms", 0, "series", 3)["t_s"] = json.Number("9000000000000000000") }, "arms[0].series[3].t_s: 9000000000000000000: want at most 9007199254740992"},
		{"t_s past the schedule", func(r map[string]any) { obj(r, "arms", 0, "series", 15)["t_s"] = 17 }, "arms[0].series[15].t_s: 17: after the schedule's end at 16 s"},
		{"seconds out of order", func(r map[string]any) { obj(r, "arms", 0, "series", 3)["t_s"] = 1 }, "arms[0].series[3].t_s: 1: not after the second before it (2)"},
		{"end_s 1e12", func(r map[string]any) { obj(r, "phases", 2)["end_s"] = json.Number("1e12") }, "phases[2].end_s: 1e+12: want 11..3600"},
		{"phases out of order", func(r map[string]any) { obj(r, "phases", 2)["start_s"] = 1 }, "phases[2].start_s: 1: before the end of the phase before it (11)"},
		{"duplicate phase", func(r map[string]any) { obj(r, "phases", 2)["name"] = "fault" }, `phases[2].name: "fault": a second phase of that name`},
		{"width_ms 0", func(r map[string]any) {
			obj(r, "arms", 0)["api_slots"] = map[string]any{"width_ms": 0, "ok": []any{}, "n": []any{}}
		}, "arms[0].api_slots.width_ms: 0: want at least 1"},
		{"width_ms 7", func(r map[string]any) {
			obj(r, "arms", 0)["api_slots"] = map[string]any{"width_ms": 7, "ok": []any{}, "n": []any{}}
		}, "arms[0].api_slots.width_ms: 7: want 10..1000 ms, dividing a second"},
		{"more ok than completions", func(r map[string]any) {
			obj(r, "arms", 0)["api_slots"] = map[string]any{"width_ms": 100, "ok": []any{3}, "n": []any{2}}
		}, "arms[0].api_slots.ok[0]: 3: more than the 2 completions of its slot"},
		{"too many slots", func(r map[string]any) {
			n := make([]any, 5000)
			for i := range n {
				n[i] = 0
			}
			obj(r, "arms", 0)["api_slots"] = map[string]any{"width_ms": 10, "ok": n, "n": n}
		}, "arms[0].api_slots.n: 5000 slots of 10 ms: more than the schedule of 16 s holds"},
		{"outcomes do not add up", func(r map[string]any) { obj(r, "arms", 0, "series", 2, "api")["requests"] = 123456 }, "arms[0].series[2].api.requests: 123456, but its outcomes add up to"},
		{"merge count 0", func(r map[string]any) {
			r["merge"] = map[string]any{"count": 0, "shards": []any{}, "missing": []any{}}
		}, "merge.count: 0: want 1..1000"},
		{"merge lists too few", func(r map[string]any) {
			r["merge"] = map[string]any{"count": 3, "shards": []any{}, "missing": []any{0, 1}}
		}, "merge: 0 shards merged and 2 missing: want the 3 of the count"},
		{"merge lists one twice", func(r map[string]any) {
			r["merge"] = map[string]any{"count": 2, "shards": []any{}, "missing": []any{1, 1}}
		}, "merge.missing[1]: index 1: listed twice"},
		{"series emptied", func(r map[string]any) { obj(r, "arms", 1)["series"] = []any{} }, "arms[1].series: its seconds hold 0 /api and 0 collateral requests, its summary"},
		{"grpc methods past the cap", grpcCalls(func(calls map[string]any) {
			for i := range 258 {
				calls[fmt.Sprintf("/shop.S/M%d", i)] = map[string]any{"OK": 1}
			}
		}), `arms[0].summary.fault.upstreams.payments.grpc: 258 methods: want at most 257`},
		{"grpc method not a method", grpcCalls(func(calls map[string]any) { calls["<b>hi</b>"] = map[string]any{"OK": 1} }),
			`arms[0].summary.fault.upstreams.payments.grpc: method "<b>hi</b>": want a full method name like /package.Service/Method`},
		{"grpc method too long", grpcCalls(func(calls map[string]any) { calls["/s.S/"+strings.Repeat("m", 300)] = map[string]any{"OK": 1} }),
			`arms[0].summary.fault.upstreams.payments.grpc: method "/s.S/mmm`},
		{"grpc code not a code", grpcCalls(func(calls map[string]any) { calls["/shop.S/M"] = map[string]any{"OK": 1, "BROKEN": 2} }),
			`arms[0].summary.fault.upstreams.payments.grpc["/shop.S/M"]: status code "BROKEN": want a gRPC code name like OK or UNAVAILABLE, or a number`},
		{"grpc count negative", grpcCalls(func(calls map[string]any) { calls["/shop.S/M"] = map[string]any{"OK": -1} }),
			`arms[0].summary.fault.upstreams.payments.grpc["/shop.S/M"].OK: -1: want at least 0`},
		{"summary of no phase", func(r map[string]any) {
			s := obj(r, "arms", 0, "summary")
			s["later"] = s["fault"]
		}, `arms[0].summary["later"]: no phase of that name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := mutate(t, good, tt.edit)
			r, err := reports.ReadJSON(bytes.NewReader(doc))
			if err == nil || !errors.Is(err, reports.ErrMalformed) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("ReadJSON = %v, %v; want one line wrapping ErrMalformed containing %q", r != nil, err, tt.want)
			}
			var fe *reports.FieldError
			if !errors.As(err, &fe) {
				t.Errorf("ReadJSON error %v is not a *FieldError", err)
			}
		})
	}
	// The same file unchanged reads, and so does it with a shard of a
	// valid count and index, and with gRPC calls counted as cbload's
	// upstream counts them.
	if _, err := reports.ReadJSON(bytes.NewReader(mutate(t, good, shard(2, 3)))); err != nil {
		t.Errorf("ReadJSON(shard 2/3) = %v; want it read", err)
	}
	calls := grpcCalls(func(calls map[string]any) {
		for i := range 256 {
			calls[fmt.Sprintf("/shop.v1.S/M_%d", i)] = map[string]any{"OK": 3, "UNAVAILABLE": 1, "17": 1}
		}
		calls[reports.GRPCOtherMethod] = map[string]any{"DEADLINE_EXCEEDED": 2}
	})
	if _, err := reports.ReadJSON(bytes.NewReader(mutate(t, good, calls))); err != nil {
		t.Errorf("ReadJSON(257 methods counted by code) = %v; want it read", err)
	}
}

// grpcCalls returns an edit giving the first arm's fault phase a gRPC
// upstream, payments, whose calls by method and status code fill sets.
func grpcCalls(fill func(calls map[string]any)) func(r map[string]any) {
	return func(r map[string]any) {
		calls := map[string]any{}
		fill(calls)
		obj(r, "arms", 0, "summary", "fault")["upstreams"] = map[string]any{
			"payments": map[string]any{"requests": 10, "injected": map[string]any{}, "grpc": calls},
		}
	}
}

// TestValidateAcceptsWhatCbloadWrites: every sample report cbload wrote
// passes the validation ReadJSON does, also when written again.
func TestValidateAcceptsWhatCbloadWrites(t *testing.T) {
	for _, f := range []string{"testdata/report.json", "testdata/report.invalid.json", "testdata/report.v1.json", "../analysis/testdata/run.json"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := reports.ReadJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("ReadJSON(%s) = %v", f, err)
		}
		var b bytes.Buffer
		if err := reports.WriteJSON(&b, r); err != nil {
			t.Fatal(err)
		}
		if _, err := reports.ReadJSON(&b); err != nil {
			t.Errorf("ReadJSON(%s written again) = %v", f, err)
		}
	}
}

// A sum of latencies is no count: a long run's may pass 2^53 ns (104
// days) over an arm's seconds, and reads; one larger than its n values of
// at most max_us can add up to is refused.
func TestValidateLatencySums(t *testing.T) {
	good, err := os.ReadFile("../analysis/testdata/run.json")
	if err != nil {
		t.Fatal(err)
	}
	long := mutate(t, good, func(r map[string]any) {
		for i := range 8 {
			h := obj(r, "arms", 0, "series", i, "api", "latency_hist")
			h["max_us"], h["sum_ns"] = json.Number("100000000000"), json.Number("4000000000000000")
		}
	})
	if _, err := reports.ReadJSON(bytes.NewReader(long)); err != nil {
		t.Errorf("ReadJSON of seconds whose latencies add up past 2^53 ns = %v; want it read", err)
	}
	bad := mutate(t, good, func(r map[string]any) {
		obj(r, "arms", 0, "series", 2, "api", "latency_hist")["sum_ns"] = json.Number("9000000000000000000")
	})
	if _, err := reports.ReadJSON(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "sum_ns 9000000000000000000 is more than 64 values of at most 501525 µs add up to") {
		t.Errorf("ReadJSON of a latency sum past its values = %v; want it refused", err)
	}
}
