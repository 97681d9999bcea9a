package faultserver

import (
	"errors"
	"fmt"
)

// Errors of AddFault and RemoveFault, for errors.Is.
var (
	ErrNameTaken   = errors.New("a fault of that name is already active")
	ErrNoSuchFault = errors.New("no active fault of that name")
)

// NamedFault is one active fault and its name, "" for a fault set by
// SetFaults or Config.Faults.
type NamedFault struct {
	Name string
	Spec Spec
}

// NamedFaults returns the active faults with their names, in the order
// they are rolled.
func (s *Server) NamedFaults() []NamedFault {
	s.mu.Lock()
	defer s.mu.Unlock()
	nf := make([]NamedFault, len(s.active))
	for i, af := range s.active {
		nf[i] = NamedFault{Name: af.name, Spec: af.spec}
	}
	return nf
}

// AddFault adds sp to the end of the active faults under name, leaving the
// others (and the requests they hold) as they are. The name must be new
// (else ErrNameTaken) and valid (see CheckFaultName); the set must stay
// within MaxFaults.
func (s *Server) AddFault(name string, sp Spec) error {
	if err := CheckFaultName(name); err != nil {
		return err
	}
	if sp.f == nil {
		return errors.New("add fault: zero Spec")
	}
	if err := checkFaults([]Spec{sp}, &s.cfg); err != nil {
		return err
	}
	return s.update(func(old []*activeFault) ([]*activeFault, error) {
		for _, o := range old {
			if o.name == name {
				return nil, fmt.Errorf("fault %q: %w", name, ErrNameTaken)
			}
		}
		if len(old)+1 > MaxFaults {
			return nil, fmt.Errorf("%d faults, over the limit of %d", len(old)+1, MaxFaults)
		}
		return append(old[:len(old):len(old)], newActiveFault(name, sp)), nil
	})
}

// RemoveFault removes the fault added under name, releasing the requests
// its hang holds; the others stay as they are. It returns ErrNoSuchFault
// when no active fault has that name.
func (s *Server) RemoveFault(name string) error {
	return s.update(func(old []*activeFault) ([]*activeFault, error) {
		for i, o := range old {
			if o.name == name {
				next := make([]*activeFault, 0, len(old)-1)
				return append(append(next, old[:i]...), old[i+1:]...), nil
			}
		}
		return nil, fmt.Errorf("fault %q: %w", name, ErrNoSuchFault)
	})
}

// CheckFaultName reports whether name can name a fault: 1 to MaxNameLen
// letters, digits, '.', '_' or '-', starting with a letter or digit, so it
// is safe in a URL path and a shell.
func CheckFaultName(name string) error {
	ok := name != "" && len(name) <= MaxNameLen
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		ok = alnum || (i > 0 && (c == '.' || c == '_' || c == '-'))
	}
	if !ok {
		return fmt.Errorf("fault name %q: want 1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit", name, MaxNameLen)
	}
	return nil
}
