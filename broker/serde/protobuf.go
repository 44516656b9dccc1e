package serde

// Protobuf: the schema text and its references (each under its reference
// name, which is its import path) are compiled with protocompile into
// descriptors; values are dynamicpb messages, printed and read with
// protojson. Google's google/protobuf/*.proto and Confluent's own
// confluent/meta.proto and confluent/type/decimal.proto resolve without
// being registered, as they do in Confluent's registry.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/bufbuild/protocompile"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// maxProtoDepth bounds message nesting when reading binary or JSON.
const maxProtoDepth = 100

// protoRoot is the in-memory file name of the schema being compiled; its
// references are compiled under their names.
const protoRoot = "__moldau_serde_schema__.proto"

// protoBuiltin are the imports Confluent resolves without registration
// beyond Google's well-known types (same packages, names and numbers as
// Confluent's protobuf-types).
var protoBuiltin = map[string]string{
	"confluent/meta.proto": `syntax = "proto3";
package confluent;
import "google/protobuf/descriptor.proto";
option java_package = "io.confluent.protobuf";
option java_outer_classname = "MetaProto";
message Meta {
  string doc = 1;
  map<string, string> params = 2;
  repeated string tags = 3;
  repeated Rule rules = 4;
}
message Rule {
  string name = 1;
  string doc = 2;
  string expr = 3;
  string sql = 4;
}
extend google.protobuf.FileOptions { Meta file_meta = 1088; }
extend google.protobuf.MessageOptions { Meta message_meta = 1088; }
extend google.protobuf.FieldOptions { Meta field_meta = 1088; }
extend google.protobuf.EnumOptions { Meta enum_meta = 1088; }
extend google.protobuf.EnumValueOptions { Meta enum_value_meta = 1088; }
`,
	"confluent/type/decimal.proto": `syntax = "proto3";
package confluent.type;
option java_package = "io.confluent.protobuf.type";
option java_multiple_files = true;
option java_outer_classname = "DecimalProto";
message Decimal {
  bytes value = 1;
  uint32 precision = 2;
  int32 scale = 3;
}
`,
}

type protoSchema struct {
	file protoreflect.FileDescriptor
	// types resolves the file's and its imports' messages and extensions
	// (google.protobuf.Any, extensions).
	types *dynamicpb.Types
}

func (s *Serde) parseProtobuf(ctx context.Context, sch sr.Schema) (*protoSchema, error) {
	refs, err := s.references(ctx, sch.References)
	if err != nil {
		return nil, err
	}
	srcs := make(map[string]string, len(refs)+len(protoBuiltin)+1)
	for name, text := range protoBuiltin {
		srcs[name] = text
	}
	for _, r := range refs {
		if r.schema.Type != sr.TypeProtobuf {
			return nil, fmt.Errorf("%w: reference %q is %v, not PROTOBUF", ErrInvalidSchema, r.name, r.schema.Type)
		}
		srcs[r.name] = r.schema.Schema
	}
	srcs[protoRoot] = sch.Schema
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: protocompile.SourceAccessorFromMap(srcs),
		}),
	}
	files, err := c.Compile(ctx, protoRoot)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	file := files[0]
	reg := new(protoregistry.Files)
	if err := registerFile(reg, file, map[string]bool{}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	return &protoSchema{file: file, types: dynamicpb.NewTypes(reg)}, nil
}

// registerFile adds f and, first, its imports to reg.
func registerFile(reg *protoregistry.Files, f protoreflect.FileDescriptor, done map[string]bool) error {
	if done[f.Path()] {
		return nil
	}
	done[f.Path()] = true
	imports := f.Imports()
	for i := range imports.Len() {
		if err := registerFile(reg, imports.Get(i).FileDescriptor, done); err != nil {
			return err
		}
	}
	return reg.RegisterFile(f)
}

// message returns the message descriptor the indexes name. As in
// Confluent's ProtobufSchema (which counts the messages of the parsed
// .proto text), the synthetic map entry messages do not count.
func (p *protoSchema) message(indexes []int) (protoreflect.MessageDescriptor, error) {
	var md protoreflect.MessageDescriptor
	msgs := p.file.Messages()
	for _, want := range indexes {
		md = nil
		for i, n := 0, 0; i < msgs.Len(); i++ {
			m := msgs.Get(i)
			if m.IsMapEntry() {
				continue
			}
			if n == want {
				md = m
				break
			}
			n++
		}
		if md == nil {
			return nil, fmt.Errorf("%w: message index %v names no message of the schema", ErrInvalidData, indexes)
		}
		msgs = md.Messages()
	}
	if md == nil {
		return nil, fmt.Errorf("%w: empty message index", ErrInvalidData)
	}
	return md, nil
}

// decode reads a payload (message indexes, then the message) and returns
// it as Confluent's ProtobufSchemaUtils.toJson prints it.
func (p *protoSchema) decode(payload []byte) (json.RawMessage, error) {
	indexes, rest, err := readMessageIndexes(payload)
	if err != nil {
		return nil, err
	}
	md, err := p.message(indexes)
	if err != nil {
		return nil, err
	}
	msg := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{RecursionLimit: maxProtoDepth, Resolver: p.types}).Unmarshal(rest, msg); err != nil {
		return nil, fmt.Errorf("%w: protobuf %s: %v", ErrInvalidData, md.FullName(), err)
	}
	out, err := protojson.MarshalOptions{EmitDefaultValues: true, Resolver: p.types}.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("%w: protobuf %s: %v", ErrInvalidData, md.FullName(), err)
	}
	// protojson varies its whitespace on purpose; make it stable.
	var buf bytes.Buffer
	if err := json.Compact(&buf, out); err != nil {
		return nil, fmt.Errorf("%w: protobuf %s: %v", ErrInvalidData, md.FullName(), err)
	}
	return buf.Bytes(), nil
}

// encode reads value as protojson into the schema's first message and
// appends its message index ([0]) and binary encoding to out.
func (p *protoSchema) encode(out []byte, value json.RawMessage) ([]byte, error) {
	md, err := p.message([]int{0})
	if err != nil {
		return nil, fmt.Errorf("%w: the schema has no message", ErrInvalidSchema)
	}
	msg := dynamicpb.NewMessage(md)
	opts := protojson.UnmarshalOptions{Resolver: p.types, RecursionLimit: maxProtoDepth}
	if err := opts.Unmarshal(value, msg); err != nil {
		return nil, fmt.Errorf("%w: protobuf %s: %v", ErrInvalidData, md.FullName(), err)
	}
	out = appendMessageIndexes(out, []int{0})
	// Deterministic: fields by number, map entries by key, as Java writes
	// them (dynamicpb's own order is random).
	out, err = proto.MarshalOptions{Deterministic: true}.MarshalAppend(out, msg)
	if err != nil {
		return nil, fmt.Errorf("%w: protobuf %s: %v", ErrInvalidData, md.FullName(), err)
	}
	return out, nil
}
