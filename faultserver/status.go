package faultserver

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// status answers with an error status at once, without doing the work, the
// way an overloaded or failing service sheds a request.
type status struct {
	code       int
	retryAfter time.Duration // 0: no Retry-After header
}

func parseStatus(arg string, kv map[string]string) (fault, error) {
	code, err := strconv.Atoi(arg)
	if err != nil || code < 400 || code > 599 {
		return nil, fmt.Errorf("status %q is not an HTTP error status 400-599", arg)
	}
	f := status{code: code}
	if v, ok := kv["retry-after"]; ok {
		if f.retryAfter, err = parseDuration("retry-after", v); err != nil {
			return nil, err
		}
		if f.retryAfter%time.Second != 0 {
			return nil, errors.New("retry-after must be whole seconds, as the header carries")
		}
	}
	return f, nil
}

func (f status) arg() string { return strconv.Itoa(f.code) }

func (f status) params() []string {
	if f.retryAfter > 0 {
		return []string{"retry-after=" + f.retryAfter.String()}
	}
	return nil
}

func (f status) answers() bool { return true }

func (f status) plan(randSource) action { return f }

func (f status) act(rc *reqCtx) bool {
	h := rc.w.Header()
	if f.retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64(f.retryAfter/time.Second), 10))
	}
	body := fmt.Appendf(nil, `{"error":"injected fault","status":%d}`+"\n", f.code)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	rc.w.WriteHeader(f.code)
	rc.w.Write(body) //nolint:errcheck // the client may be gone; nothing to do about it
	return true
}
