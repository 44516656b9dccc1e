package jsonschema

// Confluent's JSON Schema diff does not compare JSON text: it compares the
// object model the Everit loader builds (StringSchema, NumberSchema,
// ObjectSchema, ArraySchema, EnumSchema, ConstSchema, CombinedSchema,
// NotSchema, EmptySchema/TrueSchema/FalseSchema, ReferenceSchema ...).
// This file builds the same shape of model from the schema that
// santhosh-tekuri/jsonschema compiled (which has resolved every $ref,
// across the referenced documents too), following Everit's loader:
//
//   - in drafts 4-7 a $ref replaces its schema (siblings are ignored) and
//     the diff looks through it to the referred schema;
//   - each of enum, allOf, anyOf, oneOf, not, const, the explicit type(s)
//     and the keywords of a type that "type" does not name (e.g. "properties"
//     without "type") extracts one schema; several are combined into a
//     synthetic allOf, none is the empty schema;
//   - "type": [a, b] is an anyOf of one schema per type, "integer" is a
//     NumberSchema that requires integers.

import (
	"encoding/json"
	"math/big"
	"slices"
	"sort"

	jsch "github.com/santhosh-tekuri/jsonschema/v6"
)

type kind int

const (
	kindEmpty kind = iota // {} (EmptySchema)
	kindTrue              // true (TrueSchema, a kind of EmptySchema)
	kindFalse             // false
	kindString
	kindNumber // "number" and "integer"
	kindBoolean
	kindNull
	kindObject
	kindArray
	kindEnum
	kindConst
	kindCombined
	kindNot
	kindConditional // if/then/else: compared by its common attributes only
)

// node is one schema of the model. Nodes form a graph (recursive $refs
// make cycles); a node is not changed after the model is built.
type node struct {
	kind kind
	key  string // the subschema's JSON, to collapse duplicates in a combined schema

	// common attributes
	id, title, description string
	def                    *any
	connectType            string // Kafka Connect's "connect.type" annotation

	// string
	minLength, maxLength *int
	pattern              string // "" when absent

	// number
	requiresInteger                                 bool
	maximum, minimum, exclMaximum, exclMinimum, mul *big.Rat

	// object
	properties         map[string]*node
	propertyDefault    map[string]bool // the property's schema (before any $ref) has a default
	required           map[string]bool
	patternProperties  []patternProperty
	additionalAllowed  bool  // permitsAdditionalProperties
	additional         *node // schemaOfAdditionalProperties
	propertyDeps       map[string][]string
	schemaDeps         map[string]*node
	unevalProperties   *node
	minProps, maxProps *int

	// array
	allItems                 *node   // items: {schema}
	itemSchemas              []*node // items: [..] / prefixItems
	additionalItemsAllowed   bool
	additionalItems          *node
	unevalItems              *node
	minItems, maxItems       *int
	uniqueItems              bool
	minContains, maxContains *int

	// enum and const
	enum     []any
	constVal any

	// combined
	criterion string // "allOf", "anyOf", "oneOf"
	subs      []*node

	// not
	not *node
}

type patternProperty struct {
	re     jsch.Regexp
	schema *node
}

// builder turns compiled schemas into nodes, once per schema.
type builder struct {
	done    map[*jsch.Schema]*node
	raw     func(location string) any                   // the JSON a compiled schema came from
	compile func(location string) (*jsch.Schema, error) // compiles a subschema by location
}

func (b *builder) build(s *jsch.Schema) *node {
	if s == nil {
		return nil
	}
	s = b.follow(s)
	if n, ok := b.done[s]; ok {
		return n
	}
	n := &node{}
	b.done[s] = n // placeholder: a cycle back to s sees this node, filled below
	*n = b.make(s)
	if n.key == "" {
		n.key = rawKey(b.raw(s.Location))
	}
	return n
}

// follow looks through a $ref (Everit's ReferenceSchema, which
// SchemaDiff.normalizeSchema replaces by the referred schema): in drafts 4-7
// siblings of $ref are ignored; from 2019-09 on only a $ref without other
// assertions is looked through. A loop of bare $refs ends at its start.
func (b *builder) follow(s *jsch.Schema) *jsch.Schema {
	seen := map[*jsch.Schema]bool{}
	for s.Ref != nil && s.Bool == nil && !seen[s] {
		if s.DraftVersion >= 2019 && !onlyRef(b.raw(s.Location)) {
			break
		}
		seen[s] = true
		s = s.Ref
	}
	return s
}

// annotations are keywords that do not change what a schema accepts.
var annotations = map[string]bool{
	"$ref": true, "$schema": true, "$id": true, "id": true, "$defs": true, "definitions": true,
	"$comment": true, "title": true, "description": true, "default": true, "examples": true,
	"$anchor": true, "$dynamicAnchor": true, "$vocabulary": true, "readOnly": true,
	"writeOnly": true, "deprecated": true,
}

func onlyRef(raw any) bool {
	m, ok := raw.(map[string]any)
	if !ok {
		return false
	}
	for k := range m {
		if !annotations[k] {
			return false
		}
	}
	return true
}

func rawKey(v any) string {
	out, err := json.Marshal(v) // map keys sorted: a stable key
	if err != nil {
		return ""
	}
	return string(out)
}

func (b *builder) make(s *jsch.Schema) node {
	if _, isBool := b.raw(s.Location).(bool); s.Bool != nil && isBool {
		// (the compiler also gives {} a Bool; Everit's {} is an EmptySchema)
		if *s.Bool {
			return node{kind: kindTrue}
		}
		return node{kind: kindFalse}
	}
	var parts []*node
	var refNode *node
	if s.Ref != nil {
		refNode = b.build(s.Ref)
		parts = append(parts, refNode)
	}
	if s.Enum != nil {
		parts = append(parts, &node{kind: kindEnum, enum: s.Enum.Values})
	}
	for _, c := range []struct {
		name string
		subs []*jsch.Schema
	}{{"allOf", s.AllOf}, {"anyOf", s.AnyOf}, {"oneOf", s.OneOf}} {
		if c.subs == nil {
			continue
		}
		cn := &node{kind: kindCombined, criterion: c.name}
		for _, sub := range c.subs {
			cn.subs = append(cn.subs, b.build(sub))
		}
		parts = append(parts, cn)
	}
	if s.Not != nil {
		parts = append(parts, &node{kind: kindNot, not: b.build(s.Not)})
	}
	if s.Const != nil {
		parts = append(parts, &node{kind: kindConst, constVal: *s.Const})
	}

	// "type": "t" is one schema; "type": [...] an anyOf in the array's
	// order, even of one type (Everit's buildAnyOfSchemaForMultipleTypes).
	var types []string
	typeArray := false
	if s.Types != nil {
		types = s.Types.ToStrings()
		raw, _ := b.raw(s.Location).(map[string]any)
		if arr, ok := raw["type"].([]any); ok {
			typeArray, types = true, nil
			for _, t := range arr {
				if t, ok := t.(string); ok && !slices.Contains(types, t) {
					types = append(types, t)
				}
			}
		}
	}
	named := map[string]bool{}
	for _, t := range types {
		named[t] = true
	}
	var typed []*node
	for _, t := range types {
		typed = append(typed, b.typed(s, t))
	}
	switch {
	case len(typed) == 0:
	case typeArray:
		parts = append(parts, &node{kind: kindCombined, criterion: "anyOf", subs: typed})
	default:
		parts = append(parts, typed[0])
	}
	// Keywords of a type that "type" does not name (Everit's property sniffer).
	if !named["array"] && b.hasArrayKeywords(s) {
		parts = append(parts, b.typed(s, "array"))
	}
	if !named["object"] && hasObjectKeywords(s) {
		parts = append(parts, b.typed(s, "object"))
	}
	if !named["number"] && !named["integer"] && hasNumberKeywords(s) {
		parts = append(parts, b.typed(s, "number"))
	}
	if !named["string"] && hasStringKeywords(s) {
		parts = append(parts, b.typed(s, "string"))
	}
	if s.If != nil || s.Then != nil || s.Else != nil {
		parts = append(parts, &node{kind: kindConditional})
	}

	var n node
	switch len(parts) {
	case 0:
		n = node{kind: kindEmpty}
	case 1:
		if parts[0] == refNode {
			// A shared node (maybe still being built): refer to it.
			n = node{kind: kindCombined, criterion: "allOf", subs: parts}
			break
		}
		n = *parts[0]
	default:
		n = node{kind: kindCombined, criterion: "allOf", subs: parts}
	}
	n.id, n.title, n.description, n.def = s.ID, s.Title, s.Description, s.Default
	if raw, ok := b.raw(s.Location).(map[string]any); ok {
		n.connectType, _ = raw["connect.type"].(string)
	}
	return n
}

// additionalItems compiles an additionalItems the compiler skipped (one
// without a tuple, drafts 4 to 2019-09), or returns nil.
func (b *builder) additionalItems(s *jsch.Schema) *jsch.Schema {
	if s.AdditionalItems != nil || s.DraftVersion >= 2020 {
		return nil
	}
	raw, _ := b.raw(s.Location).(map[string]any)
	if _, ok := raw["additionalItems"]; !ok {
		return nil
	}
	sub, err := b.compile(s.Location + "/additionalItems")
	if err != nil {
		return nil
	}
	return sub
}

func (b *builder) hasArrayKeywords(s *jsch.Schema) bool {
	return b.additionalItems(s) != nil || s.Items != nil || s.AdditionalItems != nil || s.PrefixItems != nil ||
		s.Items2020 != nil || s.MinItems != nil || s.MaxItems != nil || s.UniqueItems ||
		s.Contains != nil || s.UnevaluatedItems != nil
}

func hasObjectKeywords(s *jsch.Schema) bool {
	return s.Properties != nil || s.Required != nil || s.MinProperties != nil ||
		s.MaxProperties != nil || s.Dependencies != nil || s.DependentRequired != nil ||
		s.DependentSchemas != nil || s.PatternProperties != nil ||
		s.AdditionalProperties != nil || s.PropertyNames != nil || s.UnevaluatedProperties != nil
}

func hasNumberKeywords(s *jsch.Schema) bool {
	return s.Minimum != nil || s.Maximum != nil || s.ExclusiveMinimum != nil ||
		s.ExclusiveMaximum != nil || s.MultipleOf != nil
}

func hasStringKeywords(s *jsch.Schema) bool {
	return s.MinLength != nil || s.MaxLength != nil || s.Pattern != nil || s.Format != nil
}

// typed builds the schema of one JSON type from s's keywords for it.
func (b *builder) typed(s *jsch.Schema, t string) *node {
	switch t {
	case "null":
		return &node{kind: kindNull}
	case "boolean":
		return &node{kind: kindBoolean}
	case "string":
		n := &node{kind: kindString, minLength: s.MinLength, maxLength: s.MaxLength}
		if s.Pattern != nil {
			n.pattern = s.Pattern.String()
		}
		return n
	case "number", "integer":
		n := &node{kind: kindNumber, requiresInteger: t == "integer",
			maximum: s.Maximum, minimum: s.Minimum, exclMaximum: s.ExclusiveMaximum,
			exclMinimum: s.ExclusiveMinimum, mul: s.MultipleOf}
		if s.DraftVersion == 4 {
			// Draft 4's boolean exclusiveMaximum/Minimum qualify maximum and
			// minimum; Everit keeps the limit as maximum/minimum and the diff
			// does not look at the flag.
			raw, _ := b.raw(s.Location).(map[string]any)
			if v, _ := raw["exclusiveMaximum"].(bool); v {
				n.maximum, n.exclMaximum = s.ExclusiveMaximum, nil
			}
			if v, _ := raw["exclusiveMinimum"].(bool); v {
				n.minimum, n.exclMinimum = s.ExclusiveMinimum, nil
			}
		}
		return n
	case "object":
		return b.object(s)
	case "array":
		return b.array(s)
	}
	return &node{kind: kindEmpty}
}

func (b *builder) object(s *jsch.Schema) *node {
	n := &node{kind: kindObject, additionalAllowed: true,
		properties: map[string]*node{}, required: map[string]bool{},
		propertyDeps: map[string][]string{}, schemaDeps: map[string]*node{},
		minProps: s.MinProperties, maxProps: s.MaxProperties}
	n.propertyDefault = map[string]bool{}
	for name, p := range s.Properties {
		n.properties[name] = b.build(p)
		raw, _ := b.raw(p.Location).(map[string]any)
		_, hasDefault := raw["default"]
		n.propertyDefault[name] = p.Default != nil || hasDefault
	}
	for _, r := range s.Required {
		n.required[r] = true
	}
	res := make([]jsch.Regexp, 0, len(s.PatternProperties))
	for re := range s.PatternProperties {
		res = append(res, re)
	}
	sort.Slice(res, func(i, j int) bool { return res[i].String() < res[j].String() })
	for _, re := range res {
		n.patternProperties = append(n.patternProperties,
			patternProperty{re: re, schema: b.build(s.PatternProperties[re])})
	}
	switch a := s.AdditionalProperties.(type) {
	case bool:
		n.additionalAllowed = a
	case *jsch.Schema:
		n.additional = b.build(a)
	}
	for name, d := range s.Dependencies {
		switch d := d.(type) {
		case []string:
			n.propertyDeps[name] = d
		case *jsch.Schema:
			n.schemaDeps[name] = b.build(d)
		}
	}
	for name, d := range s.DependentRequired {
		n.propertyDeps[name] = d
	}
	for name, d := range s.DependentSchemas {
		n.schemaDeps[name] = b.build(d)
	}
	n.unevalProperties = b.build(s.UnevaluatedProperties)
	return n
}

func (b *builder) array(s *jsch.Schema) *node {
	n := &node{kind: kindArray, additionalItemsAllowed: true,
		minItems: s.MinItems, maxItems: s.MaxItems, uniqueItems: s.UniqueItems,
		minContains: s.MinContains, maxContains: s.MaxContains}
	switch it := s.Items.(type) {
	case *jsch.Schema:
		n.allItems = b.build(it)
	case []*jsch.Schema:
		for _, sub := range it {
			n.itemSchemas = append(n.itemSchemas, b.build(sub))
		}
	}
	switch a := s.AdditionalItems.(type) {
	case bool:
		n.additionalItemsAllowed = a
	case *jsch.Schema:
		n.additionalItems = b.build(a)
	case nil:
		// The compiler keeps additionalItems only beside a tuple; Everit
		// reads it always.
		if sub := b.additionalItems(s); sub != nil {
			if a, ok := b.raw(sub.Location).(bool); ok {
				n.additionalItemsAllowed = a
			} else {
				n.additionalItems = b.build(sub)
			}
		}
	}
	// 2020-12: prefixItems are the tuple, items the schema of the rest
	// (of all items without a tuple), as Confluent's SchemaTranslator maps
	// them: items false closes the array, items true is no schema.
	for _, sub := range s.PrefixItems {
		n.itemSchemas = append(n.itemSchemas, b.build(sub))
	}
	if it := s.Items2020; it != nil {
		v, isBool := b.raw(it.Location).(bool)
		switch {
		case isBool && !v:
			n.additionalItemsAllowed = false
		case isBool:
		case len(s.PrefixItems) > 0:
			n.additionalItems = b.build(it)
		default:
			n.allItems = b.build(it)
		}
	}
	n.unevalItems = b.build(s.UnevaluatedItems)
	return n
}
