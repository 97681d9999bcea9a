package testenv

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportedOnlyByTests checks the package's promise: no file of the
// packages cbload ships imports it, only tests and the test services under
// testdata.
func TestImportedOnlyByTests(t *testing.T) {
	const self = "github.com/cbload/cbload/internal/testenv"
	var users int
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != "../.." && (strings.HasPrefix(n, ".") || n == "tools") {
				return filepath.SkipDir // other modules, and what git keeps
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || filepath.Dir(path) == "." {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p != self {
				continue
			}
			users++
			inTestdata := strings.Contains(filepath.ToSlash(path), "/testdata/")
			if !strings.HasSuffix(path, "_test.go") && !inTestdata {
				t.Errorf("%s imports %s; only tests and test services under testdata may", path, self)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if users == 0 {
		t.Error("no file imports testenv: the walk missed the module")
	}
}
