package reports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cbload/cbload/internal/outfile"
)

// Formats are the formats WriteAll knows, in the order it writes them by
// default: report.json, report.md and report.html.
var Formats = []string{"json", "md", "html"}

// ErrFormat means a format name is not one of Formats.
var ErrFormat = errors.New("unknown report format")

var writers = map[string]struct {
	file  string
	write func(io.Writer, *Report) error
}{
	"json": {"report.json", WriteJSON},
	"md":   {"report.md", WriteMarkdown},
	"html": {"report.html", WriteHTML},
}

// ParseFormats parses a comma-separated list such as "html,md", dropping
// duplicates. An empty list means every format.
func ParseFormats(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return Formats, nil
	}
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "markdown" {
			f = "md"
		}
		if _, ok := writers[f]; !ok {
			return nil, fmt.Errorf("%w %q: want %s", ErrFormat, f, strings.Join(Formats, ", "))
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out, nil
}

// WriteAll renders r in each of formats (names from Formats; nil means all)
// and writes report.json, report.md and report.html into dir, which must
// exist. Each file is written as every output of cbload is (package
// internal/outfile): a new or regular file is written to a temporary file
// in dir and renamed into place, so a reader never sees half a report; a
// symbolic link's file is replaced, the link kept; a device or FIFO is
// written through; a folder or socket in the way is an error. ctx ends a
// wait for a FIFO's reader. It returns the paths written, in the order of
// formats. Nothing is written if any format fails to render.
func WriteAll(ctx context.Context, dir string, r *Report, formats []string) ([]string, error) {
	if formats == nil {
		formats = Formats
	}
	type out struct {
		path string
		data []byte
	}
	var outs []out
	for _, f := range formats {
		w, ok := writers[f]
		if !ok {
			return nil, fmt.Errorf("%w %q: want %s", ErrFormat, f, strings.Join(Formats, ", "))
		}
		var b bytes.Buffer
		if err := w.write(&b, r); err != nil {
			return nil, fmt.Errorf("render %s: %w", w.file, err)
		}
		outs = append(outs, out{filepath.Join(dir, w.file), b.Bytes()})
	}
	var paths []string
	for _, o := range outs {
		if err := outfile.Write(ctx, o.path, o.data); err != nil {
			return paths, err
		}
		paths = append(paths, o.path)
	}
	return paths, nil
}

// WriteEach writes every format of r into dir as WriteAll does, each file
// on its own, in the order of Formats: when the disk fills, what fits is
// written, JSON first, and each file that could not be written has its
// error, which names it. A report too large to be read back first loses
// its raw per-second data (FitJSON): trimmed is then the size its JSON
// would have had, else 0.
func WriteEach(ctx context.Context, dir string, r *Report) (paths []string, trimmed int, errs []error) {
	trimmed, err := FitJSON(r)
	if err != nil {
		errs = append(errs, err)
	}
	for _, f := range Formats {
		p, err := WriteAll(ctx, dir, r, []string{f})
		paths = append(paths, p...)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) { // the path is named once, here
				err = pe.Err
			}
			errs = append(errs, fmt.Errorf("could not write %s: %w", filepath.Join(dir, "report."+f), err))
		}
	}
	return paths, trimmed, errs
}

// WriteJUnitFile writes r's JUnit XML (WriteJUnit) to path, creating its
// folder (internal/outfile, as WriteAll).
func WriteJUnitFile(ctx context.Context, path string, r *Report) error {
	var b bytes.Buffer
	err := WriteJUnit(&b, r)
	if err == nil {
		err = os.MkdirAll(filepath.Dir(path), 0o755)
	}
	if err == nil {
		err = outfile.Write(ctx, path, b.Bytes())
	}
	return err
}

// AppendMarkdown appends r's Markdown (WriteMarkdown) and a blank line to
// the file at path, as a GitHub step summary wants it.
func AppendMarkdown(ctx context.Context, path string, r *Report) error {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, r); err != nil {
		return err
	}
	return outfile.Append(ctx, path, append(b.Bytes(), '\n'))
}
