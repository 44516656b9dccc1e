package jsonschema

import (
	"slices"
	"strings"
	"testing"

	"github.com/moldau/moldau/broker/schemareg/schema"
)

func mustParse(t testing.TB, s string) schema.Parsed {
	t.Helper()
	p, err := New().Parse(s, nil)
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return p
}

// TestCanReadDirection pins the mapping of Confluent's
// isBackwardCompatible(previous) = SchemaDiff.compare(previous, this) onto
// reader.CanRead(writer): the receiver reads, the argument wrote.
func TestCanReadDirection(t *testing.T) {
	oldS := mustParse(t, `{"type":"object","properties":{"a":{"type":"string"}}}`)
	newS := mustParse(t, `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}}`)

	// BACKWARD: the new schema reads old data, which may carry anything
	// under "b" (the old model is open): refused.
	got := newS.CanRead(oldS)
	want := []string{`{errorType:"PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", description:"The %s schema has an open content model and has a property or item at path '#/properties/b' which is missing in the %s schema'}`}
	if !slices.Equal(got, want) {
		t.Errorf("new.CanRead(old) = %q, want %q", got, want)
	}
	got = newS.(*parsed).CanReadAs(oldS, "new", "old")
	want = []string{`{errorType:"PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", description:"The new schema has an open content model and has a property or item at path '#/properties/b' which is missing in the old schema'}`}
	if !slices.Equal(got, want) {
		t.Errorf("new.CanReadAs(old, new, old) = %q, want %q", got, want)
	}
	// FORWARD: the old schema reads new data; "b" falls in its open model.
	if got := oldS.CanRead(newS); len(got) != 0 {
		t.Errorf("old.CanRead(new) = %q, want compatible", got)
	}

	// The other way round, the names in the messages follow the roles.
	got = oldS.(*parsed).CanReadAs(newS, "old", "new")
	if len(got) != 0 {
		t.Errorf("old.CanReadAs(new) = %q, want compatible", got)
	}
	got = newS.(*parsed).CanReadAs(oldS, "old", "new")
	want = []string{`{errorType:"PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", description:"The old schema has an open content model and has a property or item at path '#/properties/b' which is missing in the new schema'}`}
	if !slices.Equal(got, want) {
		t.Errorf("CanReadAs(..., old, new) = %q, want %q", got, want)
	}
}

type otherFormat struct{ schema.Parsed }

func TestCanReadOtherFormat(t *testing.T) {
	p := mustParse(t, `{"type":"string"}`)
	got := p.CanRead(otherFormat{})
	if !slices.Equal(got, []string{"Incompatible because of different schema type"}) {
		t.Errorf("CanRead(other format) = %q", got)
	}
}

// FuzzParse: Parse never panics; what it accepts has an idempotent
// Normalized form, reparses from both forms, and is compatible with itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}`,
		`{"type":["string","null"],"maxLength":3}`,
		`{"oneOf":[{"type":"integer","minimum":1e2},{"enum":["a",1,null]}]}`,
		`{"definitions":{"n":{"properties":{"next":{"$ref":"#/definitions/n"}}}},"$ref":"#/definitions/n"}`,
		`{"$schema":"https://json-schema.org/draft/2020-12/schema","prefixItems":[true],"items":false}`,
		`true`, `{}`, `[]`, `{"a":1.50e-9}`,
		// Deep nesting around this registry's and Jackson's limits.
		nestedItems(maxSchemaDepth - 1), nestedItems(maxSchemaDepth),
		strings.Repeat(`{"anyOf":[`, 400), strings.Repeat(`[`, 1001),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := New().Parse(s, nil)
		if err != nil {
			return
		}
		if msgs := p.CanRead(p); len(msgs) != 0 {
			t.Fatalf("%s is not compatible with itself: %q", s, msgs)
		}
		for _, form := range []string{p.Canonical(), p.Normalized()} {
			q, err := New().Parse(form, nil)
			if err != nil {
				t.Fatalf("reparsing %s (from %s): %v", form, s, err)
			}
			if q.Normalized() != p.Normalized() {
				t.Fatalf("Normalized of %s = %s, want %s", form, q.Normalized(), p.Normalized())
			}
		}
	})
}

// FuzzCanRead: comparing any two accepted schemas never panics and gives
// the same answer twice (the diff's map iteration is kept out of results).
func FuzzCanRead(f *testing.F) {
	f.Add(`{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}`,
		`{"type":"object","properties":{"b":{"type":["integer","null"]}},"required":["b"]}`)
	f.Add(`{"oneOf":[{"type":"string"},{"enum":[1,2]}]}`, `{"anyOf":[{"maxLength":2},{"type":"array","items":[{}]}]}`)
	f.Add(`{"definitions":{"n":{"properties":{"x":{"$ref":"#/definitions/n"}}}},"$ref":"#/definitions/n"}`,
		`{"properties":{"x":{"properties":{"x":{"type":"string"}}}}}`)
	f.Add(`{"not":{"type":"string"},"dependencies":{"a":["b"]}}`, `{"not":{"const":1},"dependencies":{"a":{"required":["c"]}}}`)
	f.Fuzz(func(t *testing.T, a, b string) {
		p, err := New().Parse(a, nil)
		if err != nil {
			return
		}
		q, err := New().Parse(b, nil)
		if err != nil {
			return
		}
		first := p.CanRead(q)
		if again := p.CanRead(q); !slices.Equal(first, again) {
			t.Fatalf("CanRead not deterministic:\n%q\n%q", first, again)
		}
		q.CanRead(p)
	})
}
