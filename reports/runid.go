package reports

import (
	"fmt"
	"regexp"
)

var runIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckRunID checks a run id — from --run-id or read from a report — the
// one way: it names folders (cbload merge's default --out) and terminal
// lines, so it is 1 to 64 letters, digits, '.', '_' or '-', starting with
// a letter or digit. Its error starts with the id, quoted and cut to 64
// characters.
func CheckRunID(id string) error {
	if runIDRE.MatchString(id) {
		return nil
	}
	shown := id
	if len(shown) > 64 {
		shown = shown[:64] + "…"
	}
	return fmt.Errorf("%q: want 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", shown)
}
