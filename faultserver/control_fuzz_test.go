package faultserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzControlPutFaults feeds arbitrary bodies to PUT /faults: the answer is
// 200 with the new set, or a 4xx with a one-line JSON error and the previous
// set untouched — never a panic or a 5xx.
func FuzzControlPutFaults(f *testing.F) {
	for _, seed := range []string{
		`{"faults": ["latency:200ms", "error:503,rate=0.5"]}`,
		`{"faults": []}`,
		`{"faults": ["hang:30s,path=/api"]}`,
		`{"faults": ["slowbody:1KiB/s,size=4KiB"]}`,
		`{"faults": ["latency:-1s"]}`,
		`{"faults": "latency"}`,
		`{"fault": ["latency"]}`,
		`{"faults": ["latency"]} {}`,
		`{"faults": [null]}`,
		`[]`,
		``,
		`{`,
	} {
		f.Add(seed)
	}
	s, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	handler := s.controlHandler()
	initial := mustSpecs(f, "error:502,path=/keep")
	f.Fuzz(func(t *testing.T, body string) {
		s.SetFaults(initial)
		req := httptest.NewRequest(http.MethodPut, "/faults", strings.NewReader(body))
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		switch {
		case rec.Code == http.StatusOK:
			var got faultList
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("200 with a body that is not a fault list: %q", rec.Body.String())
			}
		case rec.Code >= 400 && rec.Code < 500:
			var e struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" || strings.Contains(e.Error, "\n") {
				t.Fatalf("%d with body %q; want a one-line JSON error", rec.Code, rec.Body.String())
			}
			if got := s.Faults(); len(got) != 1 || got[0].String() != initial[0].String() {
				t.Fatalf("after a rejected PUT the faults are %v; want %v kept", got, initial)
			}
		default:
			t.Fatalf("PUT /faults %q = %d %q; want 200 or 4xx", body, rec.Code, rec.Body.String())
		}
	})
}
