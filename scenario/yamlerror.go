package scenario

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	// valueErrRE matches the errors of this package's own unmarshalers:
	// lineErr quotes the value right after the line.
	valueErrRE = regexp.MustCompile(`^line (\d+): [^"]*("(?:[^"\\]|\\.)*")`)
	notFoundRE = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (.+)$`)
	cannotRE   = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+)(?: `(.*?)`)? into (.+)$")
	lineRE     = regexp.MustCompile(`^line (\d+): `)
)

// yamlError turns a yaml error into one line a user can act on: the first
// problem with its line number and field, and how many more there are.
// sections names the structs of the file's schema, for unknown fields.
func yamlError(file string, err error, doc *yaml.Node, sections map[string]section) *Error {
	e := &Error{File: file}
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		e.Msg = oneLine(strings.TrimPrefix(err.Error(), "yaml: "))
		if m := lineRE.FindStringSubmatch(e.Msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
		}
		return e
	}
	msg := te.Errors[0]
	// named prefixes a message about the value on line with the field's path.
	named := func(line string, kind yaml.Kind, value, rest string) string {
		n, _ := strconv.Atoi(line)
		if field := fieldAt(doc, n, kind, value); field != "" {
			e.Path = field
			return fmt.Sprintf("line %s: %s: %s", line, field, rest)
		}
		return fmt.Sprintf("line %s: %s", line, rest)
	}
	if m := notFoundRE.FindStringSubmatch(msg); m != nil {
		sec := sections[m[3]]
		if sec.name == "" {
			sec.name = "this section"
		}
		msg = fmt.Sprintf("line %s: unknown field %q in %s; want one of: %s", m[1], m[2], sec.name, strings.Join(sec.keys, ", "))
	} else if m := cannotRE.FindStringSubmatch(msg); m != nil {
		kind, got := yaml.ScalarNode, fmt.Sprintf("%q is %s", m[3], yamlKind(m[2]))
		switch m[2] {
		case "map":
			kind, got = yaml.MappingNode, "got a mapping"
		case "seq":
			kind, got = yaml.SequenceNode, "got a list"
		}
		msg = named(m[1], kind, m[3], fmt.Sprintf("%s; want %s", got, goKind(m[4])))
	} else if m := valueErrRE.FindStringSubmatch(msg); m != nil {
		// This package's own unmarshalers quote the value they reject.
		value, err := strconv.Unquote(m[2])
		if err != nil {
			value = ""
		}
		msg = named(m[1], yaml.ScalarNode, value, msg[len("line "+m[1]+": "):])
	}
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
	}
	if n := len(te.Errors) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	e.Msg = oneLine(msg)
	return e
}

// fieldAt returns the path, like "load.rate" or "phases[1].faults[0]", of
// the first node of kind on line whose value is value (lists and mappings
// have none), or "" when there is none.
// yaml's own type errors give only the line and the value; this names the
// field.
func fieldAt(n *yaml.Node, line int, kind yaml.Kind, value string) string {
	// yaml shortens long values in its messages to their start and "...".
	short, cut := strings.CutSuffix(value, "...")
	var walk func(n *yaml.Node, path string) string
	walk = func(n *yaml.Node, path string) string {
		// The innermost node first: a flow mapping shares its line with
		// the mapping around it.
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key := n.Content[i].Value
				if path != "" {
					key = path + "." + key
				}
				if p := walk(n.Content[i+1], key); p != "" {
					return p
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if p := walk(c, fmt.Sprintf("%s[%d]", path, i)); p != "" {
					return p
				}
			}
		}
		if n.Line != line || path == "" || n.Kind != kind {
			return ""
		}
		if kind != yaml.ScalarNode || n.Value == value || cut && strings.HasPrefix(n.Value, short) {
			return path
		}
		return ""
	}
	if n == nil {
		return ""
	}
	return walk(n, "")
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// yamlFields returns the keys of struct type t, in its fields' order.
func yamlFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("yaml"); tag != "" && tag != "-" {
			out = append(out, strings.Split(tag, ",")[0])
		}
	}
	return out
}

func yamlKind(tag string) string {
	switch tag {
	case "str":
		return "a string"
	case "map":
		return "a mapping"
	case "seq":
		return "a list"
	case "int", "float":
		return "a number"
	case "bool":
		return "true/false"
	}
	return "a " + tag
}

func goKind(t string) string {
	t = strings.TrimPrefix(t, "*")
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	}
	return "a mapping"
}
