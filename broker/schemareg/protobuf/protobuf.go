// Package protobuf is the schema registry's Protobuf checker (schema.Format),
// following Confluent Schema Registry's protobuf-provider.
//
// Parsing and type resolution use github.com/bufbuild/protocompile (a full
// protoc-compatible compiler: it rejects unresolvable types, duplicate
// field numbers, bad ranges and so on, as Confluent's strict validation
// does). The schema is compiled in memory: the schema itself, each
// schema.Resolved under its Name as an import path, Google's well-known
// google/protobuf/*.proto, and Confluent's confluent/meta.proto and
// confluent/type/decimal.proto (which Confluent resolves without them being
// registered).
//
// Canonical() is Confluent's ProtobufSchema.canonicalString(): its own
// printing of the parsed file (see format.go). Normalized() is its
// normalize() (fully qualified type names, sorted fields, options, imports
// and reserved ranges). CanRead is Confluent's SchemaDiff (see diff.go).
//
// Messages returned by CanRead are Confluent's Difference.toString() and,
// like Confluent's, keep two %s verbs: the first names the reader's role and
// the second the writer's. Confluent's registry fills them in
// (SchemaValidatorBuilder.formatErrorMessages) with "new","old" when the new
// schema reads (BACKWARD) and "old","new" when the old one does (FORWARD);
// the registry here does the same with fmt.Sprintf.
package protobuf

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/ast"
	"github.com/bufbuild/protocompile/linker"
	"github.com/bufbuild/protocompile/parser"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/moldau/moldau/broker/schemareg/schema"
)

// New returns the Protobuf format.
func New() schema.Format { return format{} }

type format struct{}

func (format) Type() string { return schema.Protobuf }

// rootPath is the in-memory file name of the schema being parsed; it is
// chosen so that it cannot clash with a reference's import path.
const rootPath = "__moldau_schema__.proto"

// builtin are the imports Confluent resolves without registration, beyond
// protocompile's standard google/protobuf/*.proto. The definitions follow
// Confluent's protobuf-types (same packages, names and field numbers).
var builtin = map[string]string{
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

// Parse compiles s (with refs as its imports) and keeps both the syntax
// tree (for Canonical/Normalized, which print the file as written) and the
// linked descriptors (for type resolution in CanRead).
//
// A panic inside protocompile is a schema it cannot handle, reported as an
// invalid schema: its lexer, called directly by fromDescriptor's probe,
// panicked on a string literal holding a backslash before invalid UTF-8
// (FuzzParse, protocompile v0.14.1, the newest the module proxy serves).
func (f format) Parse(s string, refs []schema.Resolved) (p schema.Parsed, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("%w: Could not parse Protobuf - %v", schema.ErrInvalid, r)
		}
	}()
	return f.parse(s, refs)
}

func (format) parse(s string, refs []schema.Resolved) (schema.Parsed, error) {
	srcs := make(map[string]string, len(refs)+len(builtin)+1)
	for name, text := range builtin {
		srcs[name] = text
	}
	refText := make(map[string]string, len(refs))
	statements := 0 // declarations of s and refs, bounded by maxStatements
	for _, r := range refs {
		if r.Type != "" && r.Type != schema.Protobuf {
			return nil, fmt.Errorf("%w: reference %q is of type %s, not %s", schema.ErrInvalid, r.Name, r.Type, schema.Protobuf)
		}
		text, tooBig := fromDescriptor(r.Schema)
		if tooBig == "" {
			tooBig = scanLimits(text, &statements)
		}
		if tooBig != "" {
			return nil, fmt.Errorf("%w: Could not parse Protobuf - reference %s: %s", schema.ErrInvalid, r.Name, tooBig)
		}
		srcs[r.Name] = text
		refText[r.Name] = text
	}
	s, tooBig := fromDescriptor(s)
	if tooBig == "" {
		tooBig = scanLimits(s, &statements)
	}
	if tooBig != "" {
		return nil, fmt.Errorf("%w: Could not parse Protobuf - %s", schema.ErrInvalid, tooBig)
	}
	srcs[rootPath] = s

	resolver := protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(srcs),
	})
	res, err := compileStrict(resolver)
	if err != nil {
		// Confluent checks only syntax and type resolution unless
		// schema.validate.fields is on: accept what links even if protoc's
		// further checks (reserved numbers in use, proto3 enums starting
		// at zero, option types) fail, but report the strict error when
		// it does not link either.
		if lenient, lerr := compileLenient(resolver, s); lerr == nil {
			res, err = lenient, nil
		}
	}
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), rootPath+":", "")
		return nil, fmt.Errorf("%w: Could not parse Protobuf - %s", schema.ErrInvalid, msg)
	}
	p := &parsed{
		file:    res,
		tree:    res.AST(),
		refText: refText,
	}
	p.types, p.extensions = collectNames(res)
	p.canonical = printFile(p, false)
	p.normalized = printFile(p, true)
	return p, nil
}

// compileStrict compiles the schema as protoc would.
func compileStrict(resolver protocompile.Resolver) (linker.Result, error) {
	var firstErr error
	rep := reporter.NewReporter(func(err reporter.ErrorWithPos) error {
		if firstErr == nil {
			firstErr = err
		}
		return nil // keep going so that the first error is the one reported
	}, nil)
	c := protocompile.Compiler{
		Resolver:       resolver,
		Reporter:       rep,
		SourceInfoMode: protocompile.SourceInfoNone,
		RetainASTs:     true,
	}
	files, err := c.Compile(context.Background(), rootPath)
	if firstErr != nil {
		return nil, firstErr
	}
	if err != nil {
		if errors.Is(err, reporter.ErrInvalidSource) {
			return nil, errors.New("invalid source")
		}
		return nil, err
	}
	res, ok := files[0].(linker.Result)
	if !ok || res.AST() == nil {
		return nil, errors.New("no syntax tree")
	}
	return res, nil
}

// compileLenient parses and links the schema (its imports compiled
// strictly) without protoc's semantic validation, interpreting options
// leniently: roughly what Confluent's parser accepts by default.
func compileLenient(resolver protocompile.Resolver, s string) (linker.Result, error) {
	h := reporter.NewHandler(nil)
	tree, err := parser.Parse(rootPath, strings.NewReader(s), h)
	if err != nil {
		return nil, err
	}
	if err := ast.Walk(tree, &ast.SimpleVisitor{
		DoVisitFieldNode: func(n *ast.FieldNode) error {
			if n.Tag == nil {
				return fmt.Errorf("field %s has no number", n.Name.Val)
			}
			return nil
		},
		DoVisitMapFieldNode: func(n *ast.MapFieldNode) error {
			if n.Tag == nil {
				return fmt.Errorf("field %s has no number", n.Name.Val)
			}
			return nil
		},
		DoVisitGroupNode: func(n *ast.GroupNode) error {
			if n.Tag == nil {
				return fmt.Errorf("group %s has no number", n.Name.Val)
			}
			return nil
		},
	}); err != nil {
		return nil, err
	}
	unlinked, err := parser.ResultFromAST(tree, false, h)
	if err != nil {
		return nil, err
	}
	// Confluent resolves the well-known and its own types even when the
	// schema does not import them: make them all visible.
	fdp := unlinked.FileDescriptorProto()
	imported := map[string]bool{}
	for _, d := range fdp.GetDependency() {
		imported[d] = true
	}
	for _, k := range knownImports() {
		if !imported[k] {
			fdp.Dependency = append(fdp.Dependency, k)
		}
	}
	c := protocompile.Compiler{Resolver: resolver, SourceInfoMode: protocompile.SourceInfoNone}
	deps, err := c.Compile(context.Background(), fdp.GetDependency()...)
	if err != nil {
		return nil, err
	}
	linked, err := linker.Link(unlinked, deps, nil, h)
	if err != nil {
		return nil, err
	}
	// Options are left uninterpreted: nothing here depends on them.
	return linked, nil
}

// knownImports are the files Confluent resolves without registration.
func knownImports() []string {
	out := []string{
		"google/protobuf/any.proto", "google/protobuf/api.proto", "google/protobuf/descriptor.proto",
		"google/protobuf/duration.proto", "google/protobuf/empty.proto", "google/protobuf/field_mask.proto",
		"google/protobuf/source_context.proto", "google/protobuf/struct.proto", "google/protobuf/timestamp.proto",
		"google/protobuf/type.proto", "google/protobuf/wrappers.proto",
	}
	for name := range builtin {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// parsed is one compiled schema. It is immutable after Parse.
type parsed struct {
	file       protoreflect.FileDescriptor // linked root file
	tree       *ast.FileNode
	refText    map[string]string                       // reference import path -> its text
	types      map[string]typeInfo                     // full name (no leading dot) -> message or enum, root and imports
	extensions map[string]protoreflect.FieldDescriptor // extension fields by full name, root and imports
	canonical  string
	normalized string
}

// typeInfo is one named type visible to the schema.
type typeInfo struct {
	desc    protoreflect.Descriptor // MessageDescriptor or EnumDescriptor
	pkg     string                  // package of the defining file
	file    string                  // path of the defining file (rootPath for the schema itself)
	isMap   bool                    // synthetic map entry
	isGroup bool                    // synthetic group message
}

func (p *parsed) Canonical() string  { return p.canonical }
func (p *parsed) Normalized() string { return p.normalized }

// Formatted is Confluent's formattedString(format), what the REST API's
// ?format= gives on schema reads: "" and "default" are Canonical();
// "ignore_extensions" leaves out custom options (other than Confluent's
// confluent.*), extension ranges and extend blocks; "serialized" is the
// schema as a base64 FileDescriptorProto named "default" (what
// confluent-kafka-python asks for). Other formats give Canonical(), as
// Confluent's do. The registry reaches it with a type assertion on
// interface{ Formatted(string) string }.
func (p *parsed) Formatted(format string) string {
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "ignore_extensions":
		return (&printer{p: p, tree: p.tree, ignoreExt: true}).file()
	case "serialized":
		fdp := protodesc.ToFileDescriptorProto(p.file)
		fdp.Name = proto.String("default")
		// Keep only the imports the text has (the lenient path may have
		// added the well-known ones).
		imported := map[string]bool{}
		for _, d := range p.tree.Decls {
			if imp, ok := d.(*ast.ImportNode); ok {
				imported[imp.Name.AsString()] = true
			}
		}
		var deps []string
		var public, weak []int32
		for i, d := range fdp.GetDependency() {
			if !imported[d] {
				continue
			}
			for _, x := range fdp.GetPublicDependency() {
				if int(x) == i {
					public = append(public, int32(len(deps)))
				}
			}
			for _, x := range fdp.GetWeakDependency() {
				if int(x) == i {
					weak = append(weak, int32(len(deps)))
				}
			}
			deps = append(deps, d)
		}
		fdp.Dependency, fdp.PublicDependency, fdp.WeakDependency = deps, public, weak
		// protoc leaves json_name out of the descriptors it embeds (those
		// confluent-kafka-python registers); so does this form when the
		// name is the default one, so that a client's lookup with the
		// serialized form finds the registered schema.
		dropDefaultJSONNames(fdp.GetMessageType(), fdp.GetExtension())
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(fdp)
		if err != nil {
			return p.canonical
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	return p.canonical
}

func dropDefaultJSONNames(msgs []*descriptorpb.DescriptorProto, exts []*descriptorpb.FieldDescriptorProto) {
	clear := func(fs []*descriptorpb.FieldDescriptorProto) {
		for _, f := range fs {
			if f.JsonName != nil && f.GetJsonName() == defaultJSONName(f.GetName()) {
				f.JsonName = nil
			}
		}
	}
	clear(exts)
	for _, m := range msgs {
		clear(m.GetField())
		clear(m.GetExtension())
		dropDefaultJSONNames(m.GetNestedType(), nil)
	}
}

// defaultJSONName is protoc's ToJsonName: underscores dropped, the letter
// after one upper-cased.
func defaultJSONName(name string) string {
	var sb strings.Builder
	upper := false
	for _, r := range name {
		switch {
		case r == '_':
			upper = true
		case upper && r >= 'a' && r <= 'z':
			sb.WriteRune(r - 'a' + 'A')
			upper = false
		default:
			sb.WriteRune(r)
			upper = false
		}
	}
	return sb.String()
}

// CanRead reports the incompatible differences when data written with
// writer is read with p, as Confluent's p.isBackwardCompatible(writer),
// which diffs original=writer against update=p.
func (p *parsed) CanRead(writer schema.Parsed) []string {
	w, ok := writer.(*parsed)
	if !ok {
		return []string{"Incompatible because of different schema type"}
	}
	var out []string
	for _, d := range compare(w, p) {
		if !compatibleChange[d.kind] {
			out = append(out, d.String())
		}
	}
	return out
}

// collectNames indexes every message, enum and extension reachable from
// the root file (the root and its transitive imports).
func collectNames(root protoreflect.FileDescriptor) (map[string]typeInfo, map[string]protoreflect.FieldDescriptor) {
	types := map[string]typeInfo{}
	exts := map[string]protoreflect.FieldDescriptor{}
	seen := map[string]bool{}
	var visitFile func(f protoreflect.FileDescriptor)
	var visitMessages func(f protoreflect.FileDescriptor, ms protoreflect.MessageDescriptors)
	addEnums := func(f protoreflect.FileDescriptor, es protoreflect.EnumDescriptors) {
		for i := 0; i < es.Len(); i++ {
			e := es.Get(i)
			types[string(e.FullName())] = typeInfo{desc: e, pkg: string(f.Package()), file: f.Path()}
		}
	}
	addExts := func(xs protoreflect.ExtensionDescriptors) {
		for i := 0; i < xs.Len(); i++ {
			exts[string(xs.Get(i).FullName())] = xs.Get(i)
		}
	}
	visitMessages = func(f protoreflect.FileDescriptor, ms protoreflect.MessageDescriptors) {
		for i := 0; i < ms.Len(); i++ {
			m := ms.Get(i)
			types[string(m.FullName())] = typeInfo{desc: m, pkg: string(f.Package()), file: f.Path(),
				isMap: m.IsMapEntry(), isGroup: isGroupMessage(m)}
			addEnums(f, m.Enums())
			addExts(m.Extensions())
			visitMessages(f, m.Messages())
		}
	}
	visitFile = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		visitMessages(f, f.Messages())
		addEnums(f, f.Enums())
		addExts(f.Extensions())
		imps := f.Imports()
		for i := 0; i < imps.Len(); i++ {
			visitFile(imps.Get(i).FileDescriptor)
		}
	}
	visitFile(root)
	return types, exts
}

// isGroupMessage reports whether m is the message a proto2 group declares.
func isGroupMessage(m protoreflect.MessageDescriptor) bool {
	parent, ok := m.Parent().(protoreflect.MessageDescriptor)
	if !ok {
		return false
	}
	fs := parent.Fields()
	for i := 0; i < fs.Len(); i++ {
		f := fs.Get(i)
		if f.Kind() == protoreflect.GroupKind && f.Message() != nil && f.Message().FullName() == m.FullName() {
			return true
		}
	}
	return false
}
