package reports

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// FileNames are the files a report folder holds, as WriteAll names them.
var FileNames = []string{"report.json", "report.md", "report.html"}

// HoldsReport says whether the regular file at path is a cbload report: a
// report.json, report.md or report.html beside a report.json, or a file
// that starts as a report.json does. Commands refuse to overwrite one
// without --force.
func HoldsReport(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	dir, base := filepath.Split(path)
	for _, n := range FileNames {
		if base == n {
			if _, err := os.Stat(filepath.Join(dir, "report.json")); err == nil {
				return true
			}
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	return bytes.Contains(head[:n], []byte(`"schema": "`+strings.TrimSuffix(Schema, "v2")))
}
