package harness

import (
	"strings"
	"testing"

	"github.com/cbload/cbload/internal/field"
)

// TestTargetSettingsResolve checks that a /path resolves against each
// target's origin, and that a target that cannot be used is a field error
// at its path: targets for the flags, targets[i].url and the like for a
// file's entries.
func TestTargetSettingsResolve(t *testing.T) {
	s := TargetSettings{Flags: []string{"svc=http://127.0.0.1:8080/api"}, Collateral: "/local", BreakerStateURL: "/breaker"}
	got, err := s.Resolve(nil)
	if err != nil || len(got) != 1 || got[0].Collateral != "http://127.0.0.1:8080/local" || got[0].BreakerStateURL != "http://127.0.0.1:8080/breaker" {
		t.Fatalf("Resolve(%+v) = %+v, %v; want the /paths on the target's origin", s, got, err)
	}
	for _, tt := range []struct {
		s         TargetSettings
		path, msg string
	}{
		{TargetSettings{Flags: []string{"svc"}}, "targets", `--target "svc": want NAME=URL`},
		{TargetSettings{Flags: []string{"svc=http://10.0.0.1/api"}}, "targets", "--target svc: "},
		{TargetSettings{File: []Target{{Name: "a"}}}, "targets[0]", "targets[0]: name and url are required"},
		{TargetSettings{File: []Target{{Name: "a", URL: "http://127.0.0.1:1/api"}, {Name: "b", URL: "http://10.0.0.1/api"}}}, "targets[1].url", "targets[1].url: "},
		{TargetSettings{File: []Target{{Name: "a", URL: "http://127.0.0.1:1/api", Collateral: "local"}}}, "targets[0].collateral", "targets[0].collateral: "},
		{TargetSettings{Flags: []string{"svc=http://127.0.0.1:1/api"}, StateMap: "label:state"}, "breaker_state_map", "--breaker-state-map: only used with --breaker-state-metric"},
	} {
		_, err := tt.s.Resolve(nil)
		if fe := field.As(err); fe.Path() != tt.path || err == nil || !strings.HasPrefix(err.Error(), tt.msg) {
			t.Errorf("Resolve(%+v) = %v (path %q); want %q… at %s", tt.s, err, fe.Path(), tt.msg, tt.path)
		}
	}
}
