package protobuf

// Confluent's Protobuf compatibility rules (protobuf-provider's diff
// package: SchemaDiff, MessageSchemaDiff, FieldSchemaDiff, EnumSchemaDiff),
// re-implemented over protocompile's linked descriptors. The walk, the
// difference kinds, their paths ("#/Message/Nested/oneof/tag") and the set
// of compatible kinds are Confluent's; where Confluent iterates a Java
// HashSet the order is reproduced (javaHashOrder) so that messages come out
// in the same order.

import (
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// diffKind is Confluent's Difference.Type.
type diffKind string

const (
	packageChanged                 diffKind = "PACKAGE_CHANGED"
	messageAdded                   diffKind = "MESSAGE_ADDED"
	messageRemoved                 diffKind = "MESSAGE_REMOVED"
	messageMoved                   diffKind = "MESSAGE_MOVED"
	enumAdded                      diffKind = "ENUM_ADDED"
	enumRemoved                    diffKind = "ENUM_REMOVED"
	enumConstAdded                 diffKind = "ENUM_CONST_ADDED"
	enumConstChanged               diffKind = "ENUM_CONST_CHANGED"
	enumConstRemoved               diffKind = "ENUM_CONST_REMOVED"
	fieldAdded                     diffKind = "FIELD_ADDED"
	fieldRemoved                   diffKind = "FIELD_REMOVED"
	fieldNameChanged               diffKind = "FIELD_NAME_CHANGED"
	fieldKindChanged               diffKind = "FIELD_KIND_CHANGED"
	fieldScalarKindChanged         diffKind = "FIELD_SCALAR_KIND_CHANGED"
	fieldNamedTypeChanged          diffKind = "FIELD_NAMED_TYPE_CHANGED"
	fieldNumericLabelChanged       diffKind = "FIELD_NUMERIC_LABEL_CHANGED"
	fieldStringOrBytesLabelChanged diffKind = "FIELD_STRING_OR_BYTES_LABEL_CHANGED"
	requiredFieldAdded             diffKind = "REQUIRED_FIELD_ADDED"
	requiredFieldRemoved           diffKind = "REQUIRED_FIELD_REMOVED"
	oneofAdded                     diffKind = "ONEOF_ADDED"
	oneofRemoved                   diffKind = "ONEOF_REMOVED"
	oneofFieldAdded                diffKind = "ONEOF_FIELD_ADDED"
	oneofFieldRemoved              diffKind = "ONEOF_FIELD_REMOVED"
	oneofFieldMovedToTopLevel      diffKind = "ONEOF_FIELD_MOVED_TO_TOP_LEVEL"
	multipleFieldsMovedToOneof     diffKind = "MULTIPLE_FIELDS_MOVED_TO_ONEOF"
	fieldMovedToExistingOneof      diffKind = "FIELD_MOVED_TO_EXISTING_ONEOF"
)

// compatibleChange is Confluent's SchemaDiff.COMPATIBLE_CHANGES. Note that
// FIELD_REMOVED is compatible (the reader skips the unknown tag) while
// REQUIRED_FIELD_REMOVED and ONEOF_FIELD_REMOVED are not.
var compatibleChange = map[diffKind]bool{
	messageAdded: true, messageMoved: true,
	enumAdded: true, enumRemoved: true,
	enumConstAdded: true, enumConstChanged: true, enumConstRemoved: true,
	fieldAdded: true, fieldRemoved: true, fieldNameChanged: true,
	fieldStringOrBytesLabelChanged: true,
	oneofAdded:                     true, oneofRemoved: true, oneofFieldAdded: true,
	oneofFieldMovedToTopLevel: true,
}

// difference is one Confluent Difference: a kind at a path.
type difference struct {
	kind diffKind
	path string
}

// String is Confluent's Difference.toString(), with its two %s verbs (the
// reader's and the writer's role) left for the registry to fill in.
func (d difference) String() string {
	var desc string
	p := d.path
	switch d.kind {
	case packageChanged:
		desc = "The package at '" + p + "' in the %s schema does not match the package in the %s schema"
	case messageRemoved:
		desc = "The %s schema is missing a MESSAGE type at path '" + p + "' in the %s schema"
	case fieldKindChanged:
		desc = "The type of a field at path '" + p + "' in the %s schema does not match the %s schema"
	case fieldScalarKindChanged:
		desc = "The kind of a SCALAR field at path '" + p + "' in the %s schema does not match its kind in the %s schema"
	case fieldNamedTypeChanged:
		desc = "The type of a MESSAGE field at path '" + p + "' in the %s schema does not match its type in the %s schema"
	case fieldNumericLabelChanged:
		desc = "The label for a NUMERIC field at path '" + p + "' in the %s schema does not match its label in the %s schema"
	case requiredFieldAdded:
		desc = "A required field  at path '" + p + "' in the %s schema is missing in the %s schema"
	case requiredFieldRemoved:
		desc = "The %s schema is missing a required field at path: '" + p + "' in the %s schema"
	case oneofFieldRemoved:
		desc = "The %s schema is missing a oneof field at path '" + p + "' in the %s schema"
	case oneofFieldMovedToTopLevel:
		desc = "The oneof field at path '" + p + "' in the %s schema was moved out of its oneof to a top-level field in the %s schema"
	case multipleFieldsMovedToOneof:
		desc = "Multiple fields in the oneof at path '" + p + "' in the %s schema are outside a oneof in the %s schema"
	case fieldMovedToExistingOneof:
		desc = "A field in the oneof at path '" + p + "' in the %s schema is outside an existing oneof in the %s schema"
	}
	return `{errorType:"` + string(d.kind) + `", description:"` + desc + `"}`
}

// diffContext is Confluent's diff Context: the two schemas' types, the
// current path, the messages being compared (to stop on recursive types)
// and the differences found.
type diffContext struct {
	orig, upd *parsed
	active    map[protoreflect.MessageDescriptor]bool
	path      []string
	diffs     []difference
}

func (c *diffContext) add(k diffKind) {
	c.diffs = append(c.diffs, difference{kind: k, path: "#/" + strings.Join(c.path, "/")})
}

func (c *diffContext) push(parts ...string) { c.path = append(c.path, parts...) }
func (c *diffContext) pop(n int)            { c.path = c.path[:len(c.path)-n] }

func (c *diffContext) compatible() bool {
	for _, d := range c.diffs {
		if !compatibleChange[d.kind] {
			return false
		}
	}
	return true
}

// compare is Confluent's SchemaDiff.compare(original, update).
func compare(orig, upd *parsed) []difference {
	c := &diffContext{orig: orig, upd: upd, active: map[protoreflect.MessageDescriptor]bool{}}
	if orig.file.Package() != upd.file.Package() {
		c.add(packageChanged)
	}
	c.compareTypes(orig.file.Messages(), orig.file.Enums(), upd.file.Messages(), upd.file.Enums())
	return c.diffs
}

// wireMessages lists the messages Confluent's parser (Square Wire, reading
// the text) sees: without synthetic map entries and group messages.
func wireMessages(p *parsed, ms protoreflect.MessageDescriptors) ([]string, map[string]protoreflect.MessageDescriptor, map[string]int) {
	var names []string
	byName := map[string]protoreflect.MessageDescriptor{}
	index := map[string]int{}
	for i := 0; i < ms.Len(); i++ {
		m := ms.Get(i)
		if ti := p.types[string(m.FullName())]; ti.isMap || ti.isGroup {
			continue
		}
		n := string(m.Name())
		index[n] = len(names)
		names = append(names, n)
		byName[n] = m
	}
	return names, byName, index
}

func enumNames(es protoreflect.EnumDescriptors) ([]string, map[string]protoreflect.EnumDescriptor) {
	var names []string
	byName := map[string]protoreflect.EnumDescriptor{}
	for i := 0; i < es.Len(); i++ {
		e := es.Get(i)
		names = append(names, string(e.Name()))
		byName[string(e.Name())] = e
	}
	return names, byName
}

// compareTypes is Confluent's SchemaDiff.compareTypeElements.
func (c *diffContext) compareTypes(om protoreflect.MessageDescriptors, oe protoreflect.EnumDescriptors, um protoreflect.MessageDescriptors, ue protoreflect.EnumDescriptors) {
	oNames, oMsgs, oIdx := wireMessages(c.orig, om)
	uNames, uMsgs, uIdx := wireMessages(c.upd, um)
	for _, name := range javaHashOrder(oNames, uNames) {
		c.push(name)
		o, u := oMsgs[name], uMsgs[name]
		switch {
		case u == nil:
			c.add(messageRemoved)
		case o == nil:
			c.add(messageAdded)
		default:
			c.compareMessages(o, u)
			if oIdx[name] != uIdx[name] {
				c.add(messageMoved)
			}
		}
		c.pop(1)
	}
	oeNames, oEnums := enumNames(oe)
	ueNames, uEnums := enumNames(ue)
	for _, name := range javaHashOrder(oeNames, ueNames) {
		c.push(name)
		o, u := oEnums[name], uEnums[name]
		switch {
		case u == nil:
			c.add(enumRemoved)
		case o == nil:
			c.add(enumAdded)
		default:
			c.compareEnums(o, u)
		}
		c.pop(1)
	}
}

// compareEnums is Confluent's EnumSchemaDiff (every enum change is
// compatible there; the differences are kept for completeness).
func (c *diffContext) compareEnums(o, u protoreflect.EnumDescriptor) {
	byNum := func(e protoreflect.EnumDescriptor) (map[int32]string, []int32) {
		m := map[int32]string{}
		var nums []int32
		vs := e.Values()
		for i := 0; i < vs.Len(); i++ {
			v := vs.Get(i)
			if _, dup := m[int32(v.Number())]; !dup {
				nums = append(nums, int32(v.Number()))
			}
			m[int32(v.Number())] = string(v.Name())
		}
		return m, nums
	}
	om, on := byNum(o)
	um, un := byNum(u)
	for _, n := range sortedUnion(on, un) {
		c.push(strconv.Itoa(int(n)))
		on, inO := om[n]
		un, inU := um[n]
		switch {
		case !inU:
			c.add(enumConstRemoved)
		case !inO:
			c.add(enumConstAdded)
		case on != un:
			c.add(enumConstChanged)
		}
		c.pop(1)
	}
}

// realOneof is the field's oneof as Confluent's parser sees it: proto3
// optional's synthetic oneofs are not oneofs there.
func realOneof(f protoreflect.FieldDescriptor) protoreflect.OneofDescriptor {
	if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
		return o
	}
	return nil
}

// messageFields indexes a message's fields by number (top-level and oneof
// members alike), as Confluent's MessageSchemaDiff.collectFields. Group
// fields are left out: Confluent's parser keeps groups apart from fields.
func messageFields(m protoreflect.MessageDescriptor) (map[int32]protoreflect.FieldDescriptor, map[int32]string, map[string][]int32, []string) {
	byTag := map[int32]protoreflect.FieldDescriptor{}
	tagOneof := map[int32]string{}
	oneofs := map[string][]int32{}
	var oneofOrder []string
	os := m.Oneofs()
	for i := 0; i < os.Len(); i++ {
		o := os.Get(i)
		if o.IsSynthetic() {
			continue
		}
		oneofs[string(o.Name())] = nil
		oneofOrder = append(oneofOrder, string(o.Name()))
	}
	fs := m.Fields()
	for i := 0; i < fs.Len(); i++ {
		f := fs.Get(i)
		if f.Kind() == protoreflect.GroupKind && !f.IsMap() && isGroupMessage(f.Message()) {
			continue
		}
		n := int32(f.Number())
		byTag[n] = f
		if o := realOneof(f); o != nil {
			tagOneof[n] = string(o.Name())
			oneofs[string(o.Name())] = append(oneofs[string(o.Name())], n)
		}
	}
	return byTag, tagOneof, oneofs, oneofOrder
}

// compareMessages is Confluent's MessageSchemaDiff.compare.
func (c *diffContext) compareMessages(o, u protoreflect.MessageDescriptor) {
	if c.active[o] {
		return // already being compared further up: a recursive type
	}
	c.active[o] = true
	defer delete(c.active, o)

	oByTag, oTagOneof, oOneofs, _ := messageFields(o)
	uByTag, uTagOneof, uOneofs, uOneofOrder := messageFields(u)

	// A oneof removed by name none of whose members survive anywhere is a
	// complete deletion (compatible); surviving members make the dropped
	// ones removals.
	deleted := map[string]bool{}
	for name, tags := range oOneofs {
		if _, ok := uOneofs[name]; ok {
			continue
		}
		survives := false
		for _, t := range tags {
			if _, ok := uByTag[t]; ok {
				survives = true
				break
			}
		}
		if !survives {
			deleted[name] = true
		}
	}

	// Newly introduced mutual exclusion: an update oneof whose pre-existing
	// members come from more than one original group (a oneof, or each
	// top-level field on its own).
	for _, name := range uOneofOrder {
		c.push(name)
		groups := map[string]bool{}
		movedIn := 0
		for _, t := range uOneofs[name] {
			if on, ok := oTagOneof[t]; ok {
				groups["oneof:"+on] = true
			} else if _, ok := oByTag[t]; ok {
				groups["field:"+strconv.Itoa(int(t))] = true
				movedIn++
			}
		}
		if len(groups) > 1 {
			if movedIn > 1 {
				c.add(multipleFieldsMovedToOneof)
			} else {
				c.add(fieldMovedToExistingOneof)
			}
		}
		c.pop(1)
	}

	for _, name := range sortedUnionStrings(keys(oOneofs), keys(uOneofs)) {
		c.push(name)
		_, inO := oOneofs[name]
		_, inU := uOneofs[name]
		if !inU {
			c.add(oneofRemoved)
		} else if !inO {
			c.add(oneofAdded)
		}
		c.pop(1)
	}

	for _, tag := range sortedUnion(keys32(oByTag), keys32(uByTag)) {
		of, uf := oByTag[tag], uByTag[tag]
		oOneof, uOneof := oTagOneof[tag], uTagOneof[tag]
		ts := strconv.Itoa(int(tag))
		switch {
		case uf == nil:
			if oOneof != "" {
				if !deleted[oOneof] {
					c.push(oOneof, ts)
					c.add(oneofFieldRemoved)
					c.pop(2)
				}
			} else {
				c.push(ts)
				if of.Cardinality() == protoreflect.Required {
					c.add(requiredFieldRemoved)
				} else {
					c.add(fieldRemoved)
				}
				c.pop(1)
			}
		case of == nil:
			if uOneof != "" {
				c.push(uOneof, ts)
				c.add(oneofFieldAdded)
				c.pop(2)
			} else {
				c.push(ts)
				if uf.Cardinality() == protoreflect.Required {
					c.add(requiredFieldAdded)
				} else {
					c.add(fieldAdded)
				}
				c.pop(1)
			}
		default:
			if oOneof != "" && uOneof == "" {
				c.push(ts)
				c.add(oneofFieldMovedToTopLevel)
				c.pop(1)
			}
			if uOneof != "" {
				c.push(uOneof, ts)
				c.compareFields(of, uf)
				c.pop(2)
			} else {
				c.push(ts)
				c.compareFields(of, uf)
				c.pop(1)
			}
		}
	}
	c.compareTypes(o.Messages(), o.Enums(), u.Messages(), u.Enums())
}

// fieldKind is Confluent's FieldSchemaDiff.Kind.
type fieldKind int

const (
	kindScalar fieldKind = iota
	kindMap
	kindMessage
)

// scalarKind is Confluent's ScalarKind: the groups within which a scalar
// type may change without breaking readers.
type scalarKind string

func scalarKindOf(f protoreflect.FieldDescriptor) scalarKind {
	switch f.Kind() {
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Uint32Kind, protoreflect.Uint64Kind,
		protoreflect.BoolKind, protoreflect.EnumKind:
		return "GENERAL_NUMBER"
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return "SIGNED_NUMBER"
	case protoreflect.StringKind, protoreflect.BytesKind:
		return "STRING_OR_BYTES"
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		return "FIXED32"
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		return "FIXED64"
	case protoreflect.FloatKind:
		return "FLOAT"
	case protoreflect.DoubleKind:
		return "DOUBLE"
	}
	return "ANY"
}

func kindOf(f protoreflect.FieldDescriptor) fieldKind {
	switch {
	case f.IsMap():
		return kindMap
	case f.Kind() == protoreflect.MessageKind || f.Kind() == protoreflect.GroupKind:
		return kindMessage
	}
	return kindScalar // enums count as scalars
}

// wireLabel is the field's label as Confluent's parser records it: none
// ("") for proto3 fields without a label and for oneof members. Confluent
// compares labels only when both fields have one.
func wireLabel(f protoreflect.FieldDescriptor) string {
	switch {
	case f.Cardinality() == protoreflect.Repeated:
		return "repeated"
	case f.Cardinality() == protoreflect.Required:
		return "required"
	case realOneof(f) != nil:
		return ""
	case f.ParentFile().Syntax() == protoreflect.Proto2:
		return "optional"
	case f.HasOptionalKeyword():
		return "optional"
	}
	return ""
}

// compareFields is Confluent's FieldSchemaDiff.compare.
func (c *diffContext) compareFields(o, u protoreflect.FieldDescriptor) {
	if o.Name() != u.Name() {
		c.add(fieldNameChanged)
	}
	c.compareLabelsAndTypes(o, u, wireLabel(o), wireLabel(u))
}

func (c *diffContext) compareLabelsAndTypes(o, u protoreflect.FieldDescriptor, oLabel, uLabel string) {
	ok, uk := kindOf(o), kindOf(u)
	if ok != uk {
		c.add(fieldKindChanged)
		return
	}
	switch ok {
	case kindScalar:
		os, us := scalarKindOf(o), scalarKindOf(u)
		if os != us {
			c.add(fieldScalarKindChanged)
		} else if oLabel != "" && uLabel != "" && oLabel != uLabel {
			if os == "STRING_OR_BYTES" {
				c.add(fieldStringOrBytesLabelChanged)
			} else {
				c.add(fieldNumericLabelChanged)
			}
		}
	case kindMessage:
		c.compareMessageTypes(o.Message(), u.Message())
	case kindMap:
		// Map keys and values are compared without labels.
		c.compareLabelsAndTypes(o.MapKey(), u.MapKey(), "", "")
		c.compareLabelsAndTypes(o.MapValue(), u.MapValue(), "", "")
	}
}

// compareMessageTypes is Confluent's FieldSchemaDiff.compareMessageTypes:
// the types must have the same name relative to their packages, and when
// they do not both come from the schema itself (Confluent: from the same
// reference subject and version) their contents are compared too.
func (c *diffContext) compareMessageTypes(o, u protoreflect.MessageDescriptor) {
	oFull, uFull := string(o.FullName()), string(u.FullName())
	oInfo, okO := c.orig.types[oFull]
	uInfo, okU := c.upd.types[uFull]
	if !okO || !okU {
		if oFull != uFull {
			c.add(fieldNamedTypeChanged)
		}
		return
	}
	oLocal := localName(oFull, oInfo.pkg)
	uLocal := localName(uFull, uInfo.pkg)
	if oLocal != uLocal {
		c.add(fieldNamedTypeChanged)
		return
	}
	if c.sameSource(oInfo, uInfo) {
		return
	}
	sub := &diffContext{orig: c.orig, upd: c.upd, active: c.active, path: strings.Split(oLocal, ".")}
	sub.compareMessages(o, u)
	c.diffs = append(c.diffs, sub.diffs...)
	if !sub.compatible() {
		c.add(fieldNamedTypeChanged)
	}
}

// sameSource approximates Confluent's "both are local or refer to the same
// subject-version": both from the schema itself, or both from a reference
// of the same name and text.
func (c *diffContext) sameSource(o, u typeInfo) bool {
	if o.file == rootPath || u.file == rootPath {
		return o.file == rootPath && u.file == rootPath
	}
	ot, okO := c.orig.refText[o.file]
	ut, okU := c.upd.refText[u.file]
	return okO && okU && o.file == u.file && ot == ut
}

func localName(full, pkg string) string {
	if pkg != "" && strings.HasPrefix(full, pkg+".") {
		return full[len(pkg)+1:]
	}
	return full
}

func keys(m map[string][]int32) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func keys32(m map[int32]protoreflect.FieldDescriptor) []int32 {
	out := make([]int32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sortedUnion(a, b []int32) []int32 {
	seen := map[int32]bool{}
	var out []int32
	for _, s := range [][]int32{a, b} {
		for _, v := range s {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func sortedUnionStrings(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range [][]string{a, b} {
		for _, v := range s {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	// Java's TreeSet<String> orders by UTF-16 code units; for the ASCII
	// identifiers protobuf allows that is byte order.
	sort.Strings(out)
	return out
}

// javaHashOrder is the iteration order of Confluent's
//
//	Set<String> all = new HashSet<>(originalMap.keySet()); all.addAll(updateMap.keySet());
//
// where both maps are HashMaps filled in declaration order: Java iterates a
// hash table by bucket (hash spread and masked by the table size), and
// within a bucket by insertion order.
func javaHashOrder(orig, upd []string) []string {
	o := newJavaHashSet(16)
	for _, s := range orig {
		o.add(s)
	}
	u := newJavaHashSet(16)
	for _, s := range upd {
		u.add(s)
	}
	oKeys := o.order()
	initial := int(float32(len(oKeys))/0.75) + 1
	if initial < 16 {
		initial = 16
	}
	all := newJavaHashSet(initial)
	for _, s := range oKeys {
		all.add(s)
	}
	for _, s := range u.order() {
		all.add(s)
	}
	return all.order()
}

// javaHashSet mimics java.util.HashSet's iteration order (not its trees).
type javaHashSet struct {
	buckets [][]string
	size    int
	member  map[string]bool
}

func newJavaHashSet(initial int) *javaHashSet {
	n := 1
	for n < initial {
		n <<= 1
	}
	return &javaHashSet{buckets: make([][]string, n), member: map[string]bool{}}
}

func javaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 { // a surrogate pair in UTF-16
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

func (s *javaHashSet) index(k string, n int) int {
	h := uint32(javaStringHash(k))
	h ^= h >> 16
	return int(h & uint32(n-1))
}

func (s *javaHashSet) add(k string) {
	if s.member[k] {
		return
	}
	s.member[k] = true
	i := s.index(k, len(s.buckets))
	s.buckets[i] = append(s.buckets[i], k)
	s.size++
	if float64(s.size) > 0.75*float64(len(s.buckets)) {
		old := s.order()
		s.buckets = make([][]string, 2*len(s.buckets))
		for _, k := range old {
			i := s.index(k, len(s.buckets))
			s.buckets[i] = append(s.buckets[i], k)
		}
	}
}

func (s *javaHashSet) order() []string {
	out := make([]string, 0, s.size)
	for _, b := range s.buckets {
		out = append(out, b...)
	}
	return out
}
