package avro

// Writing schemas back as JSON: Avro Java's Schema.toString (what Confluent
// stores, canonicalString()) and Confluent's AvroSchemaUtils
// toNormalizedString (what normalize=true registers, after parsing it again).

import (
	"bytes"
	"sort"
	"strconv"
)

// toJSON is Schema.toString(referencedSchemas, false): known holds the full
// names written as a name rather than a definition (the references' types);
// each named type is defined at its first use and named afterwards.
func toJSON(n *node, known map[string]bool) string {
	seen := map[string]bool{}
	for k := range known {
		seen[k] = true
	}
	var b bytes.Buffer
	writeSchema(&b, n, seen, "")
	return b.String()
}

func writeSchema(b *bytes.Buffer, n *node, known map[string]bool, ns string) {
	if n.ref != "" { // only while reporting a parse error
		writeJSONString(b, n.ref)
		return
	}
	switch n.kind {
	case kRecord, kEnum, kFixed:
		full := n.name.full()
		if known[full] {
			writeJSONString(b, n.name.qualified(ns))
			return
		}
		known[full] = true
		b.WriteString(`{"type":`)
		switch {
		case n.kind == kRecord && n.isError:
			b.WriteString(`"error"`)
		default:
			writeJSONString(b, kindNames[n.kind])
		}
		b.WriteString(`,"name":`)
		writeJSONString(b, n.name.name)
		if n.name.space != ns {
			b.WriteString(`,"namespace":`)
			writeJSONString(b, n.name.space)
		}
		if n.doc != nil {
			b.WriteString(`,"doc":`)
			writeJSONString(b, *n.doc)
		}
		switch n.kind {
		case kRecord:
			b.WriteString(`,"fields":[`)
			for i, f := range n.fields {
				if i > 0 {
					b.WriteByte(',')
				}
				writeField(b, f, known, n.name.space)
			}
			b.WriteByte(']')
		case kEnum:
			b.WriteString(`,"symbols":[`)
			for i, s := range n.symbols {
				if i > 0 {
					b.WriteByte(',')
				}
				writeJSONString(b, s)
			}
			b.WriteByte(']')
			if n.enumDefault != nil {
				b.WriteString(`,"default":`)
				writeJSONString(b, *n.enumDefault)
			}
		case kFixed:
			b.WriteString(`,"size":`)
			b.WriteString(strconv.Itoa(n.size))
		}
		writeProps(b, n.props)
		if len(n.aliases) > 0 {
			b.WriteString(`,"aliases":[`)
			for i, a := range n.aliases {
				if i > 0 {
					b.WriteByte(',')
				}
				writeJSONString(b, a.qualified(n.name.space))
			}
			b.WriteByte(']')
		}
		b.WriteByte('}')
	case kArray:
		b.WriteString(`{"type":"array","items":`)
		writeSchema(b, n.items, known, ns)
		writeProps(b, n.props)
		b.WriteByte('}')
	case kMap:
		b.WriteString(`{"type":"map","values":`)
		writeSchema(b, n.values, known, ns)
		writeProps(b, n.props)
		b.WriteByte('}')
	case kUnion:
		b.WriteByte('[')
		for i, br := range n.branches {
			if i > 0 {
				b.WriteByte(',')
			}
			writeSchema(b, br, known, ns)
		}
		b.WriteByte(']')
	default: // primitives
		if n.props == nil {
			writeJSONString(b, kindNames[n.kind])
			return
		}
		b.WriteString(`{"type":`)
		writeJSONString(b, kindNames[n.kind])
		writeProps(b, n.props)
		b.WriteByte('}')
	}
}

func writeField(b *bytes.Buffer, f *field, known map[string]bool, ns string) {
	b.WriteString(`{"name":`)
	writeJSONString(b, f.name)
	b.WriteString(`,"type":`)
	writeSchema(b, f.typ, known, ns)
	if f.doc != nil {
		b.WriteString(`,"doc":`)
		writeJSONString(b, *f.doc)
	}
	if f.def != nil {
		b.WriteString(`,"default":`)
		f.def.write(b)
	}
	if f.order != "ascending" {
		b.WriteString(`,"order":`)
		writeJSONString(b, f.order)
	}
	if len(f.aliases) > 0 {
		b.WriteString(`,"aliases":[`)
		for i, a := range f.aliases {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, a)
		}
		b.WriteByte(']')
	}
	writeProps(b, f.props)
	b.WriteByte('}')
}

func writeProps(b *bytes.Buffer, props *jsonValue) {
	if props == nil {
		return
	}
	for _, k := range props.keys {
		b.WriteByte(',')
		writeJSONString(b, k)
		b.WriteByte(':')
		props.values[k].write(b)
	}
}

// normalizedJSON is Confluent's AvroSchemaUtils.toNormalizedString: full
// names everywhere, the logical type's parameters first, other properties
// sorted by key, aliases sorted. The registry parses the result again and
// stores its toString (see parsed.Normalized).
func normalizedJSON(n *node, known map[string]bool) string {
	env := map[string]bool{}
	for k := range known {
		env[k] = true
	}
	var b bytes.Buffer
	writeNormalized(&b, n, env)
	return b.String()
}

func writeNormalized(b *bytes.Buffer, n *node, env map[string]bool) {
	switch n.kind {
	case kUnion:
		b.WriteByte('[')
		for i, br := range n.branches {
			if i > 0 {
				b.WriteByte(',')
			}
			writeNormalized(b, br, env)
		}
		b.WriteByte(']')
	case kArray, kMap:
		b.WriteString(`{"type":`)
		writeJSONString(b, kindNames[n.kind])
		if n.kind == kArray {
			b.WriteString(`,"items":`)
			writeNormalized(b, n.items, env)
		} else {
			b.WriteString(`,"values":`)
			writeNormalized(b, n.values, env)
		}
		writeLogicalProps(b, n)
		writeSortedProps(b, n.props)
		b.WriteByte('}')
	case kRecord, kEnum, kFixed:
		full := n.name.full()
		if env[full] {
			writeJSONString(b, full)
			return
		}
		env[full] = true
		b.WriteString(`{"name":`)
		writeJSONString(b, full)
		b.WriteString(`,"type":`)
		writeJSONString(b, kindNames[n.kind])
		switch n.kind {
		case kEnum:
			b.WriteString(`,"symbols":[`)
			for i, s := range n.symbols {
				if i > 0 {
					b.WriteByte(',')
				}
				writeJSONString(b, s)
			}
			b.WriteByte(']')
		case kFixed:
			b.WriteString(`,"size":` + strconv.Itoa(n.size))
		case kRecord:
			b.WriteString(`,"fields":[`)
			for i, f := range n.fields {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(`{"name":`)
				writeJSONString(b, f.name)
				b.WriteString(`,"type":`)
				writeNormalized(b, f.typ, env)
				b.WriteString(`,"order":`)
				writeJSONString(b, f.order)
				if f.doc != nil {
					b.WriteString(`,"doc":`)
					writeJSONString(b, *f.doc)
				}
				if len(f.aliases) > 0 {
					b.WriteString(`,"aliases":`)
					writeSortedStrings(b, f.aliases)
				}
				if f.def != nil {
					b.WriteString(`,"default":`)
					normalizedDefault(f).write(b)
				}
				writeSortedProps(b, f.props)
				b.WriteByte('}')
			}
			b.WriteByte(']')
		}
		writeLogicalProps(b, n)
		if n.doc != nil && *n.doc != "" {
			b.WriteString(`,"doc":`)
			writeJSONString(b, *n.doc)
		}
		if len(n.aliases) > 0 {
			b.WriteString(`,"aliases":`)
			writeSortedStrings(b, n.aliasNames())
		}
		if n.kind == kEnum && n.enumDefault != nil {
			b.WriteString(`,"default":`)
			writeJSONString(b, *n.enumDefault)
		}
		writeSortedProps(b, n.props)
		b.WriteByte('}')
	default:
		if n.logical == "" && n.props == nil {
			writeJSONString(b, kindNames[n.kind])
			return
		}
		b.WriteString(`{"type":`)
		writeJSONString(b, kindNames[n.kind])
		writeLogicalProps(b, n)
		writeSortedProps(b, n.props)
		b.WriteByte('}')
	}
}

// normalizedDefault is Field.defaultVal() written back: a float or double
// field's integral default becomes a double (1 -> 1.0).
func normalizedDefault(f *field) *jsonValue {
	d := f.def
	if (f.typ.kind == kFloat || f.typ.kind == kDouble) && d.kind == jsonNumber && d.isInt {
		x, err := strconv.ParseFloat(d.num, 64)
		if err == nil {
			return jsonFloat(x)
		}
	}
	return d
}

func writeLogicalProps(b *bytes.Buffer, n *node) {
	if n.logical == "" {
		return
	}
	b.WriteString(`,"logicalType":`)
	writeJSONString(b, n.logical)
	if n.logical == "decimal" {
		p, s, _ := decimalParams(n)
		b.WriteString(`,"precision":` + strconv.Itoa(p))
		if s != 0 {
			b.WriteString(`,"scale":` + strconv.Itoa(s))
		}
	}
}

func writeSortedProps(b *bytes.Buffer, props *jsonValue) {
	if props == nil {
		return
	}
	keys := append([]string(nil), props.keys...)
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteByte(',')
		writeJSONString(b, k)
		b.WriteByte(':')
		props.values[k].write(b)
	}
}

func writeSortedStrings(b *bytes.Buffer, ss []string) {
	sorted := append([]string(nil), ss...)
	sort.Strings(sorted)
	b.WriteByte('[')
	for i, s := range sorted {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(b, s)
	}
	b.WriteByte(']')
}
