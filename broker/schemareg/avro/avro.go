// Package avro is the schema registry's Avro checker (schema.Format),
// following Confluent Schema Registry's AvroSchemaProvider and AvroSchema
// over Avro Java 1.12:
//
//   - Parse validates as Avro's Schema.Parser does for a new schema
//     (strict names, validated defaults, references' named types usable by
//     full name) — model.go;
//   - Canonical is Schema.toString(references, false), the compact JSON
//     Confluent stores; Normalized is Confluent's normalize() — write.go;
//   - CanRead is Avro's SchemaCompatibility reader/writer check with
//     Confluent's Difference messages — compat.go.
//
// The parser and checker are written here rather than taken from
// github.com/hamba/avro: hamba's parser rejects union defaults that match a
// non-first branch (Avro 1.12 accepts them), accepts 1.5 as an int default,
// keeps properties in a map (their order is part of the stored form); its
// compatibility check ignores the reader's enum default, memoizes by
// fingerprint rather than by node, and stops at the first problem without
// a location or an error type, which Confluent's messages are made of.
//
// Known differences from Confluent (Avro Java 1.12):
//   - JSON syntax errors are Go's decoder's, not Jackson's;
//   - a forward-referenced type's field default is validated once the type
//     is known (Java 1.12 validates it against an unresolved placeholder);
//   - normalize turns an integral default into a double only for a plain
//     float/double field, not for a float/double branch of a union;
//   - names with characters outside the BMP pass the UTF validator (Java
//     checks each UTF-16 half).
package avro

import (
	"fmt"
	"strings"

	"github.com/moldau/moldau/broker/schemareg/schema"
)

// New returns the Avro format.
func New() schema.Format { return format{} }

type format struct{}

func (format) Type() string { return schema.Avro }

// invalidError is a parse failure: its text is ErrInvalid's followed by
// Avro's message; the registry puts the message into Confluent's sentence
// ("Invalid schema <schema> with refs <refs> of type AVRO, details: ...").
type invalidError struct {
	detail string
}

func (e *invalidError) Error() string { return schema.ErrInvalid.Error() + ": " + e.detail }

func (e *invalidError) Unwrap() error { return schema.ErrInvalid }

// Parse parses s with the named types of refs (dependencies first) known,
// as Confluent parses a schema being registered (validateAsNew: strict
// names, validated defaults).
func (format) Parse(s string, refs []schema.Resolved) (schema.Parsed, error) {
	return parse(s, refs, false)
}

// ParseExisting parses an already registered schema as Confluent does
// (validateAsNew=false): defaults are not validated, namespaces not
// checked, and names only with Avro's UTF validator (letters of any
// script), so a schema that an older or more lenient registry stored in
// _schemas still loads. The registry may use it for versions it reads
// back: interface{ ParseExisting(string, []schema.Resolved) (schema.Parsed, error) }.
func (format) ParseExisting(s string, refs []schema.Resolved) (schema.Parsed, error) {
	return parse(s, refs, true)
}

func newParseContext(lenient bool) *context {
	ctx := newContext()
	if lenient {
		ctx.lenient = true
		ctx.validator = noName
	}
	return ctx
}

func parse(s string, refs []schema.Resolved, lenient bool) (schema.Parsed, error) {
	ctx := newParseContext(lenient)
	known := map[string]bool{}
	for _, r := range refs {
		if r.Type != "" && r.Type != schema.Avro {
			return nil, &invalidError{detail: fmt.Sprintf("reference %s is of type %s, not AVRO", r.Name, r.Type)}
		}
		n, err := ctx.parseSchema(r.Schema)
		if err != nil {
			return nil, &invalidError{detail: fmt.Sprintf("reference %s: %v", r.Name, err)}
		}
		if n.isNamed() {
			known[n.name.full()] = true
		}
	}
	refTypes := make(map[string]*node, len(ctx.names))
	for k, v := range ctx.names {
		refTypes[k] = v
	}
	root, err := ctx.parseSchema(s)
	if err == nil && lenient {
		err = checkMainNames(root)
	}
	if err == nil {
		if msg := linkedDepthError(root); msg != "" {
			return nil, &invalidError{detail: msg}
		}
	}
	if err != nil {
		return nil, &invalidError{detail: err.Error()}
	}
	p := &parsed{root: root, canonical: toJSON(root, known)}
	// Confluent's normalize() parses its normalized text again (with the
	// same references) and stores that schema's toString.
	nctx := newParseContext(lenient)
	nctx.names = refTypes
	again, err := nctx.parseSchema(normalizedJSON(root, known))
	if err != nil {
		return nil, &invalidError{detail: "normalizing: " + err.Error()}
	}
	p.normalized = toJSON(again, known)
	return p, nil
}

type parsed struct {
	root       *node
	canonical  string
	normalized string
}

func (p *parsed) Canonical() string  { return p.canonical }
func (p *parsed) Normalized() string { return p.normalized }

// Formatted is Confluent's AvroSchema.formattedString, the ?format= of
// schema reads: "resolved" is the schema with its references' types
// inlined (Schema.toString()); anything else is the stored form.
func (p *parsed) Formatted(format string) string {
	if strings.EqualFold(strings.TrimSpace(format), "resolved") {
		return toJSON(p.root, nil)
	}
	return p.canonical
}

// CanRead is Confluent's AvroSchema.isBackwardCompatible with this schema
// as the reader: one Difference message per incompatibility, whose two %s
// verbs are the reader's and the writer's labels (see schema.Parsed).
func (p *parsed) CanRead(writer schema.Parsed) (msgs []string) {
	w, ok := writer.(*parsed)
	if !ok {
		return []string{"Incompatible because of different schema type"}
	}
	defer func() {
		if r := recover(); r != nil {
			a, ok := r.(ambiguousField)
			if !ok {
				panic(r)
			}
			msgs = []string{"Unexpected exception during compatibility check: " + a.msg}
		}
	}()
	for _, in := range checkCompatibility(p.root, w.root) {
		msgs = append(msgs, in.confluent())
	}
	return msgs
}
