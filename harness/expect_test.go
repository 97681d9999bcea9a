package harness

import (
	"strings"
	"testing"
)

func TestParseExpectation(t *testing.T) {
	for _, tt := range []struct{ in, err string }{
		{"status=200", ""},
		{"status=200-299,304", ""},
		{"status=2xx,404", ""},
		{"body-contains=ok", ""},
		{"body-lacks=fallback", ""},
		{"json:.source=primary", ""},
		{"json:.data.items[0].id!=0", ""},
		{"json:.=x", ""},
		{"json:.a=b=c", ""},
		{"status=", `status "" is not a code`},
		{"status=600", `status "600" is not a code`},
		{"status=299-200", "range 299-200 runs backwards"},
		{"status=6xx", `status "6xx"`},
		{"body-contains=", "the text is empty"},
		{"json:source=x", `path "source": starts with .`},
		{"json:.a..b=x", `at "..b"`},
		{"json:.a[x]=1", `at "[x]"`},
		{"json:.a", "no = between the path and the value"},
		{"header=x", "unknown check"},
		{"", "unknown check"},
	} {
		_, err := ParseExpectation(tt.in)
		if (err == nil) != (tt.err == "") || (err != nil && (!strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "want status="))) {
			t.Errorf("ParseExpectation(%q) = %v; want an error containing %q and the accepted forms", tt.in, err, tt.err)
		}
	}
}

func TestExpectationCheck(t *testing.T) {
	body := `{"source":"fallback","count":3,"ok":true,"items":[{"id":"a"}],"n":null}`
	for _, tt := range []struct {
		expect string
		code   int
		want   string // "" when the check holds
	}{
		{"status=200-299", 200, ""},
		{"status=200-299", 302, "status 302"},
		{"status=2xx,304", 304, ""},
		{"body-contains=fallback", 200, ""},
		{"body-contains=primary", 200, `body without "primary"`},
		{"body-lacks=fallback", 200, `body with "fallback"`},
		{"json:.source=primary", 200, `.source = "fallback"`},
		{"json:.source=fallback", 200, ""},
		{"json:.source!=fallback", 200, `.source = "fallback"`},
		{"json:.count=3", 200, ""},
		{"json:.ok=true", 200, ""},
		{"json:.n=null", 200, ""},
		{"json:.items[0].id=a", 200, ""},
		{"json:.items[1].id=a", 200, "no field .items[1].id"},
		{"json:.missing!=x", 200, ""},
		{"json:.source.deeper=x", 200, "no field .source.deeper"},
	} {
		e, err := ParseExpectation(tt.expect)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.check(tt.code, []byte(body), false); got != tt.want {
			t.Errorf("%s on %d %s: %q; want %q", tt.expect, tt.code, body, got, tt.want)
		}
	}
	e, _ := ParseExpectation("json:.a=1")
	if got := e.check(200, []byte("<html>"), false); got != "a body that is not JSON" {
		t.Errorf("json check on HTML: %q", got)
	}
	if got := e.check(200, []byte(`{"a":1`), true); !strings.Contains(got, "not checked") {
		t.Errorf("json check on a truncated body: %q; want it to say it was not checked", got)
	}
}

func TestExpectationsStatus(t *testing.T) {
	var none expectations
	if !none.acceptsStatus(204) || none.acceptsStatus(301) || none.statusForms() != "200-299" {
		t.Errorf("without status checks: want 2xx accepted, 301 not, described as 200-299")
	}
	a, _ := ParseExpectation("status=200-399")
	b, _ := ParseExpectation("body-contains=x")
	es := expectations{a, b}
	if !es.acceptsStatus(301) || es.acceptsStatus(404) || es.statusForms() != "200-399" {
		t.Errorf("with status=200-399: want 301 accepted, 404 not")
	}
}
