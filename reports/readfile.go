package reports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cbload/cbload/internal/inputfile"
)

// ReadTimeout is how long reading a report.json (or a summary template)
// may take, so that a FIFO no one writes to cannot hold the process.
const ReadTimeout = 10 * time.Second

// ReadFile reads the report.json at path with the size cap (MaxJSONSize)
// and deadline (ReadTimeout) of every report cbload reads. Every error
// names the file, and means it cannot be used; once ctx has ended, the
// error is ctx's.
func ReadFile(ctx context.Context, path string) (*Report, error) {
	data, err := inputfile.Read(ctx, path, MaxJSONSize, ReadTimeout)
	var tl *inputfile.TooLargeError
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.As(err, &tl):
		return nil, fmt.Errorf("%s: larger than the %s limit for a report.json", path, inputfile.Size(tl.Limit))
	case errors.Is(err, inputfile.ErrTimeout):
		return nil, fmt.Errorf("%s: not read to its end within %v; want a regular file (a pipe must be written and closed)", path, ReadTimeout)
	case err != nil:
		return nil, err
	}
	r, err := ReadJSON(bytes.NewReader(data))
	switch {
	case errors.Is(err, ErrSchema), errors.Is(err, ErrMalformed), errors.Is(err, ErrTooLarge):
		return nil, fmt.Errorf("%s: %w", path, err)
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return r, nil
}

// Find returns the report files path names: path itself when it is a
// file; a folder's report.json; or else the report.json of each run
// folder right below it, in name order — none when it has none. The
// error is os.Stat's, when path is not there.
func Find(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	direct := filepath.Join(path, "report.json")
	if _, err := os.Stat(direct); err == nil {
		return []string{direct}, nil
	}
	found, _ := filepath.Glob(filepath.Join(path, "*", "report.json")) // sorted
	return found, nil
}

// FindOne returns the one report file path names (Find): a folder must
// hold one report.json, in it or in a single run folder below it. Its
// error says what path holds instead, and ends "name the one to " + verb
// when it holds several runs.
func FindOne(path, verb string) (string, error) {
	found, err := Find(path)
	switch {
	case err != nil:
		return "", err
	case len(found) == 1:
		return found[0], nil
	case len(found) == 0:
		return "", fmt.Errorf("%s: a folder with no report.json in it or in a run folder below it; name the report.json", path)
	}
	var rel []string
	for _, f := range found[:min(len(found), 3)] {
		rel = append(rel, strings.TrimPrefix(f, path+string(filepath.Separator)))
	}
	more := ""
	if len(found) > 3 {
		more = ", …"
	}
	return "", fmt.Errorf("%s: holds %d runs (%s%s); name the one to %s", path, len(found), strings.Join(rel, ", "), more, verb)
}

// TemplateFileError is a summary template file that cannot be used; its
// message names the file.
type TemplateFileError struct {
	Path string
	Err  error
}

func (e *TemplateFileError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *TemplateFileError) Unwrap() error { return e.Err }

// ReadSummaryTemplate reads and parses the summary template file at path,
// with the size cap (MaxSummaryTemplate) and deadline (ReadTimeout) of
// every file cbload reads. A file too large, not read in time or that does
// not parse is a *TemplateFileError; one that cannot be read at all has
// the file system's error; once ctx has ended, the error is ctx's.
func ReadSummaryTemplate(ctx context.Context, path string) (*SummaryTemplate, error) {
	data, err := inputfile.Read(ctx, path, MaxSummaryTemplate, ReadTimeout)
	var tl *inputfile.TooLargeError
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.As(err, &tl):
		return nil, &TemplateFileError{path, fmt.Errorf("larger than the %s limit for a template", inputfile.Size(tl.Limit))}
	case errors.Is(err, inputfile.ErrTimeout):
		return nil, &TemplateFileError{path, fmt.Errorf("not read to its end within %v; want a regular file", ReadTimeout)}
	case err != nil:
		return nil, err
	}
	t, err := ParseSummaryTemplate(string(data))
	if err != nil {
		return nil, &TemplateFileError{path, err}
	}
	return t, nil
}
