package faultserver

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAddRemoveFault(t *testing.T) {
	s := start(t, Config{Faults: mustSpecs(t, "error:503,path=/a")})
	if err := s.AddFault("b", mustSpecs(t, "error:502,path=/b")[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.AddFault("b", mustSpecs(t, "latency")[0]); !errors.Is(err, ErrNameTaken) {
		t.Errorf("AddFault of a taken name = %v; want ErrNameTaken", err)
	}
	if err := s.RemoveFault("nope"); !errors.Is(err, ErrNoSuchFault) {
		t.Errorf("RemoveFault(nope) = %v; want ErrNoSuchFault", err)
	}
	if err := s.AddFault("bad name", mustSpecs(t, "latency")[0]); err == nil {
		t.Error("AddFault with a space in the name = nil; want an error")
	}
	if err := s.AddFault("z", Spec{}); err == nil {
		t.Error("AddFault of a zero Spec = nil; want an error")
	}
	c := newClient(t, 5*time.Second)
	if r := get(c, s.URL()+"/b"); r.status != 502 {
		t.Errorf("GET /b with fault b = %d; want 502", r.status)
	}
	if err := s.RemoveFault("b"); err != nil {
		t.Fatal(err)
	}
	if r := get(c, s.URL()+"/b"); r.status != 200 {
		t.Errorf("GET /b after removing b = %d; want 200", r.status)
	}
	if got := s.NamedFaults(); len(got) != 1 || got[0].Name != "" || got[0].Spec.String() != "error:503,path=/a" {
		t.Errorf("NamedFaults() = %v; want the unnamed fault only", got)
	}
}

func TestCheckFaultName(t *testing.T) {
	for _, ok := range []string{"a", "slow-api", "db.primary", "x_1", "A9", strings.Repeat("n", MaxNameLen)} {
		if err := CheckFaultName(ok); err != nil {
			t.Errorf("CheckFaultName(%q) = %v; want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "-a", ".a", "a b", "a/b", "é", "a%20", strings.Repeat("n", MaxNameLen+1)} {
		if err := CheckFaultName(bad); err == nil {
			t.Errorf("CheckFaultName(%q) = nil; want an error", bad)
		}
	}
}
