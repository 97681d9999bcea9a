package harness

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestParseRequestFileHTTP(t *testing.T) {
	file := `# orders API
GET http://127.0.0.1:8080/orders?limit=10
Accept: application/json
X-Multi: a
X-Multi: b

# cbload: collateral
GET http://127.0.0.1:8080/health

POST /orders
# cbload: api
Content-Type: application/json
@order.json
PUT /orders/1
`
	bodies := map[string][]byte{"order.json": []byte(`{"id":1}`)}
	got, err := ParseRequestFile("t.txt", []byte(file), func(p string) ([]byte, error) {
		if b, ok := bodies[p]; ok {
			return b, nil
		}
		return nil, errors.New("no such file")
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Request{
		{Method: "GET", URL: "http://127.0.0.1:8080/orders?limit=10", Header: http.Header{"Accept": {"application/json"}, "X-Multi": {"a", "b"}}},
		{Method: "GET", URL: "http://127.0.0.1:8080/health", Header: http.Header{}, Collateral: true},
		{Method: "POST", URL: "/orders", Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"id":1}`)},
		{Method: "PUT", URL: "/orders/1", Header: http.Header{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseRequestFile (-want +got):\n%s", diff)
	}
}

func TestParseRequestFileJSON(t *testing.T) {
	file := `{"method":"POST","url":"http://127.0.0.1:8080/pay","body":"eyJhbW91bnQiOjV9","header":{"Content-Type":["application/json"]}}

{"method":"GET","url":"/local","cbload":"collateral"}
`
	got, err := ParseRequestFile("t.json", []byte(file), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Request{
		{Method: "POST", URL: "http://127.0.0.1:8080/pay", Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"amount":5}`)},
		{Method: "GET", URL: "/local", Header: http.Header{}, Collateral: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseRequestFile (-want +got):\n%s", diff)
	}
}

func TestParseRequestFileErrors(t *testing.T) {
	read := func(string) ([]byte, error) { return nil, errors.New("no such file") }
	for _, tt := range []struct{ file, want string }{
		{"", "t: no requests"},
		{"# only a comment\n", "t: no requests"},
		{"get http://127.0.0.1/a\n", `t:1: "get http://127.0.0.1/a": want a request line`},
		{"GET http://127.0.0.1/a\nAccept application/json\n", `t:2: "Accept application/json": want a header`},
		{"GET http://127.0.0.1/a\n: v\n", `t:2: ": v": want a header`},
		{"GET 127.0.0.1/a\n", `t:1: "127.0.0.1/a": want an absolute http:// or https:// URL, or a /path`},
		{"GET ftp://127.0.0.1/a\n", `t:1: "ftp://127.0.0.1/a": want an absolute`},
		{"\n\nGET /a\n@missing.json\n", "t:4: body @missing.json: no such file"},
		{"# cbload: colateral\nGET /a\n", `t:1: "# cbload: colateral": want "# cbload: api" or "# cbload: collateral"`},
		{"GET /a\n\nGET /a\n# cbload: collateral\n", "t: GET /a is tagged both api and collateral"},
		{`{"method":"GET","url":"/a","headers":{}}`, `t:1: json: unknown field "headers"; want one object per line`},
		{`{"method":"get","url":"/a"}`, `t:1: method "get": want an HTTP method in capitals`},
		{"{\"method\":\"GET\",\"url\":\"/a\"}\n{\"method\":\"GET\",\"url\":\"a\"}", `t:2: url: "a": want an absolute`},
		{`{"method":"GET","url":"/a","cbload":"both"}`, `t:1: cbload "both": want "api" or "collateral"`},
		{`{"method":"GET","url":"/a","body":"not base64!"}`, `t:1: illegal base64 data`},
		{`{"method":"GET","url":"/a","header":{"X":"v"}}`, `t:1: field "header": got a JSON string`},
		{`{"method":"GET","url":"/a"} {"method":"GET","url":"/b"}`, "t:1: more than one JSON value"},
		{strings.Repeat("GET /a\n", MaxRequests+1), fmt.Sprintf("t:%d: more than %d requests", MaxRequests+1, MaxRequests)},
		{strings.Repeat("#", MaxRequestFileSize+1), "t: 1048577 bytes; a request file holds at most 1048576"},
		// A header line that starts like a request line is named as a header.
		{"GET /a\nX TOKEN: abc\n", `t:2: "X TOKEN: abc": want a header like "Accept: application/json" (no blank in the name)`},
		{"GET /a\nX-A: 1\nDNT 1\n", `t:3: "DNT 1": want a header`},
		{"GET /a\nX-A: v\rw\n", "t:2: header X-A: the value holds a control character"},
		{"GET /a\nX-A: v\x00w\n", "t:2: header X-A: the value holds a control character"},
		{"GET /a\nX-A: " + strings.Repeat("v", MaxHeaderValueSize+1) + "\n", "t:2: header X-A: the value is 8193 bytes; a header value holds at most 8192"},
		{"GET /a\n" + strings.Repeat("X-A: v\n", MaxHeaders+1), fmt.Sprintf("t:%d: header X-A: more than %d headers", MaxHeaders+2, MaxHeaders)},
		{`{"method":"GET","url":"/a","header":{"X-A":["v\r\nInjected: 1"]}}`, "t:1: header X-A: the value holds a control character"},
		{`{"method":"GET","url":"/a","header":{"X-A":["v\u0000"]}}`, "t:1: header X-A: the value holds a control character"},
	} {
		_, err := ParseRequestFile("t", []byte(tt.file), read)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseRequestFile(%q) = %v; want one line containing %q", clip(tt.file), err, tt.want)
		}
	}
}

func TestParseRequestFileBodyLimits(t *testing.T) {
	big := make([]byte, MaxBodySize+1)
	_, err := ParseRequestFile("t", []byte("POST /a\n@big\n"), func(string) ([]byte, error) { return big, nil })
	if err == nil || !strings.Contains(err.Error(), "t:2: body @big: 1048577 bytes; a body holds at most") {
		t.Errorf("a body over the limit: %v; want an error naming the line and the limit", err)
	}
	almost := make([]byte, MaxBodySize)
	file := strings.Repeat("POST /a\n@b\n\n", MaxBodiesSize/MaxBodySize+1)
	_, err = ParseRequestFile("t", []byte(file), func(string) ([]byte, error) { return almost, nil })
	if err == nil || !strings.Contains(err.Error(), "bodies add up to more than") {
		t.Errorf("bodies over the total limit: %v; want an error", err)
	}
}

func TestRebaseRequests(t *testing.T) {
	in := []Request{
		{Method: "GET", URL: "http://user:pw@10.1.2.3:9999/orders?x=1", Header: http.Header{"A": {"1"}}},
		{Method: "GET", URL: "/local", Collateral: true},
	}
	got, err := RebaseRequests(in, "https://127.0.0.1:8443")
	if err != nil {
		t.Fatal(err)
	}
	if got[0].URL != "https://127.0.0.1:8443/orders?x=1" || got[1].URL != "https://127.0.0.1:8443/local" || !got[1].Collateral {
		t.Errorf("RebaseRequests = %+v; want both on https://127.0.0.1:8443 with path and query kept", got)
	}
	got[0].Header.Set("A", "changed")
	if in[0].Header.Get("A") != "1" {
		t.Errorf("RebaseRequests shares headers with its input")
	}
}

// TestMixTargeter checks the share of collateral requests, the rotation
// within each kind, and that results are told apart by method and URL.
func TestMixTargeter(t *testing.T) {
	m := newMix([]Request{
		{Method: "GET", URL: "http://127.0.0.1:1/a"},
		{Method: "POST", URL: "http://127.0.0.1:1/a", Body: []byte("x")},
		{Method: "GET", URL: "http://127.0.0.1:1/c", Collateral: true},
	})
	var sent atomic.Int64
	tr := m.targeter(0.25, 7, &sent)
	counts := map[string]int{}
	var first []string
	for i := range 4000 {
		var tg vegeta.Target
		if err := tr(&tg); err != nil {
			t.Fatal(err)
		}
		k := tg.Method + " " + tg.URL
		counts[k]++
		if i < 6 {
			first = append(first, k)
		}
		if m.collateralResult(&vegeta.Result{Method: tg.Method, URL: tg.URL}) != strings.HasSuffix(tg.URL, "/c") {
			t.Fatalf("collateralResult(%s) is wrong", k)
		}
	}
	if n := sent.Load(); n != 4000 {
		t.Errorf("sent counted %d; want 4000", n)
	}
	if c := counts["GET http://127.0.0.1:1/c"]; c < 900 || c > 1100 {
		t.Errorf("collateral requests: %d of 4000; want about 1000 (share 0.25)", c)
	}
	if g, p := counts["GET http://127.0.0.1:1/a"], counts["POST http://127.0.0.1:1/a"]; g-p > 1 || p-g > 1 {
		t.Errorf("api requests: %d GET, %d POST; want them taken in turn", g, p)
	}
	again := m.targeter(0.25, 7, &sent)
	for i, want := range first {
		var tg vegeta.Target
		_ = again(&tg)
		if got := tg.Method + " " + tg.URL; got != want {
			t.Errorf("request %d with the same seed: %s; want %s", i, got, want)
		}
	}
}
