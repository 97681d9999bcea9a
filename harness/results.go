package harness

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cbload/cbload/internal/outfile"
	"github.com/cbload/cbload/reports"
)

// MaxResultsFile is the default cap on a raw results file (--results): a
// 200 req/s arm writes about 60 KiB a second, so 1 GiB holds hours of it.
const MaxResultsFile = 1 << 30

// resultsChunk is how much a ResultsFile gathers before it writes: whole
// lines only, so a process killed mid-run leaves a file whose every line
// decodes (vegeta stops at a cut last line as at its end).
const resultsChunk = 256 << 10

// phaseHeader carries a result's phase in a results file.
const phaseHeader = "X-Cbload-Phase"

// ResultsFile streams every result of a run to a file as it completes, in
// vegeta's JSON results encoding, one result per line: its attack is the
// arm, its only header X-Cbload-Phase the phase it completed in, its body
// empty and bytes_in the body's size. Memory stays flat: it holds at most one chunk of lines. Past its
// limit it writes nothing more and counts what it dropped. A ResultsFile is
// used by one goroutine at a time (Run's, then the caller's Close), or by
// the arms that run at once, each a call at a time, once shared.
type ResultsFile struct {
	mu *sync.Mutex // set by shared: several arms write at once

	f     *outfile.File
	buf   bytes.Buffer
	line  bytes.Buffer
	enc   vegeta.Encoder
	sum   reports.ResultsFile
	limit int64
	// phases holds each phase's header, made once: the encoder only
	// reads it.
	phases map[string]http.Header
}

// CreateResultsFile creates (or truncates) the results file at path, to
// hold at most limit bytes; a device or FIFO there is written through
// (outfile.Create), a symbolic link's file truncated. ctx ends a wait for
// a FIFO's reader and a write blocked on it. The caller must Close it
// after the run.
func CreateResultsFile(ctx context.Context, path string, limit int64) (*ResultsFile, error) {
	f, err := outfile.Create(ctx, path)
	if err != nil {
		return nil, err
	}
	rf := &ResultsFile{f: f, limit: limit,
		sum: reports.ResultsFile{Path: path, Format: reports.ResultsFormat, LimitBytes: limit}}
	rf.enc = vegeta.NewJSONEncoder(&rf.line)
	return rf, nil
}

// add writes one result of arm, completed in phase. A nil *ResultsFile
// writes nothing.
func (rf *ResultsFile) add(res *vegeta.Result, arm, phase string) {
	if rf == nil {
		return
	}
	if rf.mu != nil {
		rf.mu.Lock()
		defer rf.mu.Unlock()
	}
	if rf.sum.Error != "" || rf.sum.Dropped > 0 {
		rf.sum.Dropped++
		return
	}
	out := *res
	out.Attack, out.Body = arm, nil
	// vegeta keeps no body (MaxBody(0)); the load runner counted its bytes.
	if n, err := strconv.ParseUint(res.Headers.Get(bodyBytesHeader), 10, 64); err == nil {
		out.BytesIn = n
	}
	h := rf.phases[phase]
	if h == nil {
		if rf.phases == nil {
			rf.phases = map[string]http.Header{}
		}
		h = http.Header{phaseHeader: {phase}}
		rf.phases[phase] = h
	}
	out.Headers = h
	rf.line.Reset()
	if err := rf.enc.Encode(&out); err != nil {
		rf.fail(err)
		rf.sum.Dropped++ // this one
		return
	}
	if rf.sum.Bytes+int64(rf.line.Len()) > rf.limit {
		rf.sum.Dropped++
		return
	}
	rf.buf.Write(rf.line.Bytes())
	rf.sum.Written++
	rf.sum.Bytes += int64(rf.line.Len())
	if rf.buf.Len() >= resultsChunk {
		rf.write()
	}
}

// shared makes the file safe for the arms that run at once: add and flush
// take turns. A nil *ResultsFile does nothing.
func (rf *ResultsFile) shared() {
	if rf != nil && rf.mu == nil {
		rf.mu = new(sync.Mutex)
	}
}

// flush writes the lines gathered so far. A nil *ResultsFile does nothing.
func (rf *ResultsFile) flush() {
	if rf == nil {
		return
	}
	if rf.mu != nil {
		rf.mu.Lock()
		defer rf.mu.Unlock()
	}
	rf.write()
}

// write writes the lines gathered so far; the caller holds mu, if any.
func (rf *ResultsFile) write() {
	if rf.buf.Len() == 0 || rf.sum.Error != "" {
		return
	}
	if _, err := rf.f.Write(rf.buf.Bytes()); err != nil {
		rf.fail(err)
	}
	rf.buf.Reset()
}

// fail stops the file at an error: what was written stays, the lines
// gathered but not written count as dropped.
func (rf *ResultsFile) fail(err error) {
	lost := int64(bytes.Count(rf.buf.Bytes(), []byte{'\n'}))
	rf.sum.Written -= lost
	rf.sum.Dropped += lost
	rf.sum.Error = err.Error()
	rf.buf.Reset()
}

// Close writes what is left and closes the file. It returns what the file
// holds, and an error when not every result could be written for a reason
// other than the limit.
func (rf *ResultsFile) Close() (*reports.ResultsFile, error) {
	rf.flush()
	if err := rf.f.Close(); err != nil && rf.sum.Error == "" {
		rf.sum.Error = err.Error()
	}
	sum := rf.sum
	if t := rf.f.Target(); !t.Special() {
		if st, err := os.Stat(t.Path); err == nil {
			sum.Bytes = st.Size()
		}
	}
	if sum.Error != "" {
		return &sum, fmt.Errorf("results file %s: %s", sum.Path, sum.Error)
	}
	return &sum, nil
}
