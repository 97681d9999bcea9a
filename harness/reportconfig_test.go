package harness

import (
	"reflect"
	"testing"
	"time"
)

// TestReportConfigMirrorsPolicySettings checks that the report carries
// every policy setting under its own name and value. The settings are
// declared once, in package policy (Config.Breaker, RetryBudget, Throttle),
// and defaulted once, in DefaultConfig; the report's Breaker, RetryBudget
// and Throttle are their wire form, filled by reportConfig. A setting added
// to one side only, or not carried, fails here.
func TestReportConfigMirrorsPolicySettings(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Arms = []string{"breaker", "no-breaker", "retry-budget", "throttle"}
	n := 0
	fill := func(v reflect.Value) {
		for i := range v.NumField() {
			n++
			switch f := v.Field(i); f.Kind() {
			case reflect.Int64: // a time.Duration
				f.SetInt(int64(n) * int64(time.Millisecond))
			case reflect.Uint32:
				f.SetUint(uint64(n))
			case reflect.Float64:
				f.SetFloat(float64(n) / 100)
			default:
				t.Fatalf("%s.%s is a %s; teach this test to fill it", v.Type(), v.Type().Field(i).Name, f.Kind())
			}
		}
	}
	fill(reflect.ValueOf(&cfg.Breaker).Elem())
	fill(reflect.ValueOf(&cfg.RetryBudget).Elem())
	fill(reflect.ValueOf(&cfg.Throttle).Elem())
	rc := reportConfig(&cfg)
	if rc.RetryBudget == nil || rc.Throttle == nil {
		t.Fatalf("report config with every arm has retry budget %v, throttle %v; want both", rc.RetryBudget, rc.Throttle)
	}
	for _, p := range []struct{ from, to any }{
		{cfg.Breaker, rc.Breaker}, {cfg.RetryBudget, *rc.RetryBudget}, {cfg.Throttle, *rc.Throttle},
	} {
		from, to := reflect.ValueOf(p.from), reflect.ValueOf(p.to)
		if from.NumField() != to.NumField() {
			t.Errorf("%s has %d fields, the report's %s %d; want the same settings", from.Type(), from.NumField(), to.Type(), to.NumField())
		}
		for i := range from.NumField() {
			name := from.Type().Field(i).Name
			got := to.FieldByName(name)
			switch {
			case !got.IsValid():
				t.Errorf("%s.%s is not in the report's %s", from.Type(), name, to.Type())
			case !from.Field(i).CanConvert(got.Type()):
				t.Errorf("%s.%s is a %s, the report's a %s", from.Type(), name, from.Field(i).Type(), got.Type())
			case from.Field(i).Convert(got.Type()).Interface() != got.Interface():
				t.Errorf("report %s.%s = %v; want %v, the setting", to.Type(), name, got, from.Field(i))
			}
		}
	}
}
