// Package schema is the contract between the schema registry
// (broker/schemareg) and its per-format checkers (broker/schemareg/avro,
// .../protobuf, .../jsonschema). It imports nothing of Moldau's, so the
// checkers depend only on it and the registry depends on them.
//
// A Format parses a schema text (with the texts of the schemas it
// references) into a Parsed; two Parsed values of one format are compared
// by the registry as Confluent's CompatibilityChecker does:
//
//	BACKWARD:  new.CanRead(old)      (consumers on the new schema read old data)
//	FORWARD:   old.CanRead(new)      (consumers on the old schema read new data)
//	FULL:      both
//	*_TRANSITIVE: against every earlier (non-deleted) version, not only the latest.
//
// All methods are safe for concurrent use; a Parsed is immutable.
package schema

import (
	"errors"
	"strings"
)

// Type names, as Confluent's schemaType field spells them. An empty
// schemaType in a request means AVRO.
const (
	Avro     = "AVRO"
	Protobuf = "PROTOBUF"
	JSON     = "JSON"
)

// ErrInvalid wraps every parse failure (the registry answers 422 with
// error_code 42201 and the error's text as message).
var ErrInvalid = errors.New("schema: invalid schema")

// Resolved is one referenced schema with its text: Name is the reference's
// name as the referencing schema uses it (Avro: the full name of a named
// type it defines; Protobuf: the import path, e.g. "other.proto"; JSON
// Schema: the $ref URL). The registry resolves references transitively and
// passes them dependencies first.
type Resolved struct {
	Name   string
	Type   string // the referenced schema's format; normally the same
	Schema string
}

// Format is one schema format's parser.
type Format interface {
	// Type is Avro, Protobuf or JSON.
	Type() string
	// Parse validates schema against Confluent's rules for the format.
	// Errors wrap ErrInvalid and say what is wrong, as Confluent's do.
	Parse(schema string, refs []Resolved) (Parsed, error)
}

// Parsed is a parsed schema.
type Parsed interface {
	// Canonical is the form the registry stores and returns, and compares
	// for "is this schema already registered" (Confluent's
	// canonicalString(): Avro's Schema.toString(), the formatted .proto,
	// JSON re-serialized compactly).
	Canonical() string
	// Normalized is the form used when a request has normalize=true
	// (Confluent's normalize(): e.g. Avro's properties in a fixed order,
	// Protobuf's fully qualified type names and sorted options, JSON's
	// keys sorted). Idempotent: parsing Normalized() again gives itself.
	Normalized() string
	// CanRead reports why a reader holding this schema cannot read data
	// written with writer (same Format): one message per incompatibility,
	// in Confluent's wording where Confluent has one (its messages are
	// the "messages" of /compatibility?verbose=true and the details of a
	// 409); nil or empty when compatible. Like Confluent's, a message may
	// name the two schemas by role with up to two %s verbs (reader's label
	// first, writer's second); the registry fills them with Label.
	CanRead(writer Parsed) []string
}

// Label fills a CanRead message's role verbs as Confluent's
// SchemaValidatorBuilder does: the first %s becomes the reader's label, the
// second the writer's. Confluent's labels are "new" and "old", so BACKWARD
// (new.CanRead(old)) uses Label(m, "new", "old") and FORWARD
// (old.CanRead(new)) Label(m, "old", "new"). A message without verbs is
// returned unchanged.
func Label(msg, reader, writer string) string {
	msg = strings.Replace(msg, "%s", reader, 1)
	return strings.Replace(msg, "%s", writer, 1)
}
