package jsonschema

import (
	"fmt"
	"strings"
	"testing"
)

// circularUnion builds a 2020-12 schema where a oneOf of `branches` object
// types each have `props` properties referring to a union that refers back
// to the oneOf: the shape that makes an unmemoized diff explode.
func circularUnion(branches, props int, leafType string) string {
	var defs []string
	var refs []string
	for i := 0; i < branches; i++ {
		var ps []string
		for j := 0; j < props; j++ {
			ps = append(ps, fmt.Sprintf(`"p%d":{"$ref":"#/$defs/ItemOrID"}`, j))
		}
		ps = append(ps, fmt.Sprintf(`"kind%d":{"type":"string"}`, i))
		defs = append(defs, fmt.Sprintf(`"T%d":{"$ref":"#/$defs/Base","properties":{%s}}`, i, strings.Join(ps, ",")))
		refs = append(refs, fmt.Sprintf(`{"$ref":"#/$defs/T%d"}`, i))
	}
	defs = append(defs,
		`"Base":{"type":"object","properties":{"id":{"type":"`+leafType+`"}}}`,
		`"Item":{"oneOf":[`+strings.Join(refs, ",")+`]}`,
		`"ItemOrID":{"oneOf":[{"type":"string"},{"$ref":"#/$defs/Item"}]}`)
	return `{"$schema":"https://json-schema.org/draft/2020-12/schema","$defs":{` + strings.Join(defs, ",") +
		`},"$ref":"#/$defs/Item"}`
}

func TestCircularUnion(t *testing.T) {
	s := circularUnion(12, 5, "string")
	a, b := mustParse(t, s), mustParse(t, s)
	if msgs := a.CanRead(b); len(msgs) != 0 {
		t.Fatalf("a schema is not compatible with its copy: %q", msgs)
	}
	changed := mustParse(t, circularUnion(12, 5, "boolean"))
	if msgs := changed.CanRead(a); len(msgs) == 0 {
		t.Fatalf("a type change deep in the recursive union went unnoticed")
	}
}
