package reports

import (
	"context"
	"strings"
	"testing"
)

func TestSummaryTemplateCheckFields(t *testing.T) {
	for _, tt := range []struct {
		text, want string // want "" for nil
	}{
		{`{{range .Arms}}{{.Name}} {{(index .Summary "fault").API.Requests}}{{end}}`, ""},
		{`{{.NoSuchField}}`, "can't evaluate field"},
		{`{{range .Arms}}{{.Figures.NoSuch}}{{end}}`, "can't evaluate field"},
	} {
		s, err := ParseSummaryTemplate(tt.text)
		if err != nil {
			t.Fatalf("%s: %v", tt.text, err)
		}
		err = s.CheckFields(context.Background(), []string{"breaker", "no-breaker"}, []string{"baseline", "fault"})
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v; want nil", tt.text, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v; want an error with %q", tt.text, err, tt.want)
		}
	}
}
