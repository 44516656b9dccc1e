package protobuf

// Confluent accepts a schema (or a referenced schema) given as a base64
// serialized google.protobuf.FileDescriptorProto instead of .proto text;
// confluent-kafka-python's ProtobufSerializer registers schemas that way.
// Confluent turns the descriptor into its parsed form and stores the
// printed text. Here the descriptor is written out as .proto text (this
// file), which then goes through the same compile and printing as any
// other schema.
//
// Like Confluent's ProtobufSchema.toProtoFile(FileDescriptorProto): type
// names stay fully qualified as descriptors hold them, json_name is kept
// when set, defaults only outside proto3, custom options other than
// Confluent's own meta are dropped. Unlike it, map entries come out as
// map<K, V> fields (Confluent keeps the synthetic entry message) so that
// the text compiles.

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/bufbuild/protocompile/parser"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// metaField is the field number of Confluent's meta option extensions.
const metaField = 1088

// fromDescriptor returns s as .proto text when s is not .proto text but a
// base64 FileDescriptorProto; otherwise it returns s unchanged. tooBig
// is set (and text is s) when s is a descriptor beyond this package's
// limits (limits.go).
func fromDescriptor(s string) (text, tooBig string) {
	trimmed := strings.TrimSpace(s)
	if trimmed == "" || strings.ContainsAny(trimmed, " \n\t;{") {
		return s, ""
	}
	if _, err := parser.Parse("x.proto", strings.NewReader(s), reporter.NewHandler(nil)); err == nil {
		return s, ""
	}
	raw, err := base64.StdEncoding.DecodeString(trimmed)
	if err != nil {
		return s, ""
	}
	var fdp descriptorpb.FileDescriptorProto
	// Each nested message is two levels (DescriptorProto, its
	// nested_type); options add a few more.
	opts := proto.UnmarshalOptions{RecursionLimit: 2*maxMessageDepth + 16}
	if err := opts.Unmarshal(raw, &fdp); err != nil {
		return s, ""
	}
	if len(fdp.GetMessageType()) == 0 && len(fdp.GetEnumType()) == 0 && fdp.GetPackage() == "" &&
		len(fdp.GetService()) == 0 && len(fdp.GetDependency()) == 0 {
		return s, "" // decodes, but to nothing: not a descriptor
	}
	if msg := descriptorLimits(&fdp); msg != "" {
		return s, msg
	}
	return descriptorText(&fdp), ""
}

type descPrinter struct {
	sb     strings.Builder
	file   *descriptorpb.FileDescriptorProto
	proto3 bool
}

func (d *descPrinter) line(depth int, s string) {
	d.sb.WriteString(strings.Repeat("  ", depth))
	d.sb.WriteString(s)
	d.sb.WriteByte('\n')
}

func descriptorText(f *descriptorpb.FileDescriptorProto) string {
	d := &descPrinter{file: f, proto3: f.GetSyntax() == "proto3"}
	switch f.GetSyntax() {
	case "proto2", "proto3":
		d.line(0, `syntax = "`+f.GetSyntax()+`";`)
	case "editions":
		d.line(0, `edition = "`+strings.TrimPrefix(f.GetEdition().String(), "EDITION_")+`";`)
	}
	if f.GetPackage() != "" {
		d.line(0, "package "+f.GetPackage()+";")
	}
	public := map[int32]bool{}
	for _, i := range f.GetPublicDependency() {
		public[i] = true
	}
	weak := map[int32]bool{}
	for _, i := range f.GetWeakDependency() {
		weak[i] = true
	}
	for i, dep := range f.GetDependency() {
		kw := "import "
		if public[int32(i)] {
			kw = "import public "
		} else if weak[int32(i)] {
			kw = "import weak "
		}
		d.line(0, kw+strconv.Quote(dep)+";")
	}
	for _, o := range d.options(f.GetOptions(), "file_meta") {
		d.line(0, "option "+o+";")
	}
	for _, m := range f.GetMessageType() {
		d.message(0, m)
	}
	for _, e := range f.GetEnumType() {
		d.enum(0, e)
	}
	d.extends(0, f.GetExtension())
	for _, s := range f.GetService() {
		d.line(0, "service "+s.GetName()+" {")
		for _, o := range d.options(s.GetOptions(), "") {
			d.line(1, "option "+o+";")
		}
		for _, m := range s.GetMethod() {
			in, out := m.GetInputType(), m.GetOutputType()
			if m.GetClientStreaming() {
				in = "stream " + in
			}
			if m.GetServerStreaming() {
				out = "stream " + out
			}
			opts := d.options(m.GetOptions(), "")
			if len(opts) == 0 {
				d.line(1, "rpc "+m.GetName()+" ("+in+") returns ("+out+");")
				continue
			}
			d.line(1, "rpc "+m.GetName()+" ("+in+") returns ("+out+") {")
			for _, o := range opts {
				d.line(2, "option "+o+";")
			}
			d.line(1, "}")
		}
		d.line(0, "}")
	}
	return d.sb.String()
}

// options lists the set fields of a descriptor options message as
// "name = value", and Confluent's meta extension when meta names it.
func (d *descPrinter) options(opts proto.Message, meta string) []string {
	if opts == nil || !opts.ProtoReflect().IsValid() {
		return nil
	}
	m := opts.ProtoReflect()
	var out []string
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !m.Has(fd) || fd.Kind() == protoreflect.MessageKind || fd.Name() == "uninterpreted_option" {
			continue
		}
		if fd.Name() == "map_entry" {
			continue
		}
		if fd.IsList() {
			l := m.Get(fd).List()
			for j := 0; j < l.Len(); j++ {
				out = append(out, string(fd.Name())+" = "+scalarText(fd, l.Get(j)))
			}
			continue
		}
		out = append(out, string(fd.Name())+" = "+scalarText(fd, m.Get(fd)))
	}
	if meta != "" {
		if lit := metaLiteral(m.GetUnknown()); lit != "" {
			out = append(out, "(confluent."+meta+") = "+lit)
		}
	}
	return out
}

func scalarText(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return `"` + escapeChars(v.String()) + `"`
	case protoreflect.BytesKind:
		return `"` + escapeChars(string(v.Bytes())) + `"`
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return strconv.Itoa(int(v.Enum()))
	}
	return v.String()
}

// metaLiteral decodes Confluent's Meta (doc = 1, params = 2 map<string,
// string>, tags = 3, rules = 4 {name, doc, expr, sql}) from the options'
// unknown fields and writes it as a message literal in Confluent's layout.
func metaLiteral(unknown []byte) string {
	var meta []byte
	for b := unknown; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		if num == metaField && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return ""
			}
			meta = append(meta, v...)
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return ""
		}
		b = b[m:]
	}
	if meta == nil {
		return ""
	}
	fields := func(b []byte) [][2]string { // (field number, string value) pairs, in order
		var out [][2]string
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				return out
			}
			b = b[n:]
			if typ != protowire.BytesType {
				m := protowire.ConsumeFieldValue(num, typ, b)
				if m < 0 {
					return out
				}
				b = b[m:]
				continue
			}
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return out
			}
			out = append(out, [2]string{strconv.Itoa(int(num)), string(v)})
			b = b[m:]
		}
		return out
	}
	q := func(s string) string { return `"` + escapeChars(s) + `"` }
	var doc string
	var params, tags, rules []string
	for _, f := range fields(meta) {
		switch f[0] {
		case "1":
			doc = f[1]
		case "2":
			var k, v string
			for _, e := range fields([]byte(f[1])) {
				if e[0] == "1" {
					k = e[1]
				} else if e[0] == "2" {
					v = e[1]
				}
			}
			if k == "precision" || k == "scale" { // Confluent writes these value first
				params = append(params, "{ value: "+q(v)+" key: "+q(k)+" }")
			} else {
				params = append(params, "{ key: "+q(k)+" value: "+q(v)+" }")
			}
		case "3":
			tags = append(tags, q(f[1]))
		case "4":
			var parts []string
			names := map[string]string{"1": "name", "2": "doc", "3": "expr", "4": "sql"}
			for _, e := range fields([]byte(f[1])) {
				if n, ok := names[e[0]]; ok && e[1] != "" {
					parts = append(parts, n+": "+q(e[1]))
				}
			}
			if len(parts) > 0 {
				rules = append(rules, "{ "+strings.Join(parts, " ")+" }")
			}
		}
	}
	var parts []string
	if doc != "" {
		parts = append(parts, "doc: "+q(doc))
	}
	if len(params) > 0 {
		parts = append(parts, "params: ["+strings.Join(params, ", ")+"]")
	}
	if len(tags) > 0 {
		parts = append(parts, "tags: ["+strings.Join(tags, ", ")+"]")
	}
	if len(rules) > 0 {
		parts = append(parts, "rules: ["+strings.Join(rules, ", ")+"]")
	}
	if len(parts) == 0 {
		return ""
	}
	return "{ " + strings.Join(parts, " ") + " }"
}

func (d *descPrinter) message(depth int, m *descriptorpb.DescriptorProto) {
	d.line(depth, "message "+m.GetName()+" {")
	entries := map[string]*descriptorpb.DescriptorProto{}
	for _, n := range m.GetNestedType() {
		if n.GetOptions().GetMapEntry() {
			entries[n.GetName()] = n
		}
	}
	for _, o := range d.options(m.GetOptions(), "message_meta") {
		d.line(depth+1, "option "+o+";")
	}
	for _, r := range m.GetReservedRange() {
		d.line(depth+1, "reserved "+rangeText(r.GetStart(), r.GetEnd()-1)+";")
	}
	for _, n := range m.GetReservedName() {
		d.line(depth+1, "reserved "+strconv.Quote(n)+";")
	}
	oneofFields := make([][]*descriptorpb.FieldDescriptorProto, len(m.GetOneofDecl()))
	for _, f := range m.GetField() {
		if f.OneofIndex != nil && !f.GetProto3Optional() && int(f.GetOneofIndex()) < len(oneofFields) {
			oneofFields[f.GetOneofIndex()] = append(oneofFields[f.GetOneofIndex()], f)
			continue
		}
		d.field(depth+1, f, false, entries)
	}
	for i, o := range m.GetOneofDecl() {
		if len(oneofFields[i]) == 0 {
			continue // proto3 optional's synthetic oneof
		}
		d.line(depth+1, "oneof "+o.GetName()+" {")
		for _, f := range oneofFields[i] {
			d.field(depth+2, f, true, entries)
		}
		d.line(depth+1, "}")
	}
	for _, r := range m.GetExtensionRange() {
		d.line(depth+1, "extensions "+rangeText(r.GetStart(), r.GetEnd()-1)+";")
	}
	d.extends(depth+1, m.GetExtension())
	for _, n := range m.GetNestedType() {
		if !n.GetOptions().GetMapEntry() {
			d.message(depth+1, n)
		}
	}
	for _, e := range m.GetEnumType() {
		d.enum(depth+1, e)
	}
	d.line(depth, "}")
}

func rangeText(start, end int32) string {
	if start == end {
		return strconv.Itoa(int(start))
	}
	if end >= maxTag {
		return strconv.Itoa(int(start)) + " to max"
	}
	return strconv.Itoa(int(start)) + " to " + strconv.Itoa(int(end))
}

func (d *descPrinter) extends(depth int, fields []*descriptorpb.FieldDescriptorProto) {
	var order []string
	by := map[string][]*descriptorpb.FieldDescriptorProto{}
	for _, f := range fields {
		if _, ok := by[f.GetExtendee()]; !ok {
			order = append(order, f.GetExtendee())
		}
		by[f.GetExtendee()] = append(by[f.GetExtendee()], f)
	}
	for _, e := range order {
		d.line(depth, "extend "+e+" {")
		for _, f := range by[e] {
			d.field(depth+1, f, false, nil)
		}
		d.line(depth, "}")
	}
}

func fieldTypeName(f *descriptorpb.FieldDescriptorProto) string {
	if f.TypeName != nil {
		return f.GetTypeName()
	}
	return strings.ToLower(strings.TrimPrefix(f.GetType().String(), "TYPE_"))
}

func (d *descPrinter) field(depth int, f *descriptorpb.FieldDescriptorProto, inOneof bool, entries map[string]*descriptorpb.DescriptorProto) {
	typ := fieldTypeName(f)
	label := ""
	if entry := entries[typ[strings.LastIndex(typ, ".")+1:]]; entry != nil && f.GetLabel() == descriptorpb.FieldDescriptorProto_LABEL_REPEATED &&
		f.GetType() == descriptorpb.FieldDescriptorProto_TYPE_MESSAGE && len(entry.GetField()) == 2 {
		typ = "map<" + fieldTypeName(entry.GetField()[0]) + ", " + fieldTypeName(entry.GetField()[1]) + ">"
	} else if !inOneof {
		switch {
		case f.GetProto3Optional():
			label = "optional "
		case f.GetLabel() == descriptorpb.FieldDescriptorProto_LABEL_REPEATED:
			label = "repeated "
		case d.proto3 || d.file.GetSyntax() == "editions":
		case f.GetLabel() == descriptorpb.FieldDescriptorProto_LABEL_REQUIRED:
			label = "required "
		default:
			label = "optional "
		}
	}
	opts := d.options(f.GetOptions(), "field_meta")
	if f.DefaultValue != nil && !d.proto3 {
		v := f.GetDefaultValue()
		switch f.GetType() {
		case descriptorpb.FieldDescriptorProto_TYPE_STRING:
			v = `"` + escapeChars(v) + `"`
		case descriptorpb.FieldDescriptorProto_TYPE_BYTES:
			v = `"` + v + `"` // already C-escaped in descriptors
		}
		opts = append(opts, "default = "+v)
	}
	if f.JsonName != nil {
		opts = append(opts, `json_name = "`+escapeChars(f.GetJsonName())+`"`)
	}
	s := label + typ + " " + f.GetName() + " = " + strconv.Itoa(int(f.GetNumber()))
	if len(opts) > 0 {
		s += " [" + strings.Join(opts, ", ") + "]"
	}
	d.line(depth, s+";")
}

func (d *descPrinter) enum(depth int, e *descriptorpb.EnumDescriptorProto) {
	d.line(depth, "enum "+e.GetName()+" {")
	for _, o := range d.options(e.GetOptions(), "enum_meta") {
		d.line(depth+1, "option "+o+";")
	}
	for _, r := range e.GetReservedRange() {
		d.line(depth+1, "reserved "+rangeText(r.GetStart(), r.GetEnd())+";")
	}
	for _, n := range e.GetReservedName() {
		d.line(depth+1, "reserved "+strconv.Quote(n)+";")
	}
	for _, v := range e.GetValue() {
		s := v.GetName() + " = " + strconv.Itoa(int(v.GetNumber()))
		if opts := d.options(v.GetOptions(), "enum_value_meta"); len(opts) > 0 {
			s += " [" + strings.Join(opts, ", ") + "]"
		}
		d.line(depth+1, s+";")
	}
	d.line(depth, "}")
}
