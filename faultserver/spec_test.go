package faultserver

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseSpecNormalises(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"latency:2s,jitter=200ms", "latency:2s,jitter=200ms"},
		{"latency", "latency:1s"},
		{" LATENCY : 1500ms , jitter = 0s , dist=uniform ", "latency:1.5s"},
		{"latency:100ms,dist=exp,jitter=20ms", "latency:100ms,jitter=20ms,dist=exp"},
		{"latency:0s,jitter=5ms", "latency:0s,jitter=5ms"},
		{"error", "error:503"},
		{"error:503,rate=0.5", "error:503,rate=0.5"},
		{"error:429,retry-after=2s,rate=1", "error:429,retry-after=2s"},
		{"error:500,path=/api,rate=.25", "error:500,rate=0.25,path=/api"},
		{"hang", "hang"},
		{"hang:30s", "hang:30s"},
		{"hang:1m30s,rate=0.1", "hang:1m30s,rate=0.1"},
		{"refuse", "refuse"},
		{"reset,rate=0.2", "reset,rate=0.2"},
		{"reset,rate=0", "reset,rate=0"},
		{"slowbody", "slowbody:1KiB/s"},
		{"slowbody:1KiB/s", "slowbody:1KiB/s"},
		{"slowbody:10KB/s", "slowbody:10KB/s"},
		{"slowbody:512B/s", "slowbody:512B/s"},
		{"slowbody:1024b/s", "slowbody:1KiB/s"},
		{"slowbody:1.5kib/s,size=1MiB", "slowbody:1536B/s,size=1MiB"},
		{"slowbody:2MB/s,size=4KiB", "slowbody:2MB/s"},
		{"latency:10ms,path=/api/v1=x", "latency:10ms,path=/api/v1=x"},
		{"slowdown", "slowdown:2x"},
		{"slowdown:3x", "slowdown:3x"},
		{"slowdown:3", "slowdown:3x"},
		{"slowdown:1.5X,rate=0.5,path=/api", "slowdown:1.5x,rate=0.5,path=/api"},
		{"slowdown:1000x", "slowdown:1000x"},
		{"truncate", "truncate:1KiB"},
		{"truncate:0", "truncate:0B"},
		{"truncate:100B,size=4KiB,framing=length", "truncate:100B"},
		{"truncate:1KiB,size=1MiB,framing=chunked,rate=0.5", "truncate:1KiB,size=1MiB,framing=chunked,rate=0.5"},
		{"empty", "empty"},
		{"empty,rate=0.2,path=/api", "empty,rate=0.2,path=/api"},
		{"garbage", "garbage:64B"},
		{"garbage:1KiB", "garbage:1KiB"},
		{"slowclose", "slowclose:1s"},
		{"slowclose:2500ms", "slowclose:2.5s"},
		{"slowupload", "slowupload:1KiB/s"},
		{"slowupload:10KB/s,path=/upload", "slowupload:10KB/s,path=/upload"},
		{"tls", "tls:handshake"},
		{"tls:expired,rate=0.5", "tls:expired,rate=0.5"},
		{"tls:wrongname", "tls:wrongname"},
	}
	for _, tt := range tests {
		got, err := ParseSpec(tt.in)
		if err != nil {
			t.Errorf("ParseSpec(%q) error: %v", tt.in, err)
			continue
		}
		if got.String() != tt.want {
			t.Errorf("ParseSpec(%q).String() = %q; want %q", tt.in, got.String(), tt.want)
		}
		again, err := ParseSpec(got.String())
		if err != nil || again.String() != got.String() {
			t.Errorf("ParseSpec(%q) = %q, %v; want it to round-trip", got.String(), again.String(), err)
		}
	}
}

func TestParseSpecFields(t *testing.T) {
	got, err := ParseSpec("latency:250ms,jitter=50ms,rate=0.3,path=/api")
	if err != nil {
		t.Fatal(err)
	}
	want := Spec{Kind: "latency", Rate: 0.3, Path: "/api", f: latency{delay: 250 * time.Millisecond, jitter: 50 * time.Millisecond}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(Spec{}, latency{})); diff != "" {
		t.Errorf("ParseSpec mismatch (-want +got):\n%s", diff)
	}
}

func TestParseSpecErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string // a substring naming the bad part
	}{
		{"", "empty fault spec"},
		{"   ", "empty fault spec"},
		{"bogus", `unknown kind "bogus"`},
		{"latency:", "empty argument"},
		{"latency:abc", `delay "abc"`},
		{"latency:-1s", `delay "-1s"`},
		{"latency:1s,jitter=x", `jitter "x"`},
		{"latency:1s,dist=pareto", `dist "pareto"`},
		{"latency:1s,foo=1", `unknown key "foo"`},
		{"latency:1s,rate", `"rate" is not key=value`},
		{"latency:1s,=3", `"=3" is not key=value`},
		{"latency:1s,rate=0.1,rate=0.2", `key "rate" given twice`},
		{"error:200", `status "200"`},
		{"error:abc", `status "abc"`},
		{"error:503,retry-after=1500ms", "whole seconds"},
		{"error:503,rate=1.5", `rate "1.5"`},
		{"error:503,rate=-0.1", `rate "-0.1"`},
		{"error:503,rate=NaN", `rate "NaN"`},
		{"error:503,path=api", `path "api" must start with /`},
		{"error:503,path=/a b", "must not contain spaces"},
		{"hang:0s", `hold "0s"`},
		{"hang:forever", `hold "forever"`},
		{"refuse:1s", "refuse takes no argument"},
		{"refuse,rate=0.5", "rate= does not apply to refuse"},
		{"refuse,path=/api", "path= does not apply to refuse"},
		{"reset:1", "reset takes no argument"},
		{"slowbody:1KB", `bandwidth "1KB"`},
		{"slowbody:fastB/s", `bandwidth "fastB/s"`},
		{"slowbody:10XB/s", `unknown unit "XB"`},
		{"slowbody:0B/s", "between 1B and the limit of 1GiB"},
		{"slowbody:2GiB/s", "between 1B and the limit of 1GiB"},
		{"slowbody:1KiB/s,size=0B", `size "0B"`},
		{"slowbody:1KiB/s,size=1.5GiB", `size "1.5GiB": must be between 1B and the limit of 1GiB`},
		{"latency:61m", `delay "61m" is over the limit of 1h`},
		{"slowdown:0.5x", `factor "0.5x" is not a number from 1x to the limit of 1000x`},
		{"slowdown:1001x", `factor "1001x"`},
		{"slowdown:x", `factor "x"`},
		{"slowdown:NaNx", `factor "NaNx"`},
		{"slowdown:3x,size=1", `unknown key "size" for slowdown`},
		{"latency:1s,jitter=2h", `jitter "2h" is over the limit of 1h`},
		{"hang:1000h", `hold "1000h" is over the limit of 1h`},
		{"error:503,retry-after=3601s", `retry-after "3601s" is over the limit of 1h`},
		{"latency:1s\nerror", `"latency:1s\nerror"`},
		{"truncate:4KiB", "must be below the body size 4KiB"},
		{"truncate:1KiB,framing=gzip", `framing "gzip"`},
		{"truncate:-1B", `bytes to send "-1B"`},
		{"empty:1", "empty takes no argument"},
		{"garbage:2MiB", "over the limit of 1MiB"},
		{"slowclose:soon", `delay "soon"`},
		{"slowupload:1KB", `bandwidth "1KB"`},
		{"tls:selfsigned", `"selfsigned" is not handshake, expired or wrongname`},
		{"tls:expired,path=/api", "path= does not apply to tls"},
		{"latency:1s,path=/" + strings.Repeat("a", MaxSpecLen), "1041 bytes, over the limit of 1024"},
	}
	for _, tt := range tests {
		_, err := ParseSpec(tt.in)
		if err == nil {
			t.Errorf("ParseSpec(%q) error = nil; want one containing %q", tt.in, tt.want)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tt.want) {
			t.Errorf("ParseSpec(%q) error = %q; want it to contain %q", tt.in, msg, tt.want)
		}
		if strings.ContainsAny(msg, "\n\r") {
			t.Errorf("ParseSpec(%q) error = %q; want one line", tt.in, msg)
		}
		if tt.in != "" && strings.TrimSpace(tt.in) != "" && len(tt.in) <= MaxSpecLen && !strings.Contains(msg, "form: ") {
			t.Errorf("ParseSpec(%q) error = %q; want it to show the accepted form", tt.in, msg)
		}
	}
}

func TestParseSpecs(t *testing.T) {
	got, err := ParseSpecs([]string{"latency:200ms", "error:503,rate=0.5"})
	if err != nil {
		t.Fatal(err)
	}
	var strs []string
	for _, s := range got {
		strs = append(strs, s.String())
	}
	if want := []string{"latency:200ms", "error:503,rate=0.5"}; !cmp.Equal(strs, want) {
		t.Errorf("ParseSpecs = %q; want %q", strs, want)
	}
	if _, err := ParseSpecs([]string{"latency:200ms", "nope"}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("ParseSpecs with a bad spec: error = %v; want one naming \"nope\"", err)
	}
	if _, err := ParseSpecs(slices.Repeat([]string{"latency:1ms"}, MaxFaults+1)); err == nil || err.Error() != "65 fault specs, over the limit of 64" {
		t.Errorf("ParseSpecs of %d specs: error = %v; want the limit of %d named", MaxFaults+1, err, MaxFaults)
	}
	if _, err := ParseSpecs(slices.Repeat([]string{"latency:1ms"}, MaxFaults)); err != nil {
		t.Errorf("ParseSpecs of %d specs: error = %v; want none at the limit", MaxFaults, err)
	}
}

func TestSpecJSON(t *testing.T) {
	var v struct{ Faults []Spec }
	if err := json.Unmarshal([]byte(`{"Faults":["latency:1000ms","reset,rate=0.2"]}`), &v); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), `{"Faults":["latency:1s","reset,rate=0.2"]}`; got != want {
		t.Errorf("json round trip = %s; want %s", got, want)
	}
	if err := json.Unmarshal([]byte(`{"Faults":["latency:x"]}`), &v); err == nil {
		t.Error("json.Unmarshal of a bad spec: error = nil; want one")
	}
	if _, err := json.Marshal(Spec{}); err == nil {
		t.Error("json.Marshal(Spec{}): error = nil; want one")
	}
}

func TestKindsTable(t *testing.T) {
	want := []string{"latency", "error", "hang", "refuse", "reset", "slowbody", "slowdown", "truncate", "empty", "garbage", "slowclose", "slowupload", "tls", "grpc-error"}
	var got []string
	for _, k := range Kinds() {
		got = append(got, k.Name)
		if k.Description == "" {
			t.Errorf("Kinds(): %s has no description", k.Name)
		}
		if _, err := ParseSpec(k.Example); err != nil {
			t.Errorf("Kinds(): %s example %q does not parse: %v", k.Name, k.Example, err)
		}
		if _, err := ParseSpec(k.Name); err != nil {
			t.Errorf("ParseSpec(%q) (bare kind) error: %v", k.Name, err)
		}
	}
	if !cmp.Equal(got, want) {
		t.Errorf("Kinds() names = %q; want %q", got, want)
	}
}

// FuzzParseSpec checks that the parser never panics, that errors are one
// line, and that every accepted spec round-trips through String.
func FuzzParseSpec(f *testing.F) {
	for _, k := range Kinds() {
		f.Add(k.Example)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSpec(in)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("ParseSpec(%q) error %q is not one line", in, err)
			}
			return
		}
		norm := s.String()
		again, err := ParseSpec(norm)
		if err != nil {
			t.Fatalf("ParseSpec(%q) = %q, which does not parse: %v", in, norm, err)
		}
		if again.String() != norm {
			t.Errorf("ParseSpec(%q) = %q; reparsed %q", in, norm, again.String())
		}
		if again.Rate != s.Rate || again.Path != s.Path || again.Kind != s.Kind {
			t.Errorf("ParseSpec(%q) = %+v; reparsed %+v", in, s, again)
		}
	})
}
