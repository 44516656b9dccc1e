package protobuf

// Printing a parsed .proto file the way Confluent's ProtobufSchemaUtils
// does: canonicalString() (normalize=false) keeps declaration order and the
// names as written; normalize() (normalize=true) qualifies type and option
// names, sorts imports, options, fields, oneofs, reserved and extension
// ranges and enum constants, and drops proto2's syntax line. Comments are
// not printed. The layout (blank line before each non-empty section,
// two-space indentation, messages before enums) is Confluent's.

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/bufbuild/protocompile/ast"
)

// maxTag is the largest field number (Confluent prints larger range ends as "max").
const maxTag = 536_870_911

type printer struct {
	p     *parsed
	tree  *ast.FileNode
	norm  bool
	pkg   []string // the file's package, split on "."
	scope []string // enclosing message names
}

func printFile(p *parsed, normalize bool) string {
	pr := &printer{p: p, tree: p.tree, norm: normalize}
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
	if len(extends) > 0 {
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
func (pr *printer) isExt(n string) bool  { return pr.p.extensions[n] }

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
		if len(oneofs) > 0 {
			sb.WriteByte('\n')
		}
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
	if len(extRanges) > 0 {
		sb.WriteByte('\n')
		for _, e := range pr.extensionRanges(extRanges) {
			indent(&sb, e)
		}
	}
	if len(extends) > 0 {
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
// keeps default and json_name apart, they come after the others.
func (pr *printer) fieldOptions(opts *ast.CompactOptionsNode, scalarType string) []string {
	if opts == nil {
		return nil
	}
	var plain, special []*ast.OptionNode
	for _, o := range opts.Options {
		if n := simpleOptionName(o); n == "default" || n == "json_name" {
			special = append(special, o)
		} else {
			plain = append(plain, o)
		}
	}
	// default before json_name, as Confluent adds them.
	sort.SliceStable(special, func(i, j int) bool {
		return simpleOptionName(special[i]) == "default" && simpleOptionName(special[j]) != "default"
	})
	list := pr.options(plain)
	for _, o := range special {
		text := ""
		if simpleOptionName(o) == "json_name" {
			text = "json_name = " + pr.value(o.Val)
		} else {
			text = "default = " + pr.defaultValue(o.Val, scalarType)
		}
		list = append(list, renderedOption{name: simpleOptionName(o), text: text})
	}
	if pr.norm {
		sort.SliceStable(list, func(i, j int) bool { return list[i].name < list[j].name })
	}
	out := make([]string, len(list))
	for i, o := range list {
		out[i] = o.text
	}
	return out
}

func (pr *printer) defaultValue(v ast.ValueNode, scalarType string) string {
	switch scalarType {
	case "string", "bytes":
		if s, ok := v.(ast.StringValueNode); ok {
			return "\"" + escapeChars(s.AsString()) + "\""
		}
	case "bool", "":
		return pr.raw(v)
	}
	return pr.number(pr.raw(v))
}

func simpleOptionName(o *ast.OptionNode) string {
	if len(o.Name.Parts) == 1 && !o.Name.Parts[0].IsExtension() {
		return string(o.Name.Parts[0].Name.AsIdentifier())
	}
	return ""
}

// renderedOption is one option printed as "name = value"; name is
// Confluent's OptionElement name (the first part, unparenthesized,
// qualified when normalizing), the sort key of normalize.
type renderedOption struct {
	name string
	text string
}

func (pr *printer) options(opts []*ast.OptionNode) []renderedOption {
	out := make([]renderedOption, 0, len(opts))
	for _, o := range opts {
		var parts []string
		key := ""
		for i, part := range o.Name.Parts {
			n := string(part.Name.AsIdentifier())
			if part.IsExtension() {
				if i == 0 && pr.norm {
					if r := pr.resolve(n, pr.isExt); r != "" {
						n = r
					}
				}
				if i == 0 {
					key = n
				}
				parts = append(parts, "("+n+")")
			} else {
				if i == 0 {
					key = n
				}
				parts = append(parts, n)
			}
		}
		out = append(out, renderedOption{name: key, text: strings.Join(parts, ".") + " = " + pr.value(o.Val)})
	}
	if pr.norm {
		sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	}
	return out
}

// raw is the value's source text.
func (pr *printer) raw(v ast.Node) string {
	return pr.tree.NodeInfo(v).RawText()
}

// number formats a numeric literal; normalize prints it as Java's
// DecimalFormat (no grouping, at most three fraction digits).
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

// value prints an option value as Confluent's OptionElement printing.
func (pr *printer) value(v ast.ValueNode) string {
	switch v := v.(type) {
	case ast.StringValueNode:
		return "\"" + escapeChars(v.AsString()) + "\""
	case *ast.MessageLiteralNode:
		return "{\n" + pr.messageLiteral(v) + "}"
	case *ast.ArrayLiteralNode:
		return pr.list(v.Elements)
	case *ast.UintLiteralNode, *ast.NegativeIntLiteralNode, *ast.FloatLiteralNode, *ast.SignedFloatLiteralNode:
		return pr.number(pr.raw(v))
	}
	return pr.raw(v)
}

func (pr *printer) list(elems []ast.ValueNode) string {
	if pr.norm && len(elems) == 1 {
		return pr.value(elems[0])
	}
	var sb strings.Builder
	sb.WriteString("[\n")
	for i, e := range elems {
		s := pr.value(e)
		if i < len(elems)-1 {
			s += ","
		}
		indent(&sb, s)
	}
	sb.WriteString("]")
	return sb.String()
}

// messageLiteral is Confluent's formatOptionMap: "key: value" lines, a key
// given more than once becoming a list.
func (pr *printer) messageLiteral(m *ast.MessageLiteralNode) string {
	var keys []string
	vals := map[string][]ast.ValueNode{}
	for _, e := range m.Elements {
		k := string(e.Name.Name.AsIdentifier())
		if e.Name.IsExtension() || e.Name.IsAnyTypeReference() {
			if e.Name.IsAnyTypeReference() {
				k = string(e.Name.URLPrefix.AsIdentifier()) + "/" + k
			} else if pr.norm {
				if r := pr.resolve(k, pr.isExt); r != "" {
					k = r
				}
			}
			k = "[" + k + "]"
		}
		if _, ok := vals[k]; !ok {
			keys = append(keys, k)
		}
		if arr, ok := e.Val.(*ast.ArrayLiteralNode); ok {
			vals[k] = append(vals[k], arr.Elements...)
			if len(arr.Elements) == 0 && vals[k] == nil {
				vals[k] = []ast.ValueNode{}
			}
		} else {
			vals[k] = append(vals[k], e.Val)
		}
	}
	if pr.norm {
		kept := keys[:0]
		for _, k := range keys {
			if len(vals[k]) > 0 {
				kept = append(kept, k)
			}
		}
		keys = kept
		sort.Strings(keys)
	}
	var sb strings.Builder
	for i, k := range keys {
		var v string
		if vs := vals[k]; len(vs) == 1 {
			v = pr.value(vs[0])
		} else {
			v = pr.list(vs)
		}
		line := k + ": " + v
		if i < len(keys)-1 {
			line += ","
		}
		indent(&sb, line)
	}
	return sb.String()
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
