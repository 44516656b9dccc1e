package avro

// The parser, following Avro Java 1.12's Schema.Parser as Confluent's
// AvroSchemaProvider configures it: for a new schema
// NameValidator.STRICT_VALIDATOR and validateDefaults=true; for a
// registered one NO_VALIDATION, no default checks, then Confluent's own
// name check. Error texts are Avro Java's, so a 42201's message reads like
// Confluent's.

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/moldau/moldau/broker/schemareg/schema"
)

// parseError is a schema parse failure; Error is Avro's message.
type parseError struct{ msg string }

func (e *parseError) Error() string { return e.msg }

func failf(format string, args ...any) {
	panic(&parseError{msg: fmt.Sprintf(format, args...)})
}

// context is the parser's ParseContext: the named types known so far
// (those of references first) and the references still to resolve.
type context struct {
	names map[string]*node
	// validator checks names: strictName for a new schema; noName for a
	// registered one (Confluent parses those with NO_VALIDATION and then
	// checks the main schema's names with the UTF validator, see lenient).
	validator func(s string, present bool) string
	// lenient skips what Confluent skips for registered schemas:
	// namespace parts and default values.
	lenient bool
	// pending holds every slot that points to an unresolved reference.
	pending []**node
	// defaulted holds fields with defaults, validated after resolution.
	defaulted []*field
	// unions are checked for nested and duplicate branches after resolution.
	unions []*node
	// containers counts the JSON objects and arrays of every text parsed
	// into the context, bounded by schema.MaxJSONContainers.
	containers int
}

func newContext() *context { return &context{names: map[string]*node{}, validator: strictName} }

// parseSchema parses one schema text into ctx; resolve must be called once
// every text of the context is parsed.
func (c *context) parseSchema(text string) (root *node, err error) {
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(*parseError)
			if !ok {
				panic(r)
			}
			err = pe
		}
	}()
	// Every step below recurses once per level of nesting: bound it
	// first, as Jackson (which Avro Java parses with) does.
	if msg := schema.JSONNestingError(text); msg != "" {
		return nil, &parseError{msg: msg}
	}
	_, containers := schema.ScanJSON(text, schema.MaxJSONNestingDepth)
	if c.containers += containers; c.containers > schema.MaxJSONContainers {
		return nil, &parseError{msg: schema.JSONContainersError()}
	}
	v, jerr := parseJSON(text)
	if jerr != nil {
		return nil, &parseError{msg: jerr.Error()}
	}
	root = c.parse(v, "")
	c.track(&root)
	c.resolveAll()
	for _, u := range c.unions {
		validateUnion(u)
	}
	c.unions = nil
	if !c.lenient {
		c.validateDefaults()
	}
	return root, nil
}

func (c *context) parse(v *jsonValue, ns string) *node {
	switch v.kind {
	case jsonString:
		return c.find(v.str, ns)
	case jsonObject:
		t, ok := v.get("type").text()
		if !ok {
			failf("No type: %s", v)
		}
		if k, prim := primitives[t]; prim {
			n := &node{kind: k}
			c.props(n, v, schemaReserved)
			return n
		}
		switch t {
		case "record", "error":
			return c.parseRecord(v, ns, t == "error")
		case "enum":
			return c.parseEnum(v, ns)
		case "array":
			items := v.get("items")
			if items == nil {
				failf("Array has no items type: %s", v)
			}
			n := &node{kind: kArray}
			n.items = c.parse(items, ns)
			c.track(&n.items)
			c.props(n, v, schemaReserved)
			return n
		case "map":
			values := v.get("values")
			if values == nil {
				failf("Map has no values type: %s", v)
			}
			n := &node{kind: kMap}
			n.values = c.parse(values, ns)
			c.track(&n.values)
			c.props(n, v, schemaReserved)
			return n
		case "fixed":
			return c.parseFixed(v, ns)
		}
		failf(`A schema "type" MUST be a primitive type or one of "enum", "fixed", "record", "error", "array" or "map".`)
	case jsonArray:
		n := &node{kind: kUnion}
		for _, b := range v.arr {
			n.branches = append(n.branches, c.parse(b, ns))
		}
		for i := range n.branches {
			c.track(&n.branches[i])
		}
		c.unions = append(c.unions, n)
		return n
	}
	failf("Schema not yet supported: %s", v)
	return nil
}

// find is ParseContext.find: a primitive, a type known by its full name in
// ns, or by the name as written; otherwise an unresolved reference.
func (c *context) find(s, ns string) *node {
	if k, ok := primitives[s]; ok {
		return &node{kind: k}
	}
	full := s
	if ns != "" && !strings.Contains(s, ".") {
		full = ns + "." + s
	}
	if n := c.names[full]; n != nil {
		return n
	}
	if n := c.names[s]; n != nil {
		return n
	}
	return &node{ref: full, name: name{name: s}}
}

func (c *context) track(slot **node) {
	if (*slot).ref != "" {
		c.pending = append(c.pending, slot)
	}
}

func (c *context) resolveAll() {
	for _, slot := range c.pending {
		r := *slot
		n := c.names[r.ref]
		if n == nil {
			n = c.names[r.name.name]
		}
		if n == nil {
			failf("Undefined schema: %s", r.ref)
		}
		*slot = n
	}
	c.pending = nil
}

var (
	schemaReserved = set("doc", "fields", "items", "name", "namespace", "size", "symbols", "values", "type", "aliases")
	enumReserved   = set("doc", "fields", "items", "name", "namespace", "size", "symbols", "values", "type", "aliases", "default")
	fieldReserved  = set("default", "doc", "name", "order", "type", "aliases")
)

func set(keys ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// props copies v's non-reserved keys, in order, and decides the logical type.
func (c *context) props(n *node, v *jsonValue, reserved map[string]bool) {
	n.props = copyProps(v, reserved)
	n.logical = logicalType(n)
}

func copyProps(v *jsonValue, reserved map[string]bool) *jsonValue {
	var p *jsonValue
	for _, k := range v.keys {
		if reserved[k] {
			continue
		}
		if p == nil {
			p = newObject()
		}
		p.set(k, v.values[k])
	}
	return p
}

// noName is NameValidator.NO_VALIDATION.
func noName(string, bool) string { return "" }

// utfName is NameValidator.UTF_VALIDATOR: letters and digits of any script.
func utfName(s string, present bool) string {
	if !present {
		return "Null name"
	}
	if s == "" {
		return "Empty name"
	}
	for i, r := range s {
		letter := unicode.IsLetter(r) || r == '_'
		if i == 0 && !letter {
			return "Illegal initial character: " + s
		}
		if !letter && !unicode.IsDigit(r) {
			return "Illegal character in: " + s
		}
	}
	return ""
}

// strictName is NameValidator.STRICT_VALIDATOR; it returns the error text.
func strictName(s string, present bool) string {
	if !present {
		return "Null name"
	}
	if s == "" {
		return "Empty name"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if i == 0 && !letter {
			return "Illegal initial character: " + s
		}
		if !letter && !(c >= '0' && c <= '9') {
			return "Illegal character in: " + s
		}
	}
	return ""
}

func (c *context) checkName(s string) {
	if msg := c.validator(s, true); msg != "" {
		failf("%s", msg)
	}
}

func (c *context) parseName(v *jsonValue, ns string) name {
	n, ok := v.get("name").text()
	if !ok {
		failf("No name in schema: %s", v)
	}
	if space, ok := v.get("namespace").text(); ok {
		ns = space
	}
	nm := newName(n, ns)
	c.checkName(nm.name)
	return nm
}

func (c *context) parseDoc(v *jsonValue) *string {
	if d, ok := v.get("doc").text(); ok {
		return &d
	}
	return nil
}

func parseAliases(v *jsonValue) ([]string, bool) {
	a := v.get("aliases")
	if a == nil {
		return nil, false
	}
	if a.kind != jsonArray {
		failf("aliases not an array: %s", v)
	}
	var out []string
	seen := map[string]bool{}
	for _, e := range a.arr {
		s, ok := e.text()
		if !ok {
			failf("alias not a string: %s", e)
		}
		if !seen[s] { // a LinkedHashSet
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, true
}

func (c *context) namedAliases(n *node, v *jsonValue) {
	aliases, _ := parseAliases(v)
	for _, a := range aliases {
		an := newName(a, n.name.space)
		c.checkName(an.name)
		dup := false
		for _, x := range n.aliases {
			dup = dup || x == an
		}
		if !dup {
			n.aliases = append(n.aliases, an)
		}
	}
}

// define is ParseContext.put: the full name's parts must be valid and a
// name can be defined once (again only with an equal schema).
func (c *context) define(n *node) {
	full := n.name.full()
	parts := strings.Split(full, ".")
	for _, p := range parts[:len(parts)-1] {
		if msg := c.validator(p, true); msg != "" && !c.lenient {
			failf("Namespace part %q is invalid: %s", p, msg)
		}
	}
	if _, prim := primitives[full]; prim {
		failf("Schemas may not be named after primitives: %s", full)
	}
	if old := c.names[full]; old != nil {
		if !sameSchema(old, n, map[pair]bool{}) {
			failf("Can't redefine: %s", full)
		}
		return
	}
	c.names[full] = n
}

func (c *context) parseRecord(v *jsonValue, ns string, isError bool) *node {
	n := &node{kind: kRecord, isError: isError}
	n.name = c.parseName(v, ns)
	if _, prim := primitives[n.name.full()]; prim {
		failf("Schemas may not be named after primitives: %s", n.name.full())
	}
	n.doc = c.parseDoc(v)
	fs := v.get("fields")
	if fs == nil || fs.kind != jsonArray {
		failf("Record has no fields: %s", v)
	}
	for _, fv := range fs.arr {
		n.fields = append(n.fields, c.parseField(fv, n.name.space))
	}
	seen := map[string]*field{}
	for i, f := range n.fields {
		f.pos = i
		if old := seen[f.name]; old != nil {
			failf("Duplicate field %s in record %s: %s type:%s pos:%d and %s type:%s pos:%d.",
				f.name, n.name.full(), f.name, f.typ.kindName(), i, old.name, old.typ.kindName(), old.pos)
		}
		seen[f.name] = f
	}
	c.props(n, v, schemaReserved)
	c.namedAliases(n, v)
	c.define(n)
	return n
}

// kindName is Schema.Type's constant name, as Field.toString prints it.
func (n *node) kindName() string {
	if n.ref != "" {
		return "RECORD"
	}
	return n.kind.javaName()
}

func (c *context) parseField(v *jsonValue, ns string) *field {
	fname, ok := v.get("name").text()
	if !ok {
		failf("No field name: %s", v)
	}
	f := &field{name: fname, order: "ascending"}
	f.doc = c.parseDoc(v)
	tv := v.get("type")
	if tv == nil {
		failf("No field type: %s", v)
	}
	f.typ = c.parse(tv, ns)
	c.track(&f.typ)
	if o := v.get("order"); o != nil {
		s, _ := o.text()
		switch strings.ToUpper(s) {
		case "ASCENDING", "DESCENDING", "IGNORE":
			f.order = strings.ToLower(s)
		default:
			failf("No enum constant org.apache.avro.Schema.Field.Order.%s", strings.ToUpper(s))
		}
	}
	c.checkName(fname)
	if d := v.get("default"); d != nil {
		if (f.typ.kind == kFloat || f.typ.kind == kDouble) && f.typ.ref == "" && d.kind == jsonString {
			x, err := strconv.ParseFloat(d.str, 64)
			if err != nil && !isJavaFloatWord(d.str) {
				failf("For input string: %q", d.str)
			}
			d = jsonFloat(javaParseDouble(d.str, x))
		}
		f.def = d
		c.defaulted = append(c.defaulted, f)
	}
	f.props = copyProps(v, fieldReserved)
	f.aliases, _ = parseAliases(v)
	return f
}

func isJavaFloatWord(s string) bool {
	switch strings.TrimSpace(s) {
	case "NaN", "Infinity", "+Infinity", "-Infinity":
		return true
	}
	return false
}

func javaParseDouble(s string, x float64) float64 {
	switch strings.TrimSpace(s) {
	case "NaN":
		return math.NaN()
	case "Infinity", "+Infinity":
		return math.Inf(1)
	case "-Infinity":
		return math.Inf(-1)
	}
	return x
}

func (c *context) parseEnum(v *jsonValue, ns string) *node {
	n := &node{kind: kEnum}
	n.name = c.parseName(v, ns)
	n.doc = c.parseDoc(v)
	syms := v.get("symbols")
	if syms == nil || syms.kind != jsonArray {
		failf("Enum has no symbols: %s", v)
	}
	seen := map[string]bool{}
	for _, s := range syms.arr {
		sym, ok := s.text()
		if msg := c.validator(sym, ok); msg != "" {
			failf("%s", msg)
		}
		if seen[sym] {
			failf("Duplicate enum symbol: %s", sym)
		}
		seen[sym] = true
		n.symbols = append(n.symbols, sym)
	}
	if d := v.get("default"); d != nil {
		if s, ok := d.text(); ok {
			n.enumDefault = &s
			if !seen[s] {
				failf("The Enum Default: %s is not in the enum symbol set: [%s]", s, strings.Join(n.symbols, ", "))
			}
		}
	}
	c.props(n, v, enumReserved)
	c.namedAliases(n, v)
	c.define(n)
	return n
}

func (c *context) parseFixed(v *jsonValue, ns string) *node {
	n := &node{kind: kFixed}
	n.name = c.parseName(v, ns)
	n.doc = c.parseDoc(v)
	size := v.get("size")
	if size == nil || !size.fitsInt(32) {
		failf("Invalid or no size: %s", v)
	}
	n.size, _ = strconv.Atoi(size.num)
	if n.size < 0 {
		failf("Malformed data. Length is negative: %d", n.size)
	}
	c.props(n, v, schemaReserved)
	c.namedAliases(n, v)
	c.define(n)
	return n
}

// validateUnion applies UnionSchema's constructor checks once the
// references are resolved (a branch's full name is known only then).
func validateUnion(n *node) {
	seen := map[string]bool{}
	for _, b := range n.branches {
		if b.kind == kUnion {
			failf("Nested union: %s", toJSON(n, nil))
		}
		fn := b.fullName()
		if seen[fn] {
			failf("Duplicate in union:%s", fn)
		}
		seen[fn] = true
	}
}

// validateDefaults is Schema.validateDefault for every field with a
// default, and the union checks, after resolution.
func (c *context) validateDefaults() {
	for _, f := range c.defaulted {
		if !validDefault(f.typ, f.def) {
			failf("Invalid default for field %s: %s not a %s", f.name, f.def, toJSON(f.typ, nil))
		}
	}
	c.defaulted = nil
}

// validDefault is Schema.isValidDefault (Avro 1.12: a union's default may
// match any branch).
func validDefault(n *node, d *jsonValue) bool {
	if d == nil {
		return false
	}
	switch n.kind {
	case kString, kBytes, kEnum, kFixed:
		return d.kind == jsonString
	case kInt:
		return d.fitsInt(32)
	case kLong:
		return d.fitsInt(64)
	case kFloat, kDouble:
		return d.kind == jsonNumber
	case kBoolean:
		return d.kind == jsonBool
	case kNull:
		return d.kind == jsonNull
	case kArray:
		if d.kind != jsonArray {
			return false
		}
		for _, e := range d.arr {
			if !validDefault(n.items, e) {
				return false
			}
		}
		return true
	case kMap:
		if d.kind != jsonObject {
			return false
		}
		for _, k := range d.keys {
			if !validDefault(n.values, d.values[k]) {
				return false
			}
		}
		return true
	case kUnion:
		for _, b := range n.branches {
			if validValue(b, d) {
				return true
			}
		}
		return false
	case kRecord:
		if d.kind != jsonObject {
			return false
		}
		for _, f := range n.fields {
			v := d.get(f.name)
			if v == nil {
				v = f.def
			}
			if !validValue(f.typ, v) {
				return false
			}
		}
		return true
	}
	return false
}

func validValue(n *node, v *jsonValue) bool {
	if v == nil {
		return false
	}
	if n.kind == kUnion {
		for _, b := range n.branches {
			if validDefault(b, v) {
				return true
			}
		}
		return false
	}
	return validDefault(n, v)
}

// logicalType is LogicalTypes.fromSchemaIgnoreInvalid: the logicalType
// property's name when the type and parameters are valid, else "".
func logicalType(n *node) string {
	lt, ok := n.props.get("logicalType").text()
	if !ok {
		return ""
	}
	switch lt {
	case "decimal":
		if n.kind != kBytes && n.kind != kFixed {
			return ""
		}
		p, s, ok := decimalParams(n)
		if !ok || p <= 0 || s < 0 || s > p {
			return ""
		}
		if n.kind == kFixed && p > maxFixedPrecision(n.size) {
			return ""
		}
	case "uuid":
		if n.kind != kString && !(n.kind == kFixed && n.size == 16) {
			return ""
		}
	case "date", "time-millis":
		if n.kind != kInt {
			return ""
		}
	case "time-micros", "timestamp-millis", "timestamp-micros", "timestamp-nanos",
		"local-timestamp-millis", "local-timestamp-micros", "local-timestamp-nanos":
		if n.kind != kLong {
			return ""
		}
	case "duration":
		if n.kind != kFixed || n.size != 12 {
			return ""
		}
	case "big-decimal":
		if n.kind != kBytes {
			return ""
		}
	default:
		return "" // unknown logical types are ignored (kept as properties)
	}
	return lt
}

func decimalParams(n *node) (precision, scale int, ok bool) {
	pv := n.props.get("precision")
	if pv == nil || !pv.fitsInt(32) {
		return 0, 0, false
	}
	precision, _ = strconv.Atoi(pv.num)
	if sv := n.props.get("scale"); sv != nil {
		if !sv.fitsInt(32) {
			return 0, 0, false
		}
		scale, _ = strconv.Atoi(sv.num)
	}
	return precision, scale, true
}

// maxFixedPrecision is the largest number of base-10 digits a signed
// two's-complement value of size bytes holds: floor(log10(2^(8*size-1)-1)).
func maxFixedPrecision(size int) int {
	if size <= 0 {
		return 0
	}
	return int(float64(8*size-1) * 0.30102999566398120)
}

// sameSchema is Avro Java's Schema.equals, which decides whether a second
// definition of a name is the same type: names, structure, defaults, field
// order and properties count; docs and aliases do not.
func sameSchema(a, b *node, seen map[pair]bool) bool {
	if a == b {
		return true
	}
	if a.ref != "" || b.ref != "" { // not resolved yet: compare by name
		return refName(a) == refName(b)
	}
	if a.kind != b.kind || !sameJSON(a.props, b.props) {
		return false
	}
	switch a.kind {
	case kRecord:
		if seen[pair{a, b}] {
			return true
		}
		seen[pair{a, b}] = true
		if a.name.full() != b.name.full() || len(a.fields) != len(b.fields) {
			return false
		}
		for i, fa := range a.fields {
			fb := b.fields[i]
			if fa.name != fb.name || fa.order != fb.order || !sameJSON(fa.def, fb.def) ||
				!sameJSON(fa.props, fb.props) || !sameSchema(fa.typ, fb.typ, seen) {
				return false
			}
		}
		return true
	case kEnum:
		return a.name.full() == b.name.full() && strings.Join(a.symbols, ",") == strings.Join(b.symbols, ",")
	case kFixed:
		return a.name.full() == b.name.full() && a.size == b.size
	case kArray:
		return sameSchema(a.items, b.items, seen)
	case kMap:
		return sameSchema(a.values, b.values, seen)
	case kUnion:
		if len(a.branches) != len(b.branches) {
			return false
		}
		for i := range a.branches {
			if !sameSchema(a.branches[i], b.branches[i], seen) {
				return false
			}
		}
	}
	return true
}

func refName(n *node) string {
	if n.ref != "" {
		return n.ref
	}
	return n.fullName()
}

// sameJSON is JsonNode.equals: objects compare regardless of key order.
func sameJSON(a, b *jsonValue) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case jsonBool:
		return a.b == b.b
	case jsonNumber:
		return a.isInt == b.isInt && a.num == b.num && (a.isInt || a.f == b.f || a.f != a.f && b.f != b.f)
	case jsonString:
		return a.str == b.str
	case jsonArray:
		if len(a.arr) != len(b.arr) {
			return false
		}
		for i := range a.arr {
			if !sameJSON(a.arr[i], b.arr[i]) {
				return false
			}
		}
	case jsonObject:
		if len(a.keys) != len(b.keys) {
			return false
		}
		for _, k := range a.keys {
			if !sameJSON(a.values[k], b.values[k]) {
				return false
			}
		}
	}
	return true
}

// checkMainNames runs checkNames, returning its failure as an error.
func checkMainNames(root *node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(*parseError)
			if !ok {
				panic(r)
			}
			err = pe
		}
	}()
	checkNames(root, map[*node]bool{})
	return nil
}

// checkNames is Confluent's AvroSchemaUtils.validateNames, applied to a
// registered schema's main schema: the simple names of named types, field
// names and enum symbols with the UTF validator; namespaces and aliases are
// not checked.
func checkNames(n *node, seen map[*node]bool) {
	if seen[n] {
		return
	}
	seen[n] = true
	check := func(s string) {
		if msg := utfName(s, true); msg != "" {
			failf("%s", msg)
		}
	}
	switch n.kind {
	case kRecord:
		check(n.name.name)
		for _, f := range n.fields {
			check(f.name)
			checkNames(f.typ, seen)
		}
	case kEnum:
		check(n.name.name)
		for _, s := range n.symbols {
			check(s)
		}
	case kFixed:
		check(n.name.name)
	case kArray:
		checkNames(n.items, seen)
	case kMap:
		checkNames(n.values, seen)
	case kUnion:
		for _, b := range n.branches {
			checkNames(b, seen)
		}
	}
}
