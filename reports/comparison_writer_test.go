package reports_test

import (
	"reflect"
	"testing"

	"github.com/cbload/cbload/reports"
)

// ComparisonWriter knows text, md (markdown) and junit, in any case.
func TestComparisonWriter(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		write    any
	}{
		{"text", "text", reports.WriteComparisonText},
		{" Markdown ", "md", reports.WriteComparisonMarkdown},
		{"MD", "md", reports.WriteComparisonMarkdown},
		{"junit", "junit", reports.WriteComparisonJUnit},
	} {
		format, write, ok := reports.ComparisonWriter(tt.in)
		if !ok || format != tt.want || reflect.ValueOf(write).Pointer() != reflect.ValueOf(tt.write).Pointer() {
			t.Errorf("ComparisonWriter(%q) = %q, ok %v; want %q and its writer", tt.in, format, ok, tt.want)
		}
	}
	if _, _, ok := reports.ComparisonWriter("html"); ok {
		t.Error("ComparisonWriter(html) ok; want not")
	}
}
