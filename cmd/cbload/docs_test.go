package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cbload/cbload/internal/testenv"
)

// docCommand is one cbload command line shown in a shell block of the
// README, CONTRIBUTING.md or a docs/ page.
type docCommand struct {
	file string
	line int
	args []string // after "cbload"
	env  map[string]string
}

// docPages are the Markdown files whose shell blocks TestDocsCommands runs.
func docPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) < 8 {
		t.Fatalf("docs/ has %d pages; want the topic pages the README links", len(pages))
	}
	return append([]string{"../../README.md", "../../CONTRIBUTING.md"}, pages...)
}

// shellWords splits a shell line into words, honouring single and double
// quotes and stopping at a comment, a pipe, a redirect or a background &.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	in := false
	var quote rune
	for _, c := range line {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteRune(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case (c == '#' && !in) || c == '|' || c == '>' || c == '&':
			if in {
				words = append(words, cur.String())
			}
			return words
		default:
			cur.WriteRune(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// docVars stands in for the shell variables the examples set.
var docVars = strings.NewReplacer(
	"$START", time.Now().UTC().Add(2*time.Minute).Format(time.RFC3339),
	"$i", "0",
	"$PWD", ".",
	"$HOME", ".",
)

// docCommands returns every cbload command in the shell blocks of file:
// lines (continuations joined) that start with cbload or bin/cbload, or
// hold one after "do", ";" or "&&". Variables an earlier `export` in the
// same block set are kept for the command.
func docCommands(t *testing.T, file string) []docCommand {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []docCommand
	inShell := false
	env := map[string]string{}
	lines := strings.Split(string(data), "\n")
	exportRE := regexp.MustCompile(`^export ([A-Z_]+)='([^']*)'`)
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "```") {
			lang := strings.TrimPrefix(l, "```")
			inShell = !inShell && (lang == "sh" || lang == "bash" || lang == "shell")
			env = map[string]string{}
			continue
		}
		if !inShell {
			continue
		}
		start := i + 1
		full := strings.TrimSpace(l)
		for strings.HasSuffix(full, `\`) && i+1 < len(lines) {
			i++
			full = strings.TrimSuffix(full, `\`) + " " + strings.TrimSpace(lines[i])
		}
		if m := exportRE.FindStringSubmatch(full); m != nil {
			env[m[1]] = m[2]
			continue
		}
		for _, seg := range regexp.MustCompile(`;|&&|\bdo\b`).Split(full, -1) {
			words := shellWords(docVars.Replace(strings.TrimSpace(seg)))
			if len(words) == 0 || (words[0] != "cbload" && words[0] != "bin/cbload") {
				continue
			}
			e := map[string]string{}
			for k, v := range env {
				e[k] = v
			}
			out = append(out, docCommand{file: filepath.Base(file), line: start, args: words[1:], env: e})
		}
	}
	return out
}

// TestDocsCommands checks every cbload command the README and the docs
// show. Each must name a real command and parse against its real flags;
// every `cbload run` is run with --dry-run (the whole configuration is
// built and validated, nothing sent), in a folder holding the repository's
// examples and the files the docs' examples read (requests.txt as the docs
// show it, a body, a CA certificate). Other commands need servers or
// reports that a page's example assumes; they are checked up to their
// arguments.
func TestDocsCommands(t *testing.T) {
	var cmds []docCommand
	for _, f := range docPages(t) {
		cmds = append(cmds, docCommands(t, f)...)
	}
	if len(cmds) < 20 {
		t.Fatalf("found %d cbload commands in the docs; the parser lost some", len(cmds))
	}
	examples, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(examples, filepath.Join(dir, "examples")); err != nil {
		t.Fatal(err)
	}
	writeDocFixtures(t, dir)
	t.Chdir(dir)

	runs := 0
	for _, c := range cmds {
		root := newRootCmd(&bytes.Buffer{}, &bytes.Buffer{})
		sub, rest, err := root.Find(c.args)
		if err != nil || sub == root {
			t.Errorf("%s:%d: cbload %s: not a command (%v)", c.file, c.line, strings.Join(c.args, " "), err)
			continue
		}
		if err := sub.ParseFlags(rest); err != nil {
			t.Errorf("%s:%d: cbload %s: %v", c.file, c.line, strings.Join(c.args, " "), err)
			continue
		}
		if sub.Args != nil && sub.Name() != "completion" {
			if err := sub.Args(sub, sub.Flags().Args()); err != nil {
				t.Errorf("%s:%d: cbload %s: %v", c.file, c.line, strings.Join(c.args, " "), err)
			}
		}
		if sub.Name() != "run" {
			continue
		}
		runs++
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		var stdout, stderr bytes.Buffer
		args := append(append([]string{}, c.args...), "--dry-run")
		if code := run(args, &stdout, &stderr); code != exitOK {
			t.Errorf("%s:%d: cbload %s --dry-run: exit %d: %s", c.file, c.line, strings.Join(c.args, " "), code, strings.TrimSpace(stderr.String()))
		}
	}
	if runs < 8 {
		t.Errorf("ran %d `cbload run` examples; want every one the docs show", runs)
	}
}

// writeDocFixtures writes into dir the files the docs' examples read: the
// request file docs/your-service.md shows, the body it names, and a CA
// certificate for --ca-cert.
func writeDocFixtures(t *testing.T, dir string) {
	t.Helper()
	data, err := os.ReadFile("../../docs/your-service.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), "```text\n# requests.txt")
	if !ok {
		t.Fatal("docs/your-service.md has no requests.txt block")
	}
	reqs, _, _ := strings.Cut(after, "```")
	files := map[string]string{
		"requests.txt": "# requests.txt" + reqs,
		"order.json":   `{"item": 42}`,
		"dev-ca.pem":   string(testenv.NewCA(t, "docs test CA").PEM),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
