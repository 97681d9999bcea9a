package scenario

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testFields are settings of each type Value reads, laid out like cbload
// run's.
var testFields = []Field{
	{"seed", reflect.TypeFor[int64]()},
	{"trials", reflect.TypeFor[int]()},
	{"load.rate", reflect.TypeFor[float64]()},
	{"load.collateral_share", reflect.TypeFor[float64]()},
	{"load.client_timeout", reflect.TypeFor[time.Duration]()},
	{"gateway.workers", reflect.TypeFor[int]()},
	{"gateway.call_timeout", reflect.TypeFor[time.Duration]()},
	{"breaker.max_requests", reflect.TypeFor[uint32]()},
	{"retry_budget.ratio", reflect.TypeFor[Share]()},
	{"retry_budget.window", reflect.TypeFor[time.Duration]()},
	{"throttle.k", reflect.TypeFor[float64]()},
	{"throttle.window", reflect.TypeFor[time.Duration]()},
	{"upstream.addr", reflect.TypeFor[string]()},
	{"upstreams", reflect.TypeFor[map[string]string]()},
	{"arms", reflect.TypeFor[[]string]()},
	{"request.headers", reflect.TypeFor[map[string]string]()},
	{"request.header_env", reflect.TypeFor[map[string]string]()},
	{"expect", reflect.TypeFor[[]string]()},
	{"output.dir", reflect.TypeFor[string]()},
	{"output.force", reflect.TypeFor[bool]()},
}

// TestValue reads a value of each type back from a file, and checks that
// a field the file does not have, or has as null, is not found.
func TestValue(t *testing.T) {
	s, err := Decode("f.yaml", strings.NewReader(`
seed: 7
trials: 3
load: {rate: 2.5, client_timeout: 3s, collateral_share: ~}
breaker: {max_requests: 4294967295}
retry_budget: {ratio: 10%}
upstreams: {a: 127.0.0.1:1}
arms: [breaker]
output: {dir: out, force: true}
`), testFields)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		seed    int64
		trials  int
		rate    float64
		timeout time.Duration
		max     uint32
		ratio   Share
		ups     map[string]string
		arms    []string
		dir     string
		force   bool
	}
	want := got
	want.seed, want.trials, want.rate, want.timeout, want.max, want.ratio = 7, 3, 2.5, 3*time.Second, 4294967295, 0.1
	want.ups, want.arms, want.dir, want.force = map[string]string{"a": "127.0.0.1:1"}, []string{"breaker"}, "out", true
	for path, dst := range map[string]any{"seed": &got.seed, "trials": &got.trials, "load.rate": &got.rate,
		"load.client_timeout": &got.timeout, "breaker.max_requests": &got.max, "retry_budget.ratio": &got.ratio,
		"upstreams": &got.ups, "arms": &got.arms, "output.dir": &got.dir, "output.force": &got.force} {
		if found, err := s.Value(path, dst); !found || err != nil {
			t.Errorf("Value(%q) = %v, %v; want found", path, found, err)
		}
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(got)); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	var f float64
	for _, path := range []string{"load.collateral_share", "gateway.workers", "throttle.k"} {
		if found, err := s.Value(path, &f); found {
			t.Errorf("Value(%q) = found, %v; want not found (null or absent)", path, err)
		}
	}
	if _, err := s.Value("load.rate", new(int)); err == nil {
		t.Error("Value(load.rate) into an *int: no error; want one (it was declared a float64)")
	}
	if _, err := s.Value("load.rps", &f); err == nil {
		t.Error("Value(load.rps), a path not declared: no error")
	}
}

// TestFieldErrors checks that the caller's fields are held to the same
// rules and messages as the package's own: an unknown key beside known
// ones, a mistyped value of each type, and the first problem of several.
func TestFieldErrors(t *testing.T) {
	tests := []struct{ body, want string }{
		{"load:\n  rate: 10\n  rps: 5\n", `line 3: unknown field "rps" in load; want one of: rate, collateral_share, client_timeout`},
		{"seed: 1\nrate: 5\n", `line 2: unknown field "rate" in the top level; want one of: description, seed, trials, load, gateway`},
		{"retry_budget:\n  share: 1\n", `line 2: unknown field "share" in retry_budget; want one of: ratio, window`},
		{"throttle:\n  ratio: 1\n", `line 2: unknown field "ratio" in throttle; want one of: k, window`},
		{"load: 5\n", `line 1: load: "5" is a number; want a mapping`},
		{"seed: 1.5\n", `line 1: seed: "1.5" is not a whole number`},
		{"trials: 99999999999999999999\n", `line 1: trials: "99999999999999999999" is too large`},
		{"breaker:\n  max_requests: -1\n", `line 2: breaker.max_requests: "-1" is not a whole number from 0 to 4294967295`},
		{"load:\n  rate: fast\n", `line 2: load.rate: "fast" is a string; want a number`},
		{"load:\n  client_timeout: 3\n", `line 2: load.client_timeout: "3" is not a duration`},
		{"retry_budget: {ratio: ten}\n", `line 1: retry_budget.ratio: "ten" is not a share`},
		{"output: {dir: [a]}\n", `line 1: output.dir: got a list; want a string`},
		{"output: {force: maybe}\n", `line 1: output.force: "maybe" is a string; want true or false`},
		{"arms: breaker\n", `line 1: arms: "breaker" is a string; want a list`},
		{"upstreams: [a]\n", `line 1: upstreams: got a list; want a mapping`},
		{"load:\n  rate: x\n  share: 1\n", `line 2: load.rate: "x" is a string; want a number (and 1 more)`},
		{"load:\n  rate: 1\n  rate: 2\n", `line 3: mapping key "rate" already defined at line 2`},
	}
	for _, tt := range tests {
		_, err := Decode("f.yaml", strings.NewReader(tt.body), testFields)
		var e *Error
		if !errors.As(err, &e) || !strings.HasPrefix(e.Msg, tt.want) {
			t.Errorf("Decode(%q) = %v; want an *Error starting %q", tt.body, err, tt.want)
		}
	}
}

// TestSchemaMistakes checks that fields that cannot describe a file are
// refused at once, as the caller's mistake.
func TestSchemaMistakes(t *testing.T) {
	str := reflect.TypeFor[string]()
	for _, fields := range [][]Field{
		{{"a", str}, {"a", str}},
		{{"a", str}, {"a.b", str}},
		{{"a.b", str}, {"a", str}},
		{{"phases", str}},
		{{"a", reflect.TypeFor[int32]()}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Decode with fields %v: no panic", fields)
				}
			}()
			Decode("f.yaml", strings.NewReader("a: x\n"), fields)
		}()
	}
}

// ExampleDecode reads a file holding the package's own sections and two
// settings the caller declares.
func ExampleDecode() {
	fields := []Field{
		{Path: "load.rate", Type: reflect.TypeFor[float64]()},
		{Path: "load.client_timeout", Type: reflect.TypeFor[time.Duration]()},
	}
	s, err := Decode("example.yaml", strings.NewReader(`
description: a short fault
load: {rate: 50}
phases:
  - {name: fault, duration: 5s, faults: [refuse]}
`), fields)
	if err != nil {
		fmt.Println(err)
		return
	}
	rate, timeout := 200.0, 3*time.Second
	s.Value("load.rate", &rate)
	found, _ := s.Value("load.client_timeout", &timeout)
	fmt.Println(s.Description, rate, timeout, found, s.Line("load.rate"))

	_, err = Decode("example.yaml", strings.NewReader("load: {rate: 50, rps: 10}\n"), fields)
	fmt.Println(err)
	// Output:
	// a short fault 50 3s false 3
	// scenario example.yaml: line 1: unknown field "rps" in load; want one of: rate, client_timeout
}
