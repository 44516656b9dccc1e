package protobuf

// Printing a parsed .proto file the way Confluent's ProtobufSchemaUtils
// does: canonicalString() (normalize=false) keeps declaration order and the
// names as written; normalize() (normalize=true) qualifies type and option
// names, sorts imports, options, fields, oneofs, reserved and extension
// ranges and enum constants, and drops proto2's syntax line. Comments are
// not printed. The layout (blank line before each non-empty section,
// two-space indentation, messages before enums) is Confluent's.

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/bufbuild/protocompile/ast"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// maxTag is the largest field number (Confluent prints larger range ends as "max").
const maxTag = 536_870_911

type printer struct {
	p         *parsed
	tree      *ast.FileNode
	norm      bool
	ignoreExt bool     // Confluent's ignore_extensions format: no custom options but confluent.*, no extensions
	pkg       []string // the file's package, split on "."
	scope     []string // enclosing message names
}

func printFile(p *parsed, normalize bool) string {
	return (&printer{p: p, tree: p.tree, norm: normalize}).file()
}

func (pr *printer) file() string {
	p, normalize := pr.p, pr.norm
	var sb strings.Builder
	f := p.tree
	if f.Syntax != nil {
		syn := f.Syntax.Syntax.AsString()
		if !normalize || syn == "proto3" {
			sb.WriteString("syntax = \"" + syn + "\";\n")
		}
	} else if f.Edition != nil {
		sb.WriteString("edition = \"" + f.Edition.Edition.AsString() + "\";\n")
	}
	var imports, public []string
	var options []*ast.OptionNode
	var msgs []*ast.MessageNode
	var enums []*ast.EnumNode
	var extends []*ast.ExtendNode
	var services []*ast.ServiceNode
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.PackageNode:
			name := string(d.Name.AsIdentifier())
			pr.pkg = strings.Split(name, ".")
			sb.WriteString("package " + name + ";\n")
		case *ast.ImportNode:
			if d.Public != nil {
				public = append(public, d.Name.AsString())
			} else {
				imports = append(imports, d.Name.AsString())
			}
		case *ast.OptionNode:
			options = append(options, d)
		case *ast.MessageNode:
			msgs = append(msgs, d)
		case *ast.EnumNode:
			enums = append(enums, d)
		case *ast.ExtendNode:
			extends = append(extends, d)
		case *ast.ServiceNode:
			services = append(services, d)
		}
	}
	if len(imports) > 0 || len(public) > 0 {
		sb.WriteByte('\n')
		if normalize {
			imports, public = sortedDistinct(imports), sortedDistinct(public)
		}
		for _, s := range imports {
			sb.WriteString("import \"" + s + "\";\n")
		}
		for _, s := range public {
			sb.WriteString("import public \"" + s + "\";\n")
		}
	}
	if opts := pr.options(options); len(opts) > 0 {
		sb.WriteByte('\n')
		for _, o := range opts {
			sb.WriteString("option " + o.text + ";\n")
		}
	}
	if len(msgs) > 0 || len(enums) > 0 {
		sb.WriteByte('\n')
		for _, m := range msgs {
			sb.WriteString(pr.message(m))
		}
		for _, e := range enums {
			sb.WriteString(pr.enum(e))
		}
	}
	if len(extends) > 0 && !pr.ignoreExt {
		sb.WriteByte('\n')
		for _, e := range pr.extends(extends) {
			sb.WriteString(e)
		}
	}
	if len(services) > 0 {
		sb.WriteByte('\n')
		for _, s := range services {
			sb.WriteString(pr.service(s))
		}
	}
	return sb.String()
}

func sortedDistinct(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	w := 0
	for i, v := range out {
		if i == 0 || v != out[w-1] {
			out[w] = v
			w++
		}
	}
	return out[:w]
}

// indent appends value with every line indented by two spaces.
func indent(sb *strings.Builder, value string) {
	lines := strings.Split(value, "\n")
	if len(lines) > 1 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for _, l := range lines {
		sb.WriteString("  " + l + "\n")
	}
}

// resolve is Confluent's Context.resolve: a name with a leading dot is
// already qualified; otherwise the enclosing scopes (package, then
// messages) are tried from the innermost out. It returns the full name
// without a leading dot, or "" when nothing matches.
func (pr *printer) resolve(name string, known func(string) bool) string {
	if strings.HasPrefix(name, ".") {
		if known(name[1:]) {
			return name[1:]
		}
		return ""
	}
	var prefix []string
	if len(pr.pkg) > 0 {
		prefix = append(prefix, pr.pkg...)
	}
	prefix = append(prefix, pr.scope...)
	for len(prefix) > 0 {
		n := strings.Join(prefix, ".") + "." + name
		if known(n) {
			return n
		}
		prefix = prefix[:len(prefix)-1]
	}
	if known(name) {
		return name
	}
	return ""
}

func (pr *printer) isType(n string) bool { _, ok := pr.p.types[n]; return ok }
func (pr *printer) isExt(n string) bool  { return pr.p.extensions[n] != nil }

// qualify returns "."+full name of a type when normalizing, else name.
func (pr *printer) qualify(name string) string {
	if !pr.norm {
		return name
	}
	if r := pr.resolve(name, pr.isType); r != "" {
		return "." + r
	}
	return name
}

func (pr *printer) message(m *ast.MessageNode) string {
	pr.scope = append(pr.scope, m.Name.Val)
	defer func() { pr.scope = pr.scope[:len(pr.scope)-1] }()
	var sb strings.Builder
	sb.WriteString("message " + m.Name.Val + " {")
	var reserved []*ast.ReservedNode
	var options []*ast.OptionNode
	var fields []ast.Node
	var oneofs []*ast.OneofNode
	var groups []*ast.GroupNode
	var extRanges []*ast.ExtensionRangeNode
	var extends []*ast.ExtendNode
	var msgs []*ast.MessageNode
	var enums []*ast.EnumNode
	for _, d := range m.Decls {
		switch d := d.(type) {
		case *ast.ReservedNode:
			reserved = append(reserved, d)
		case *ast.OptionNode:
			options = append(options, d)
		case *ast.FieldNode, *ast.MapFieldNode:
			fields = append(fields, d)
		case *ast.OneofNode:
			oneofs = append(oneofs, d)
		case *ast.GroupNode:
			groups = append(groups, d)
		case *ast.ExtensionRangeNode:
			extRanges = append(extRanges, d)
		case *ast.ExtendNode:
			extends = append(extends, d)
		case *ast.MessageNode:
			msgs = append(msgs, d)
		case *ast.EnumNode:
			enums = append(enums, d)
		}
	}
	if items := pr.reserved(reserved); len(items) > 0 {
		sb.WriteByte('\n')
		for _, r := range items {
			indent(&sb, r)
		}
	}
	if opts := pr.options(options); len(opts) > 0 {
		sb.WriteByte('\n')
		for _, o := range opts {
			indent(&sb, "option "+o.text+";\n")
		}
	}
	if len(fields) > 0 {
		sb.WriteByte('\n')
		if pr.norm {
			sort.SliceStable(fields, func(i, j int) bool { return fieldTag(fields[i]) < fieldTag(fields[j]) })
		}
		for _, f := range fields {
			indent(&sb, pr.field(f, false))
		}
	}
	if len(oneofs) > 0 {
		type oneof struct {
			node   *ast.OneofNode
			fields []ast.Node
			groups []*ast.GroupNode
		}
		var list []oneof
		for _, o := range oneofs {
			one := oneof{node: o}
			for _, d := range o.Decls {
				switch d := d.(type) {
				case *ast.FieldNode:
					one.fields = append(one.fields, d)
				case *ast.GroupNode:
					one.groups = append(one.groups, d)
				}
			}
			if pr.norm {
				if len(one.fields) == 0 {
					continue
				}
				sort.SliceStable(one.fields, func(i, j int) bool { return fieldTag(one.fields[i]) < fieldTag(one.fields[j]) })
			}
			list = append(list, one)
		}
		if pr.norm {
			sort.SliceStable(list, func(i, j int) bool { return fieldTag(list[i].fields[0]) < fieldTag(list[j].fields[0]) })
		}
		sb.WriteByte('\n') // Confluent: before the oneofs, even when normalizing drops them all
		for _, o := range list {
			var ob strings.Builder
			ob.WriteString("oneof " + o.node.Name.Val + " {")
			var oopts []*ast.OptionNode
			for _, d := range o.node.Decls {
				if opt, ok := d.(*ast.OptionNode); ok {
					oopts = append(oopts, opt)
				}
			}
			if opts := pr.options(oopts); len(opts) > 0 {
				ob.WriteByte('\n')
				for _, op := range opts {
					indent(&ob, "option "+op.text+";\n")
				}
			}
			if len(o.fields) > 0 {
				ob.WriteByte('\n')
				for _, f := range o.fields {
					indent(&ob, pr.field(f, true))
				}
			}
			if len(o.groups) > 0 {
				ob.WriteByte('\n')
				for _, g := range pr.sortGroups(o.groups) {
					indent(&ob, pr.group(g))
				}
			}
			ob.WriteString("}\n")
			indent(&sb, ob.String())
		}
	}
	if len(groups) > 0 {
		sb.WriteByte('\n')
		for _, g := range pr.sortGroups(groups) {
			indent(&sb, pr.group(g))
		}
	}
	if len(extRanges) > 0 && !pr.ignoreExt {
		sb.WriteByte('\n')
		for _, e := range pr.extensionRanges(extRanges) {
			indent(&sb, e)
		}
	}
	if len(extends) > 0 && !pr.ignoreExt {
		sb.WriteByte('\n')
		for _, e := range pr.extends(extends) {
			indent(&sb, e)
		}
	}
	if len(msgs) > 0 || len(enums) > 0 {
		sb.WriteByte('\n')
		for _, n := range msgs {
			indent(&sb, pr.message(n))
		}
		for _, e := range enums {
			indent(&sb, pr.enum(e))
		}
	}
	sb.WriteString("}\n")
	return sb.String()
}

func fieldTag(n ast.Node) uint64 {
	switch f := n.(type) {
	case *ast.FieldNode:
		if f.Tag != nil {
			return f.Tag.Val
		}
	case *ast.MapFieldNode:
		if f.Tag != nil {
			return f.Tag.Val
		}
	case *ast.GroupNode:
		if f.Tag != nil {
			return f.Tag.Val
		}
	}
	return 0
}

func (pr *printer) sortGroups(gs []*ast.GroupNode) []*ast.GroupNode {
	out := append([]*ast.GroupNode(nil), gs...)
	if pr.norm {
		sort.SliceStable(out, func(i, j int) bool { return fieldTag(out[i]) < fieldTag(out[j]) })
	}
	return out
}

func labelOf(l ast.FieldLabel) string {
	if l.KeywordNode == nil {
		return ""
	}
	return l.KeywordNode.Val
}

// field prints a field (or map field) as Confluent's toString(FieldElement).
func (pr *printer) field(n ast.Node, inOneof bool) string {
	var label, typ, name, tag string
	var opts *ast.CompactOptionsNode
	scalarType := ""
	switch f := n.(type) {
	case *ast.FieldNode:
		label = labelOf(f.Label)
		written := string(f.FldType.AsIdentifier())
		typ = written
		if isScalar(written) {
			scalarType = written
		} else {
			typ = pr.qualify(written)
		}
		name, tag, opts = f.Name.Val, strconv.FormatUint(f.Tag.Val, 10), f.Options
	case *ast.MapFieldNode:
		key := f.MapType.KeyType.Val
		val := string(f.MapType.ValueType.AsIdentifier())
		if !isScalar(val) {
			val = pr.qualify(val)
		}
		typ = "map<" + key + ", " + val + ">"
		name, tag, opts = f.Name.Val, strconv.FormatUint(f.Tag.Val, 10), f.Options
	}
	if inOneof {
		label = ""
	}
	var sb strings.Builder
	if label != "" {
		sb.WriteString(label + " ")
	}
	sb.WriteString(typ + " " + name + " = " + tag)
	if list := pr.fieldOptions(opts, scalarType); len(list) > 0 {
		sb.WriteByte(' ')
		sb.WriteString(bracketed(list))
	}
	sb.WriteString(";\n")
	return sb.String()
}

func isScalar(t string) bool {
	switch t {
	case "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64",
		"fixed32", "fixed64", "sfixed32", "sfixed64", "bool", "string", "bytes":
		return true
	}
	return false
}

// bracketed is Confluent's appendOptions: one option inline, several one
// per line.
func bracketed(items []string) string {
	if len(items) == 1 {
		return "[" + items[0] + "]"
	}
	var sb strings.Builder
	sb.WriteString("[\n")
	for i, it := range items {
		if i < len(items)-1 {
			it += ","
		}
		indent(&sb, it)
	}
	sb.WriteString("]")
	return sb.String()
}

// fieldOptions lists a field's compact options; as Confluent's parser
// keeps default and json_name apart from the others, they come last.
func (pr *printer) fieldOptions(opts *ast.CompactOptionsNode, scalarType string) []string {
	if opts == nil {
		return nil
	}
	var list []option
	var def, jsonName *ast.OptionNode
	for _, o := range opts.Options {
		switch simpleOptionName(o) {
		case "default":
			def = o
		case "json_name":
			jsonName = o
		default:
			list = append(list, pr.optionFromAST(o))
		}
	}
	if def != nil {
		v := pr.valueFromAST(def.Val)
		switch scalarType {
		case "string":
			v.kind = valueString
		case "bytes":
			// Confluent prints a bytes default unquoted (as a number);
			// kept so when it is one, quoted otherwise so that it parses.
			v.kind = valueString
			if _, err := strconv.ParseFloat(v.text, 64); err == nil {
				v.kind = valueNumber
			}
		case "bool", "":
			v.kind = valueLiteral
		default:
			v.kind = valueNumber
		}
		list = append(list, option{name: "default", value: v})
	}
	if jsonName != nil {
		list = append(list, option{name: "json_name", value: pr.valueFromAST(jsonName.Val)})
	}
	rendered := pr.renderOptions(list)
	out := make([]string, len(rendered))
	for i, o := range rendered {
		out[i] = o.text
	}
	return out
}

func simpleOptionName(o *ast.OptionNode) string {
	if len(o.Name.Parts) == 1 && !o.Name.Parts[0].IsExtension() {
		return string(o.Name.Parts[0].Name.AsIdentifier())
	}
	return ""
}

// optionValue is an option's value as Confluent's parser (Square Wire)
// models it: a string, a bare literal (number, bool, enum name), a message
// literal (an ordered map; a key given twice becomes a list) or a list.
type optionValue struct {
	kind  valueKind
	text  string // string contents, or the literal's source text
	keys  []string
	items map[string]*optionValue
	list  []*optionValue
}

type valueKind int

const (
	valueString valueKind = iota
	valueLiteral
	valueNumber
	valueMap
	valueList
)

// option is one option: its first name part (Confluent's OptionElement
// name), whether that part is an extension "(...)", the remaining parts
// of a dotted name, and the value.
type option struct {
	name  string
	paren bool
	rest  []string
	value *optionValue
}

// renderedOption is an option printed as "name = value", with the name
// normalize sorts by.
type renderedOption struct {
	name string
	text string
}

func (pr *printer) optionFromAST(o *ast.OptionNode) option {
	var op option
	for i, part := range o.Name.Parts {
		n := string(part.Name.AsIdentifier())
		if i == 0 {
			op.name, op.paren = n, part.IsExtension()
			continue
		}
		if part.IsExtension() {
			n = "(" + n + ")"
		}
		op.rest = append(op.rest, n)
	}
	op.value = pr.valueFromAST(o.Val)
	return op
}

func (pr *printer) valueFromAST(v ast.ValueNode) *optionValue {
	switch v := v.(type) {
	case ast.StringValueNode:
		return &optionValue{kind: valueString, text: v.AsString()}
	case *ast.MessageLiteralNode:
		m := &optionValue{kind: valueMap, items: map[string]*optionValue{}}
		for _, e := range v.Elements {
			k := string(e.Name.Name.AsIdentifier())
			if e.Name.IsAnyTypeReference() {
				k = "[" + string(e.Name.URLPrefix.AsIdentifier()) + "/" + k + "]"
			} else if e.Name.IsExtension() {
				k = "[" + k + "]"
			}
			val := pr.valueFromAST(e.Val)
			prev, ok := m.items[k]
			switch {
			case !ok:
				m.keys = append(m.keys, k)
				m.items[k] = val
			case prev.kind == valueList:
				prev.list = append(prev.list, flatten(val)...)
			default:
				m.items[k] = &optionValue{kind: valueList, list: append([]*optionValue{prev}, flatten(val)...)}
			}
		}
		return m
	case *ast.ArrayLiteralNode:
		l := &optionValue{kind: valueList}
		for _, e := range v.Elements {
			l.list = append(l.list, pr.valueFromAST(e))
		}
		return l
	case *ast.UintLiteralNode, *ast.NegativeIntLiteralNode, *ast.FloatLiteralNode, *ast.SignedFloatLiteralNode:
		return &optionValue{kind: valueNumber, text: pr.raw(v)}
	}
	return &optionValue{kind: valueLiteral, text: pr.raw(v)}
}

func flatten(v *optionValue) []*optionValue {
	if v.kind == valueList {
		return v.list
	}
	return []*optionValue{v}
}

// options prints options as Confluent's FormatContext.filterOptions and
// toString(OptionElement). Normalizing qualifies extension names, turns a
// dotted name "(ext).a.b = v" into "(ext) = { a: { b: v } }", sorts by name
// and merges the options setting one non-repeated extension.
func (pr *printer) options(nodes []*ast.OptionNode) []renderedOption {
	opts := make([]option, 0, len(nodes))
	for _, n := range nodes {
		opts = append(opts, pr.optionFromAST(n))
	}
	return pr.renderOptions(opts)
}

func (pr *printer) renderOptions(opts []option) []renderedOption {
	if pr.ignoreExt {
		kept := opts[:0:0]
		for _, o := range opts {
			if !o.paren || strings.HasPrefix(o.name, "confluent.") {
				kept = append(kept, o)
			}
		}
		opts = kept
	}
	if pr.norm {
		for i := range opts {
			o := &opts[i]
			if !o.paren {
				continue
			}
			if r := pr.resolve(o.name, pr.isExt); r != "" {
				o.name = r
				for j := len(o.rest) - 1; j >= 0; j-- {
					o.value = &optionValue{kind: valueMap, keys: []string{o.rest[j]}, items: map[string]*optionValue{o.rest[j]: o.value}}
				}
				o.rest = nil
			}
		}
		sort.SliceStable(opts, func(i, j int) bool { return opts[i].name < opts[j].name })
		merged := opts[:0:0]
		for _, o := range opts {
			if n := len(merged); n > 0 && merged[n-1].name == o.name && o.paren && merged[n-1].paren {
				if ext := pr.p.extensions[o.name]; ext != nil && ext.Cardinality() != protoreflect.Repeated {
					if merged[n-1].value.kind == valueMap && o.value.kind == valueMap {
						merged[n-1].value = mergeMaps(ext, merged[n-1].value, o.value)
					} else {
						merged[n-1] = o
					}
					continue
				}
			}
			merged = append(merged, o)
		}
		opts = merged
	}
	out := make([]renderedOption, 0, len(opts))
	for _, o := range opts {
		name := o.name
		if o.paren {
			name = "(" + name + ")"
		}
		for _, r := range o.rest {
			name += "." + r
		}
		out = append(out, renderedOption{name: o.name, text: name + " = " + pr.printValue(o.value, true)})
	}
	return out
}

// mergeMaps is Confluent's mergeOptionMaps: the keys of b are merged into
// a copy of a; a key's values merge as its field's type says.
func mergeMaps(field protoreflect.FieldDescriptor, a, b *optionValue) *optionValue {
	var container protoreflect.MessageDescriptor
	if field != nil {
		container = field.Message()
	}
	out := &optionValue{kind: valueMap, keys: append([]string(nil), a.keys...), items: map[string]*optionValue{}}
	for k, v := range a.items {
		out.items[k] = v
	}
	for _, k := range b.keys {
		var nested protoreflect.FieldDescriptor
		if container != nil {
			nested = container.Fields().ByName(protoreflect.Name(k))
		}
		if prev, ok := out.items[k]; ok {
			out.items[k] = mergeValues(nested, prev, b.items[k])
		} else {
			out.keys = append(out.keys, k)
			out.items[k] = b.items[k]
		}
	}
	return out
}

// mergeValues is Confluent's mergeOptionValues: singular message fields
// merge deeply, singular scalars take the last value, anything else
// accumulates a list without duplicates.
func mergeValues(field protoreflect.FieldDescriptor, a, b *optionValue) *optionValue {
	singular := field != nil && field.Cardinality() != protoreflect.Repeated
	if singular && a.kind == valueMap && b.kind == valueMap && field.Message() != nil {
		return mergeMaps(field, a, b)
	}
	if singular {
		return b
	}
	out := &optionValue{kind: valueList}
	seen := map[string]bool{}
	for _, v := range append(flatten(a), flatten(b)...) {
		key := fmt.Sprintf("%d:%s", v.kind, (&printer{}).printValue(v, false))
		if !seen[key] {
			seen[key] = true
			out.list = append(out.list, v)
		}
	}
	return out
}

// printValue is Confluent's option value printing; top is true for an
// option's own value (where a message literal is "{...}" as well).
func (pr *printer) printValue(v *optionValue, top bool) string {
	switch v.kind {
	case valueString:
		return "\"" + escapeChars(v.text) + "\""
	case valueNumber:
		return pr.number(v.text)
	case valueMap:
		return "{\n" + pr.printMap(v) + "}"
	case valueList:
		if pr.norm && len(v.list) == 1 {
			return pr.printValue(v.list[0], false)
		}
		var sb strings.Builder
		sb.WriteString("[\n")
		for i, e := range v.list {
			s := pr.printValue(e, false)
			if i < len(v.list)-1 {
				s += ","
			}
			indent(&sb, s)
		}
		sb.WriteString("]")
		return sb.String()
	}
	return v.text
}

// printMap is Confluent's formatOptionMap: "key: value" lines; normalizing
// drops empty lists, qualifies extension keys and sorts the keys.
func (pr *printer) printMap(m *optionValue) string {
	keys := m.keys
	items := m.items
	if pr.norm {
		items = map[string]*optionValue{}
		keys = nil
		for _, k := range m.keys {
			v := m.items[k]
			if v.kind == valueList && len(v.list) == 0 {
				continue
			}
			nk := k
			if strings.HasPrefix(k, "[") && strings.HasSuffix(k, "]") {
				if r := pr.resolve(k[1:len(k)-1], pr.isExt); r != "" {
					nk = "[" + r + "]"
				}
			}
			if _, dup := items[nk]; !dup {
				keys = append(keys, nk)
				items[nk] = v
			}
		}
		sort.Strings(keys)
	}
	var sb strings.Builder
	for i, k := range keys {
		line := k + ": " + pr.printValue(items[k], false)
		if i < len(keys)-1 {
			line += ","
		}
		indent(&sb, line)
	}
	return sb.String()
}

// raw is a node's source text.
func (pr *printer) raw(v ast.Node) string {
	return pr.tree.NodeInfo(v).RawText()
}

// number formats a numeric literal; normalizing prints it as Java's
// DecimalFormat does (no grouping, at most three fraction digits).
func (pr *printer) number(text string) string {
	if !pr.norm {
		return text
	}
	if i, err := strconv.ParseInt(text, 0, 64); err == nil {
		return strconv.FormatInt(i, 10)
	}
	if u, err := strconv.ParseUint(text, 0, 64); err == nil {
		return strconv.FormatUint(u, 10)
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return text
	}
	s := strconv.FormatFloat(f, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

// reserved prints a message's or enum's reserved statements; normalize
// splits them into one value per line sorted by number (names last).
func (pr *printer) reserved(rs []*ast.ReservedNode) []string {
	type item struct {
		text  string
		start int64
		str   string
	}
	var groups [][]item
	for _, r := range rs {
		var g []item
		for _, rg := range r.Ranges {
			g = append(g, pr.rangeItem(rg))
		}
		for _, n := range r.Names {
			g = append(g, item{text: "\"" + n.AsString() + "\"", start: math.MaxInt32, str: n.AsString()})
		}
		for _, n := range r.Identifiers {
			g = append(g, item{text: n.Val, start: math.MaxInt32, str: n.Val})
		}
		groups = append(groups, g)
	}
	if pr.norm {
		var all []item
		for _, g := range groups {
			all = append(all, g...)
		}
		sort.SliceStable(all, func(i, j int) bool {
			if all[i].start != all[j].start {
				return all[i].start < all[j].start
			}
			return all[i].str < all[j].str
		})
		groups = nil
		for _, it := range all {
			groups = append(groups, []item{it})
		}
	}
	var out []string
	for _, g := range groups {
		texts := make([]string, len(g))
		for i, it := range g {
			texts[i] = it.text
		}
		out = append(out, "reserved "+strings.Join(texts, ", ")+";\n")
	}
	return out
}

func (pr *printer) rangeItem(rg *ast.RangeNode) struct {
	text  string
	start int64
	str   string
} {
	start := intValue(rg.StartVal)
	res := struct {
		text  string
		start int64
		str   string
	}{start: start}
	if rg.To == nil {
		res.text = strconv.FormatInt(start, 10)
		res.str = res.text
		return res
	}
	end := int64(maxTag)
	if rg.Max == nil {
		end = intValue(rg.EndVal)
	}
	res.str = strconv.FormatInt(start, 10) + ".." + strconv.FormatInt(end, 10)
	if pr.norm && start == end {
		res.text = strconv.FormatInt(start, 10)
		return res
	}
	last := "max"
	if end < maxTag {
		last = strconv.FormatInt(end, 10)
	}
	res.text = strconv.FormatInt(start, 10) + " to " + last
	return res
}

func intValue(v ast.IntValueNode) int64 {
	if v == nil {
		return 0
	}
	if i, ok := v.AsInt64(); ok {
		return i
	}
	return math.MaxInt64
}

func (pr *printer) extensionRanges(es []*ast.ExtensionRangeNode) []string {
	type item struct {
		text  string
		start int64
	}
	var groups [][]item
	var optsOf [][]string
	for _, e := range es {
		var g []item
		for _, rg := range e.Ranges {
			r := pr.rangeItem(rg)
			g = append(g, item{text: r.text, start: r.start})
		}
		var opts []string
		if e.Options != nil {
			for _, o := range pr.options(e.Options.Options) {
				opts = append(opts, o.text)
			}
		}
		if pr.norm {
			for _, it := range g {
				groups = append(groups, []item{it})
				optsOf = append(optsOf, opts)
			}
		} else {
			groups = append(groups, g)
			optsOf = append(optsOf, opts)
		}
	}
	idx := make([]int, len(groups))
	for i := range idx {
		idx[i] = i
	}
	if pr.norm {
		sort.SliceStable(idx, func(a, b int) bool { return groups[idx[a]][0].start < groups[idx[b]][0].start })
	}
	var out []string
	for _, i := range idx {
		texts := make([]string, len(groups[i]))
		for j, it := range groups[i] {
			texts[j] = it.text
		}
		s := "extensions " + strings.Join(texts, ", ")
		if len(optsOf[i]) > 0 {
			s += " " + bracketed(optsOf[i])
		}
		out = append(out, s+";\n")
	}
	return out
}

func (pr *printer) group(g *ast.GroupNode) string {
	var sb strings.Builder
	if l := labelOf(g.Label); l != "" {
		sb.WriteString(l + " ")
	}
	sb.WriteString("group " + g.Name.Val + " = " + strconv.FormatUint(g.Tag.Val, 10) + " {")
	var fields []ast.Node
	for _, d := range g.Decls {
		switch d := d.(type) {
		case *ast.FieldNode, *ast.MapFieldNode:
			fields = append(fields, d)
		}
	}
	if len(fields) > 0 {
		sb.WriteByte('\n')
		if pr.norm {
			sort.SliceStable(fields, func(i, j int) bool { return fieldTag(fields[i]) < fieldTag(fields[j]) })
		}
		pr.scope = append(pr.scope, g.Name.Val)
		for _, f := range fields {
			indent(&sb, pr.field(f, false))
		}
		pr.scope = pr.scope[:len(pr.scope)-1]
	}
	sb.WriteString("}\n")
	return sb.String()
}

// extends prints extend blocks; normalize qualifies the extendee and
// merges blocks of one extendee.
func (pr *printer) extends(es []*ast.ExtendNode) []string {
	type block struct {
		name   string
		fields []ast.Node
	}
	var blocks []*block
	byName := map[string]*block{}
	for _, e := range es {
		name := string(e.Extendee.AsIdentifier())
		var fields []ast.Node
		for _, d := range e.Decls {
			switch d := d.(type) {
			case *ast.FieldNode:
				fields = append(fields, d)
			}
		}
		if pr.norm {
			name = pr.qualify(name)
			if b, ok := byName[name]; ok {
				b.fields = append(b.fields, fields...)
				continue
			}
		}
		b := &block{name: name, fields: fields}
		byName[name] = b
		blocks = append(blocks, b)
	}
	var out []string
	for _, b := range blocks {
		var sb strings.Builder
		sb.WriteString("extend " + b.name + " {")
		if len(b.fields) > 0 {
			sb.WriteByte('\n')
			if pr.norm {
				sort.SliceStable(b.fields, func(i, j int) bool { return fieldTag(b.fields[i]) < fieldTag(b.fields[j]) })
			}
			for _, f := range b.fields {
				indent(&sb, pr.field(f, false))
			}
		}
		sb.WriteString("}\n")
		out = append(out, sb.String())
	}
	return out
}

func (pr *printer) enum(e *ast.EnumNode) string {
	pr.scope = append(pr.scope, e.Name.Val)
	defer func() { pr.scope = pr.scope[:len(pr.scope)-1] }()
	var sb strings.Builder
	sb.WriteString("enum " + e.Name.Val + " {")
	var reserved []*ast.ReservedNode
	var options []*ast.OptionNode
	var values []*ast.EnumValueNode
	for _, d := range e.Decls {
		switch d := d.(type) {
		case *ast.ReservedNode:
			reserved = append(reserved, d)
		case *ast.OptionNode:
			options = append(options, d)
		case *ast.EnumValueNode:
			values = append(values, d)
		}
	}
	items := pr.reserved(reserved)
	if len(items) > 0 {
		sb.WriteByte('\n')
		for _, r := range items {
			indent(&sb, r)
		}
	}
	if len(reserved) == 0 && (len(options) > 0 || len(values) > 0) {
		sb.WriteByte('\n')
	}
	for _, o := range pr.options(options) {
		indent(&sb, "option "+o.text+";\n")
	}
	if pr.norm {
		sort.SliceStable(values, func(i, j int) bool {
			a, b := intValue(values[i].Number), intValue(values[j].Number)
			if a != b {
				return a < b
			}
			return values[i].Name.Val < values[j].Name.Val
		})
	}
	for _, v := range values {
		s := v.Name.Val + " = " + strconv.FormatInt(intValue(v.Number), 10)
		if v.Options != nil {
			var list []string
			for _, o := range pr.options(v.Options.Options) {
				list = append(list, o.text)
			}
			if len(list) > 0 {
				s += " " + bracketed(list)
			}
		}
		indent(&sb, s+";\n")
	}
	sb.WriteString("}\n")
	return sb.String()
}

func (pr *printer) service(s *ast.ServiceNode) string {
	var sb strings.Builder
	sb.WriteString("service " + s.Name.Val + " {")
	var options []*ast.OptionNode
	var rpcs []*ast.RPCNode
	for _, d := range s.Decls {
		switch d := d.(type) {
		case *ast.OptionNode:
			options = append(options, d)
		case *ast.RPCNode:
			rpcs = append(rpcs, d)
		}
	}
	if opts := pr.options(options); len(opts) > 0 {
		sb.WriteByte('\n')
		for _, o := range opts {
			indent(&sb, "option "+o.text+";\n")
		}
	}
	if len(rpcs) > 0 {
		sb.WriteByte('\n')
		for _, r := range rpcs {
			indent(&sb, pr.rpc(r))
		}
	}
	sb.WriteString("}\n")
	return sb.String()
}

func (pr *printer) rpc(r *ast.RPCNode) string {
	typ := func(t *ast.RPCTypeNode) string {
		s := ""
		if t.Stream != nil {
			s = "stream "
		}
		return s + pr.qualify(string(t.MessageType.AsIdentifier()))
	}
	s := "rpc " + r.Name.Val + " (" + typ(r.Input) + ") returns (" + typ(r.Output) + ")"
	var options []*ast.OptionNode
	for _, d := range r.Decls {
		if o, ok := d.(*ast.OptionNode); ok {
			options = append(options, o)
		}
	}
	if opts := pr.options(options); len(opts) > 0 {
		var sb strings.Builder
		sb.WriteString(" {\n")
		for _, o := range opts {
			indent(&sb, "option "+o.text+";\n")
		}
		sb.WriteString("}")
		s += sb.String()
	}
	return s + ";\n"
}

// escapeChars is Confluent's ProtobufSchemaUtils.escapeChars.
func escapeChars(s string) string {
	var sb strings.Builder
	for _, r := range s {
		switch r {
		case '\a':
			sb.WriteString(`\a`)
		case '\b':
			sb.WriteString(`\b`)
		case '\f':
			sb.WriteString(`\f`)
		case '\n':
			sb.WriteString(`\n`)
		case '\r':
			sb.WriteString(`\r`)
		case '\t':
			sb.WriteString(`\t`)
		case '\v':
			sb.WriteString(`\v`)
		case '\\':
			sb.WriteString(`\\`)
		case '\'':
			sb.WriteString(`\'`)
		case '"':
			sb.WriteString(`\"`)
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}
