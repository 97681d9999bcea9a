package scenario

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// A Field is a setting the caller reads from a scenario file: its path, a
// dotted list of keys like "load.rate" or "arms", and the Go type Value
// reads it into, which sets the rules its value is held to:
//
//   - int, int64: a whole number (1.5 is refused, not truncated)
//   - uint32: a whole number from 0 to 4294967295
//   - float64: a number
//   - time.Duration: a Go duration string like 250ms or 2s
//   - string: a scalar (a list or a mapping is refused)
//   - bool: true or false
//   - []string: a list; map[string]string: a mapping
//   - Share: a percentage like 10% or a fraction like 0.1
type Field struct {
	Path string
	Type reflect.Type
}

// fileTypes maps each type Value reads into to the type the file's value
// is decoded as, which holds it to the rules above.
var fileTypes = map[reflect.Type]reflect.Type{
	reflect.TypeFor[int]():               reflect.TypeFor[Int](),
	reflect.TypeFor[int64]():             reflect.TypeFor[Int](),
	reflect.TypeFor[uint32]():            reflect.TypeFor[Count](),
	reflect.TypeFor[time.Duration]():     reflect.TypeFor[Duration](),
	reflect.TypeFor[float64]():           reflect.TypeFor[float64](),
	reflect.TypeFor[string]():            reflect.TypeFor[string](),
	reflect.TypeFor[bool]():              reflect.TypeFor[bool](),
	reflect.TypeFor[[]string]():          reflect.TypeFor[[]string](),
	reflect.TypeFor[map[string]string](): reflect.TypeFor[map[string]string](),
	reflect.TypeFor[Share]():             reflect.TypeFor[Share](),
}

// The keys of the sections File holds, before and after the caller's.
var ownedFirst, ownedLast = []reflect.StructField{
	{Name: "Description", Type: reflect.TypeFor[string](), Tag: `yaml:"description"`},
}, []reflect.StructField{
	{Name: "Phases", Type: reflect.TypeFor[[]Phase](), Tag: `yaml:"phases"`},
	{Name: "Thresholds", Type: reflect.TypeFor[[]Threshold](), Tag: `yaml:"thresholds"`},
	{Name: "Targets", Type: reflect.TypeFor[[]Target](), Tag: `yaml:"targets"`},
}

// schema is the Go type a file is decoded into: a struct with a field per
// key, the sections File holds and the caller's fields, a section of them
// as a struct of its own and a value as a pointer to its file type (nil:
// not in the file). yaml's strict decoder then holds every key and value
// to it in one pass, the first problem in the file reported first.
type schema struct {
	typ reflect.Type
	// sections names each struct of the file, by its type's string, for
	// the "unknown field" message.
	sections map[string]section
	// leaves holds each field's place in typ, by path.
	leaves map[string]leaf
	n      int // struct fields made so far, for their unique names
}

type section struct {
	name string   // "load", "the top level", "a phase"
	keys []string // in the order of the message
}

type leaf struct {
	index []int        // in the top-level struct
	typ   reflect.Type // the type Value reads it into
}

// newSchema builds the schema of a file with fields. It panics when fields
// cannot describe a file: see Decode.
func newSchema(fields []Field) *schema {
	sc := &schema{sections: map[string]section{}, leaves: map[string]leaf{}}
	for _, t := range []reflect.Type{reflect.TypeFor[Phase](), reflect.TypeFor[Target]()} {
		sc.sections[t.String()] = section{"a " + strings.ToLower(t.Name()), yamlFields(t)}
	}
	sc.typ = sc.mapping("", fields, nil)
	return sc
}

// mapping returns the struct type of the section at prefix ("" for the top
// level) holding fields, their paths relative to it; index is the
// section's place in the top-level struct.
func (sc *schema) mapping(prefix string, fields []Field, index []int) reflect.Type {
	var keys []string
	byKey := map[string][]Field{}
	for _, f := range fields {
		key, _, _ := strings.Cut(f.Path, ".")
		if byKey[key] == nil {
			keys = append(keys, key)
		}
		byKey[key] = append(byKey[key], f)
	}
	var sf []reflect.StructField
	if prefix == "" {
		sf = append(sf, ownedFirst...)
	}
	for _, key := range keys {
		path := strings.TrimPrefix(prefix+"."+key, ".")
		place := append(append([]int(nil), index...), len(sf))
		var t reflect.Type
		if fs := byKey[key]; len(fs) == 1 && fs[0].Path == key {
			ft, ok := fileTypes[fs[0].Type]
			if !ok {
				panic(fmt.Sprintf("scenario: field %s: Value does not read a %v", path, fs[0].Type))
			}
			if k := ft.Kind(); k != reflect.Slice && k != reflect.Map {
				ft = reflect.PointerTo(ft)
			}
			t = ft
			sc.leaves[path] = leaf{place, fs[0].Type}
		} else {
			var inner []Field
			for _, f := range fs {
				_, rest, ok := strings.Cut(f.Path, ".")
				if !ok {
					panic(fmt.Sprintf("scenario: field %s: given twice, or as a value and as a section", path))
				}
				inner = append(inner, Field{rest, f.Type})
			}
			t = sc.mapping(path, inner, place)
		}
		// A name of its own for every field keeps two sections with the
		// same keys apart: their types, and so their messages, differ.
		sc.n++
		sf = append(sf, reflect.StructField{Name: fmt.Sprintf("F%d", sc.n), Type: t, Tag: reflect.StructTag(`yaml:"` + key + `"`)})
	}
	name := prefix
	if prefix == "" {
		for _, o := range append(ownedFirst, ownedLast...) {
			if byKey[o.Tag.Get("yaml")] != nil {
				panic(fmt.Sprintf("scenario: field %s: a section the package reads itself", o.Tag.Get("yaml")))
			}
		}
		sf, name = append(sf, ownedLast...), "the top level"
	}
	t := reflect.StructOf(sf)
	sc.sections[t.String()] = section{name, yamlFields(t)}
	return t
}

// file returns the File of the decoded value v, of type sc.typ.
func (sc *schema) file(name string, v reflect.Value) *File {
	s := &File{name: name, values: map[string]reflect.Value{}, types: map[string]reflect.Type{}}
	s.Description = v.FieldByName("Description").String()
	s.Phases = v.FieldByName("Phases").Interface().([]Phase)
	s.Thresholds = v.FieldByName("Thresholds").Interface().([]Threshold)
	s.Targets = v.FieldByName("Targets").Interface().([]Target)
	for path, l := range sc.leaves {
		s.values[path], s.types[path] = v.FieldByIndex(l.index), l.typ
	}
	return s
}

// Value sets *dst to the file's value of the field at path, when the file
// has it, and says whether it had; a null value is none. dst must point to
// the type the field was given to Decode with, which has checked the value
// already: an error is the caller's mistake.
func (s *File) Value(path string, dst any) (found bool, err error) {
	found, err = s.has(path)
	if err != nil || !found {
		return false, err
	}
	d := reflect.ValueOf(dst)
	if d.Kind() != reflect.Pointer || d.IsNil() || d.Elem().Type() != s.types[path] {
		return false, fmt.Errorf("scenario: field %s is read into a *%v, not a %T", path, s.types[path], dst)
	}
	v := s.values[path]
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	d.Elem().Set(v.Convert(d.Elem().Type()))
	return true, nil
}

// has says whether the file has a value for the field at path.
func (s *File) has(path string) (bool, error) {
	v, ok := s.values[path]
	if !ok {
		return false, fmt.Errorf("scenario: field %s was not given to Decode", path)
	}
	return !v.IsNil(), nil
}

// size returns how many entries the list or mapping at path holds; 0 when
// the file does not have it or the caller did not declare it.
func (s *File) size(path string) int {
	v, ok := s.values[path]
	if !ok || (v.Kind() != reflect.Slice && v.Kind() != reflect.Map) {
		return 0
	}
	return v.Len()
}
