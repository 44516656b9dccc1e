package serde

import (
	"encoding/json"
	"errors"
)

// Format is a schema-registry-backed payload format, named as Confluent's
// REST Proxy names them in a v3 produce request's "type".
type Format string

const (
	FormatAvro       Format = "AVRO"
	FormatProtobuf   Format = "PROTOBUF"
	FormatJSONSchema Format = "JSONSCHEMA"
)

// Spec names the schema a value is encoded with (REST Proxy produce).
// Exactly one way: ID; or Subject with Version (0 or -1: the latest); or
// Schema, the schema's text (with References), registered under Subject
// (required then) when not registered yet, as Confluent's serializers'
// auto-register does.
type Spec struct {
	Format     Format
	ID         int
	Subject    string
	Version    int
	Schema     string
	References []Reference
}

// Reference is a schema reference (Confluent's name/subject/version).
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// Decoded is a record key or value made readable (the console's message
// browser).
type Decoded struct {
	// Format: "null" (no bytes), "avro", "protobuf", "jsonschema" (framed
	// with a registered schema id), "json" (valid JSON), "string" (valid
	// UTF-8) or "binary".
	Format   string `json:"format"`
	SchemaID int    `json:"schema_id,omitempty"`
	// Subject is a subject the schema is registered under, when known.
	Subject string `json:"subject,omitempty"`
	// Value is the value as JSON: the document for json and the schema
	// formats (Avro in Avro's JSON encoding, Protobuf in protojson), a JSON
	// string for string, the base64 text as a JSON string for binary, null
	// for null.
	Value json.RawMessage `json:"value"`
	// Error says why framed bytes could not be decoded (unknown schema id,
	// bytes not matching the schema); Format is then "binary".
	Error string `json:"error,omitempty"`
	// Size is the payload's length in bytes.
	Size int `json:"size"`
}

var (
	// ErrNoRegistry: a schema format was asked for while the schema
	// registry is off.
	ErrNoRegistry = errors.New("serde: no schema registry")
	// ErrSchemaNotFound: no schema with that id, or no such version.
	ErrSchemaNotFound = errors.New("serde: schema not found")
	// ErrSubjectNotFound: no such subject.
	ErrSubjectNotFound = errors.New("serde: subject not found")
	// ErrInvalidSchema: the given schema text does not parse.
	ErrInvalidSchema = errors.New("serde: invalid schema")
	// ErrInvalidData: the value does not match the schema (or is not the
	// JSON form the format expects).
	ErrInvalidData = errors.New("serde: data does not match the schema")
	// ErrIncompatible: registering the given schema was refused as
	// incompatible (HTTP 409 from the registry).
	ErrIncompatible = errors.New("serde: schema incompatible with the subject")
)
