package harness

import (
	"log"
	"strings"
	"sync"
)

// serverLog is the ErrorLog of cbload's own HTTP servers: net/http logs
// accept errors ("accept4: too many open files; retrying in 5ms") and
// handler panics there, and those raw lines must never reach stderr. It
// drops them, counting the ones about exhausted resources for the report's
// validity checks.
type serverLog struct {
	mu       sync.Mutex
	resource int64
	last     string
}

// logger returns a *log.Logger writing to l.
func (l *serverLog) logger() *log.Logger { return log.New(l, "", 0) }

func (l *serverLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	l.mu.Lock()
	defer l.mu.Unlock()
	if isResourceError(msg) {
		l.resource++
		l.last = msg
	}
	return len(p), nil
}

// resourceErrors returns how many lines were about exhausted resources and
// the last of them.
func (l *serverLog) resourceErrors() (int64, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.resource, l.last
}
