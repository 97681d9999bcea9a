package field

import (
	"errors"
	"io"
	"testing"
)

func TestError(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{Invalid("load.rate", "rate", "%v must be positive", -5), "rate: -5 must be positive"},
		{All([]string{"breaker.interval", "breaker.bucket_period"}, []string{"breaker-interval", "breaker-bucket-period"}, "too many buckets"),
			"breaker-interval, breaker-bucket-period: too many buckets"},
		{&Error{Paths: []string{"control.token"}, Detail: "control token is blank"}, "control token is blank"},
		{InvalidValue("request.method", "--method", "%q: want GET", "post"), `--method "post": want GET`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q; want %q", got, tt.want)
		}
	}
}

// TestNamed checks the message with the names of where the values came
// from in place of the error's own.
func TestNamed(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{Invalid("request.body_file", "--body-file", "too large"), "request.body_file: too large"},
		{InvalidValue("request.method", "--method", "%q: want GET", "post"), `request.method "post": want GET`},
	}
	for _, tt := range tests {
		if got := tt.err.Named([]string{tt.err.Path()}); got != tt.want {
			t.Errorf("Named(%q) = %q; want %q", tt.err.Path(), got, tt.want)
		}
	}
}

func TestWrapAndFind(t *testing.T) {
	e := Invalid("targets[2]", "targets[2] (a).url", "%w", io.EOF)
	if !errors.Is(e, io.EOF) {
		t.Errorf("errors.Is(%v, io.EOF) = false; want the %%w error wrapped", e)
	}
	wrapped := errors.Join(errors.New("other"), e)
	if got := As(wrapped); got != e {
		t.Errorf("As(%v) = %v; want %v", wrapped, got, e)
	}
	if got := As(errors.New("targets[2]: x")); got != nil {
		t.Errorf("As(plain error) = %v; want nil: a message is never read", got)
	}
	if got := (*Error)(nil).Path(); got != "" {
		t.Errorf("nil Path() = %q; want empty", got)
	}
}

func TestIndex(t *testing.T) {
	tests := []struct {
		path, list string
		want       int
		ok         bool
	}{
		{"phases[3]", "phases", 3, true},
		{"targets[0].url", "targets", 0, true},
		{"phases[3]", "targets", 0, false},
		{"phases", "phases", 0, false},
		{"phases[x]", "phases", 0, false},
		{"phases[-1]", "phases", 0, false},
	}
	for _, tt := range tests {
		i, ok := Invalid(tt.path, tt.path, "bad").Index(tt.list)
		if i != tt.want || ok != tt.ok {
			t.Errorf("Index(%q) of %q = %d, %v; want %d, %v", tt.list, tt.path, i, ok, tt.want, tt.ok)
		}
	}
}
