// Package serde reads and writes record keys and values in Confluent's
// schema-registry wire format (magic byte 0, a 4-byte schema id, then the
// Avro, Protobuf (with message indexes) or JSON Schema payload), for the
// web console's message browser and the REST Proxy's produce.
//
// The JSON forms follow Confluent's own converters (schema-registry's
// AvroSchemaUtils, ProtobufSchemaUtils and JsonSchemaUtils, which
// kafka-rest uses):
//
//   - Avro: Avro's JSON encoding (org.apache.avro.io.JsonEncoder and
//     JsonDecoder): a union's non-null value wrapped as {"branch": value}
//     with the branch's full name, null bare; bytes and fixed as strings of
//     ISO-8859-1 characters, one per byte; NaN and infinities as strings;
//     logical types as their underlying type. Encoding reads the same
//     form, as JsonDecoder does: unions need the wrapper, every field must
//     be present (defaults are not filled in), unknown fields are refused.
//   - Protobuf: JsonFormat.printer().includingDefaultValueFields() — the
//     protojson form with lowerCamelCase JSON names and scalar fields at
//     their defaults included (protojson's EmitDefaultValues). Encoding
//     accepts protojson (either field name) into the schema's first
//     message, message index [0].
//   - JSON Schema: the JSON document itself, validated before it is sent.
//
// Schemas are fetched from the registry by id and kept parsed in a bounded
// cache (cache.go); references are fetched by subject and version.
package serde

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// Serde decodes and encodes with the schemas of one registry. Safe for
// concurrent use.
type Serde struct {
	reg   *sr.Client
	cache *schemaCache
}

// New returns a Serde over reg; nil: no registry (Decode still tells
// JSON, text and binary apart; Encode answers ErrNoRegistry).
func New(reg *sr.Client) *Serde {
	return &Serde{reg: reg, cache: newSchemaCache(maxCachedSchemas, notFoundTTL)}
}

const (
	// maxCachedSchemas bounds the parsed-schema cache.
	maxCachedSchemas = 1000
	// notFoundTTL is how long an id the registry does not know is
	// remembered as unknown (a topic full of stray 0x00 bytes would
	// otherwise ask the registry once per record).
	notFoundTTL = 10 * time.Second
	// maxReferenceDepth bounds the chain of schema references followed.
	maxReferenceDepth = 32
	// maxReferences bounds the schemas one schema pulls in by reference.
	maxReferences = 256
)

// parsedSchema is a registered schema ready to decode and encode with.
type parsedSchema struct {
	id      int
	format  Format
	subject string // one subject it is registered under, "" if unknown
	avro    *avroSchema
	proto   *protoSchema
	json    *jsonSchema
}

// Encode encodes value (the JSON form of spec.Format, see the package
// doc) with the schema spec names and frames it in the wire format. It
// returns the schema id used. Errors wrap the package's sentinels.
func (s *Serde) Encode(ctx context.Context, spec Spec, value json.RawMessage) (data []byte, schemaID int, err error) {
	if s.reg == nil {
		return nil, 0, ErrNoRegistry
	}
	switch spec.Format {
	case FormatAvro, FormatProtobuf, FormatJSONSchema:
	default:
		return nil, 0, fmt.Errorf("%w: unknown format %q", ErrInvalidSchema, spec.Format)
	}
	id, err := s.resolveSpec(ctx, spec)
	if err != nil {
		return nil, 0, err
	}
	p, err := s.schema(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if p.format != spec.Format {
		return nil, 0, fmt.Errorf("%w: schema %d is %s, not %s", ErrInvalidSchema, id, p.format, spec.Format)
	}
	out := appendHeader(make([]byte, 0, 5+len(value)), id)
	switch p.format {
	case FormatAvro:
		out, err = p.avro.encode(out, value)
	case FormatProtobuf:
		out, err = p.proto.encode(out, value)
	case FormatJSONSchema:
		out, err = p.json.encode(out, value)
	}
	if err != nil {
		return nil, 0, err
	}
	return out, id, nil
}

// resolveSpec returns the id of the schema spec names, registering
// spec.Schema under spec.Subject when it is not registered yet.
func (s *Serde) resolveSpec(ctx context.Context, spec Spec) (int, error) {
	switch {
	case spec.ID > 0:
		return spec.ID, nil
	case spec.Schema != "":
		if spec.Subject == "" {
			return 0, fmt.Errorf("%w: a schema given as text needs a subject to be registered under", ErrInvalidSchema)
		}
		sch := sr.Schema{Schema: spec.Schema, Type: srType(spec.Format)}
		for _, r := range spec.References {
			sch.References = append(sch.References, sr.SchemaReference{Name: r.Name, Subject: r.Subject, Version: r.Version})
		}
		got, err := s.reg.LookupSchema(ctx, spec.Subject, sch)
		if err == nil {
			return got.ID, nil
		}
		var re *sr.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound {
			return 0, registryError(err)
		}
		created, err := s.reg.CreateSchema(ctx, spec.Subject, sch)
		if err != nil {
			return 0, registryError(err)
		}
		return created.ID, nil
	case spec.Subject != "":
		version := spec.Version
		if version <= 0 {
			version = -1
		}
		got, err := s.reg.SchemaByVersion(ctx, spec.Subject, version)
		if err != nil {
			return 0, registryError(err)
		}
		return got.ID, nil
	}
	return 0, fmt.Errorf("%w: no schema id, subject or schema given", ErrSchemaNotFound)
}

func srType(f Format) sr.SchemaType {
	switch f {
	case FormatProtobuf:
		return sr.TypeProtobuf
	case FormatJSONSchema:
		return sr.TypeJSON
	}
	return sr.TypeAvro
}

// registryError maps a registry answer to the package's sentinels
// (Confluent's error codes: 40401 subject, 40402 version, 40403 schema
// not found; 409 incompatible; 422 invalid schema).
func registryError(err error) error {
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		return fmt.Errorf("serde: schema registry: %w", err)
	}
	switch {
	case re.ErrorCode == 40401:
		return fmt.Errorf("%w: %s", ErrSubjectNotFound, re.Message)
	case re.ErrorCode == 40402, re.ErrorCode == 40403, re.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %s", ErrSchemaNotFound, re.Message)
	case re.StatusCode == http.StatusConflict:
		return fmt.Errorf("%w: %s", ErrIncompatible, re.Message)
	case re.StatusCode == http.StatusUnprocessableEntity:
		return fmt.Errorf("%w: %s", ErrInvalidSchema, re.Message)
	}
	return fmt.Errorf("serde: schema registry: %w", err)
}

// schema returns the parsed schema with id, from the cache or the
// registry.
func (s *Serde) schema(ctx context.Context, id int) (*parsedSchema, error) {
	if p, err, ok := s.cache.get(id); ok {
		return p, err
	}
	p, err := s.load(ctx, id)
	if err != nil {
		if errors.Is(err, ErrSchemaNotFound) {
			s.cache.putNotFound(id, err)
		}
		return nil, err
	}
	s.cache.put(id, p)
	return p, nil
}

func (s *Serde) load(ctx context.Context, id int) (*parsedSchema, error) {
	sch, err := s.reg.SchemaByID(ctx, id)
	if err != nil {
		return nil, registryError(err)
	}
	p := &parsedSchema{id: id}
	switch sch.Type {
	case sr.TypeAvro:
		p.format = FormatAvro
		p.avro, err = s.parseAvro(ctx, sch)
	case sr.TypeProtobuf:
		p.format = FormatProtobuf
		p.proto, err = s.parseProtobuf(ctx, sch)
	case sr.TypeJSON:
		p.format = FormatJSONSchema
		p.json, err = s.parseJSONSchema(ctx, sch)
	default:
		return nil, fmt.Errorf("%w: schema %d has unknown type %v", ErrInvalidSchema, id, sch.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	// One subject the schema is registered under, for display; not worth
	// failing over.
	if subjects, err := s.reg.SubjectsByID(ctx, id); err == nil && len(subjects) > 0 {
		p.subject = subjects[0]
	}
	return p, nil
}

// reference is a referenced schema's text, fetched from the registry.
type reference struct {
	name   string
	schema sr.Schema
}

// references fetches the schemas refs name and, depth first, the ones they
// reference, each once, dependencies before their dependents.
func (s *Serde) references(ctx context.Context, refs []sr.SchemaReference) ([]reference, error) {
	var out []reference
	seen := map[string]bool{}
	var walk func(refs []sr.SchemaReference, depth int) error
	walk = func(refs []sr.SchemaReference, depth int) error {
		if depth > maxReferenceDepth {
			return fmt.Errorf("%w: references nest deeper than %d", ErrInvalidSchema, maxReferenceDepth)
		}
		for _, r := range refs {
			key := fmt.Sprintf("%s\x00%s\x00%d", r.Name, r.Subject, r.Version)
			if seen[key] {
				continue
			}
			seen[key] = true
			if len(seen) > maxReferences {
				return fmt.Errorf("%w: more than %d references", ErrInvalidSchema, maxReferences)
			}
			got, err := s.reg.SchemaByVersion(ctx, r.Subject, r.Version)
			if err != nil {
				return fmt.Errorf("reference %q (%s version %d): %w", r.Name, r.Subject, r.Version, registryError(err))
			}
			if err := walk(got.References, depth+1); err != nil {
				return err
			}
			out = append(out, reference{name: r.Name, schema: got.Schema})
		}
		return nil
	}
	if err := walk(refs, 0); err != nil {
		return nil, err
	}
	return out, nil
}
