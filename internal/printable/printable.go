// Package printable makes text that comes from outside cbload — a
// service's status line or body, a control API's answer, a value read from
// a report file — safe to print on a terminal: a status reason holding
// ESC sequences could otherwise clear the screen, set the window title or
// forge lines of cbload's own output.
package printable

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxLen is the length String cuts outside text at by default: enough for
// a status line or an error message, short enough for one terminal line.
const MaxLen = 200

// String returns s fit to print: every control character (C0, DEL and
// C1, line breaks and tabs too), every other non-printing rune (bidi
// overrides, zero-width and private-use characters, separators other than
// the ASCII space) and every byte that is not UTF-8 is written as a
// visible escape — \x1b, \n, \u202e, \xff — and the result is cut at max
// bytes on a character boundary, with "…" after the cut (max 0: no cut).
// Printable text, backslashes and quotes included, stays as it is.
func String(s string, max int) string {
	if clean(s) && (max <= 0 || len(s) <= max) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		var part string
		switch {
		case r == utf8.RuneError && n == 1:
			part = `\x` + strconv.FormatUint(uint64(s[i])|0x100, 16)[1:]
		case r == ' ' || strconv.IsPrint(r):
			part = s[i : i+n]
		default:
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\n', '\u202e'
			part = q[1 : len(q)-1]
		}
		if max > 0 && b.Len()+len(part) > max {
			b.WriteString("…")
			break
		}
		b.WriteString(part)
		i += n
	}
	return b.String()
}

// Clip is String with the default cut, MaxLen.
func Clip(s string) string { return String(s, MaxLen) }

// Lines is String for a message of cbload's own that may quote outside
// text: line breaks and tabs stay, every other control character is
// escaped, nothing is cut. main passes every error message through it
// before printing, as the last line of defence.
func Lines(s string) string {
	if clean(strings.NewReplacer("\n", "", "\t", "").Replace(s)) {
		return s
	}
	var b strings.Builder
	for i, line := range strings.Split(s, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		for j, part := range strings.Split(line, "\t") {
			if j > 0 {
				b.WriteByte('\t')
			}
			b.WriteString(String(part, 0))
		}
	}
	return b.String()
}

// clean says whether s needs no escaping.
func clean(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c >= 0x7f {
			return cleanSlow(s[i:])
		}
	}
	return true
}

func cleanSlow(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || (r != ' ' && !strconv.IsPrint(r)) {
			return false
		}
	}
	return true
}

// Writer passes what is written through Lines to W: line breaks and tabs
// go through, every other control character comes out as a visible
// escape. A rune split across two writes comes out as \x escapes of its
// bytes; fmt's functions write whole strings, so that does not happen to
// their output.
type Writer struct {
	W io.Writer
}

// Write writes Lines(p) to W and returns len(p) when all of it was
// written.
func (w *Writer) Write(p []byte) (int, error) {
	s := string(p)
	if out := Lines(s); out != s {
		if _, err := io.WriteString(w.W, out); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return w.W.Write(p)
}

// MaxEcho is how many characters of a value a message quotes back.
const MaxEcho = 64

// Echo shortens a value quoted in a message to its first MaxEcho
// characters and "…": a 5000-character input is named, not echoed whole.
func Echo(s string) string {
	n := 0
	for i := range s {
		if n == MaxEcho {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// RoughSpan says how far t is from now for a message: a duration up to a
// few days, beyond that in days or years (a time.Duration saturates at
// about 292 years, which would print as 2562047h47m16s).
func RoughSpan(now, t time.Time) string {
	a, b := now, t
	if b.Before(a) {
		a, b = b, a
	}
	switch years := b.Year() - a.Year(); {
	case years > 2:
		return fmt.Sprintf("about %d years", years)
	case b.Sub(a) > 72*time.Hour:
		return fmt.Sprintf("about %d days", int(b.Sub(a).Hours()/24))
	}
	return b.Sub(a).Round(time.Second).String()
}

// ClipQuoted cuts every quoted value in msg ("…", as %q writes it) longer
// than MaxEcho characters to its first MaxEcho and "…": an error names
// the 5000-character value it refuses, whichever package or library wrote
// the message (pflag quotes a flag's value whole), and does not echo it.
func ClipQuoted(msg string) string {
	if len(msg) <= MaxEcho {
		return msg
	}
	var b strings.Builder
	for {
		start := strings.IndexByte(msg, '"')
		if start < 0 {
			break
		}
		end := start + 1
		for end < len(msg) && msg[end] != '"' {
			if msg[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(msg) {
			break // no closing quote: not a quoted value
		}
		b.WriteString(msg[:start+1])
		inner := msg[start+1 : end]
		if cut := Echo(inner); cut != inner {
			inner = trimEscape(strings.TrimSuffix(cut, "…")) + "…"
		}
		b.WriteString(inner)
		b.WriteByte('"')
		msg = msg[end+1:]
	}
	b.WriteString(msg)
	return b.String()
}

// trimEscape drops an escape sequence (as %q writes them: \", \n, \x1b,
// \u00e9, \U0001f600, \000) that the end of s cut short.
func trimEscape(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		n := 2
		if i+1 < len(s) {
			switch s[i+1] {
			case 'x':
				n = 4
			case 'u':
				n = 6
			case 'U':
				n = 10
			case '0', '1', '2', '3', '4', '5', '6', '7':
				n = 4
			}
		}
		if i+n > len(s) {
			return s[:i]
		}
		i += n - 1
	}
	return s
}
