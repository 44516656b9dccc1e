package avro

// The schema model: Avro Java's Schema classes as far as the registry
// needs them (parse.go builds it, write.go prints it, compat.go compares).

import "strings"

type kind uint8

const (
	kNull kind = iota
	kBoolean
	kInt
	kLong
	kFloat
	kDouble
	kBytes
	kString
	kRecord
	kEnum
	kArray
	kMap
	kUnion
	kFixed
)

var kindNames = [...]string{"null", "boolean", "int", "long", "float", "double", "bytes", "string",
	"record", "enum", "array", "map", "union", "fixed"}

// javaName is Schema.Type's enum constant name (RECORD, INT, ...), which
// SchemaCompatibility's messages print.
func (k kind) javaName() string { return strings.ToUpper(kindNames[k]) }

var primitives = map[string]kind{
	"null": kNull, "boolean": kBoolean, "int": kInt, "long": kLong, "float": kFloat,
	"double": kDouble, "bytes": kBytes, "string": kString,
}

// name is a named type's name as Avro's Schema.Name: space is "" for none.
type name struct {
	name, space string
}

func newName(n, space string) name {
	if i := strings.LastIndexByte(n, '.'); i >= 0 {
		space, n = n[:i], n[i+1:]
	}
	return name{name: n, space: space}
}

func (n name) full() string {
	if n.space == "" {
		return n.name
	}
	return n.space + "." + n.name
}

// qualified is Name.getQualified: the short name when the namespace is the
// enclosing one (and the short name is not a type name), else the full.
func (n name) qualified(ns string) string {
	if n.space != "" && n.space == ns {
		if _, prim := primitives[n.name]; !prim && !isComplexTypeName(n.name) {
			return n.name
		}
	}
	return n.full()
}

func isComplexTypeName(s string) bool {
	switch s {
	case "record", "enum", "array", "map", "union", "fixed":
		return true
	}
	return false
}

// node is one schema: a primitive, a named type, an array, map or union.
// Named types are shared: every reference to one points to the same node
// (Java's identity semantics, which the compatibility memo relies on).
type node struct {
	kind kind
	// named types
	name    name
	doc     *string
	aliases []name
	isError bool
	// record
	fields []*field
	// enum
	symbols     []string
	enumDefault *string
	// fixed
	size int
	// array, map
	items, values *node
	// union
	branches []*node
	// properties other than the reserved ones, in their written order
	// (logicalType, precision, scale and custom ones)
	props *jsonValue
	// logical is the logical type's name if it is valid for the node
	// (LogicalTypes.fromSchemaIgnoreInvalid), else "".
	logical string

	// unresolved reference, replaced after parsing
	ref string
}

type field struct {
	name    string
	typ     *node
	doc     *string
	def     *jsonValue // nil: no default
	order   string     // "ascending" (default), "descending", "ignore"
	aliases []string
	props   *jsonValue
	pos     int
}

func (n *node) isNamed() bool {
	return n.kind == kRecord || n.kind == kEnum || n.kind == kFixed
}

// fullName is Schema.getFullName: the name of a named type, else the type's
// name ("int", "array", ...).
func (n *node) fullName() string {
	if n.isNamed() {
		return n.name.full()
	}
	return kindNames[n.kind]
}

// aliasNames is Schema.getAliases: full names relative to the type's space.
func (n *node) aliasNames() []string {
	out := make([]string, 0, len(n.aliases))
	for _, a := range n.aliases {
		if a.space == "" && n.name.space != "" {
			out = append(out, "."+a.name)
		} else {
			out = append(out, a.full())
		}
	}
	return out
}

func (n *node) field(name string) *field {
	for _, f := range n.fields {
		if f.name == name {
			return f
		}
	}
	return nil
}
