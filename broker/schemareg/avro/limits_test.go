package avro

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moldau/moldau/broker/schemareg/schema"
)

func nestedArrays(n int) string {
	return strings.Repeat(`{"type":"array","items":`, n) + `"int"` + strings.Repeat("}", n)
}

// TestParseNestingDepth: a schema nested deeper than Jackson's 1000 levels
// is refused with Jackson's message before any recursion (2,000,000 levels
// used to overflow the goroutine stack and kill the broker), in the
// schema and in a reference; 1000 levels still parse.
func TestParseNestingDepth(t *testing.T) {
	if _, err := New().Parse(nestedArrays(1000), nil); err != nil {
		t.Fatalf("1000 levels: %v", err)
	}
	want := "Document nesting depth (1001) exceeds the maximum allowed (1000"
	for _, n := range []int{1001, 2_000_000} {
		_, err := New().Parse(nestedArrays(n), nil)
		if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Fatalf("%d levels: %v", n, err)
		}
		_, err = New().(interface {
			ParseExisting(string, []schema.Resolved) (schema.Parsed, error)
		}).ParseExisting(nestedArrays(n), nil)
		if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Fatalf("existing, %d levels: %v", n, err)
		}
	}
	ref := `{"type":"record","name":"R","fields":[{"name":"a","type":` + nestedArrays(1001) + `}]}`
	_, err := New().Parse(`"R"`, []schema.Resolved{{Name: "R", Schema: ref}})
	if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), want) {
		t.Fatalf("deep reference: %v", err)
	}
}

func recordUnion(names []string) string {
	var b strings.Builder
	b.WriteString("[")
	for i, n := range names {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"type":"record","name":%q,"fields":[]}`, n)
	}
	b.WriteString("]")
	return b.String()
}

// TestWideUnionCanRead: Java tries every reader branch for every writer
// branch (a 10,000-branch union against itself took 2m43s and 20 GB); the
// checker looks branches up by kind and name (or alias) and stays linear,
// with the same answers.
func TestWideUnionCanRead(t *testing.T) {
	const n = 20_000
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("R%d", i)
	}
	w, err := New().Parse(recordUnion(names), nil)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(names)
	r, err := New().Parse(recordUnion(names), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if msgs := r.CanRead(w); len(msgs) != 0 {
		t.Fatalf("reversed union: %q", msgs[:1])
	}
	t.Logf("%d branches: %v", n, time.Since(start))
	// One writer branch missing from the reader, one found by alias.
	names[0] = "Renamed"
	aliased := strings.Replace(recordUnion(names[:n-1]), `"name":"R1",`, `"name":"S1","aliases":["R1"],`, 1)
	r, err = New().Parse(aliased, nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs := r.CanRead(w)
	if len(msgs) != 2 || !strings.Contains(msgs[0], "missing a type inside a union field at path '/0'") ||
		!strings.Contains(msgs[1], "missing a type inside a union field at path '/19999'") {
		t.Fatalf("CanRead = %q", msgs)
	}
}

// TestWideRecordCanRead: reader fields are looked up in the writer by
// name through an index (Java scans, quadratic in the field count).
func TestWideRecordCanRead(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"type":"record","name":"R","fields":[`)
	for i := 0; i < 50_000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"name":"f%d","type":"int"}`, i)
	}
	b.WriteString("]}")
	p, err := New().Parse(b.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if msgs := p.CanRead(p); len(msgs) != 0 {
		t.Fatalf("CanRead = %q", msgs)
	}
	t.Logf("50,000 fields: %v", time.Since(start))
}

// TestParseContainers: more than schema.MaxJSONContainers objects and
// arrays in a schema and its references are refused before parsing.
func TestParseContainers(t *testing.T) {
	names := make([]string, schema.MaxJSONContainers/2)
	for i := range names {
		names[i] = fmt.Sprintf("R%d", i)
	}
	ref := `{"type":"record","name":"Big","fields":[{"name":"u","type":` + recordUnion(names) + `}]}`
	_, err := New().Parse(`{"type":"record","name":"Top","fields":[{"name":"b","type":"Big"},{"name":"c","type":`+recordUnion([]string{"X1", "X2"})+`}]}`,
		[]schema.Resolved{{Name: "Big", Schema: ref}})
	if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), schema.JSONContainersError()) {
		t.Fatalf("wide reference: %v", err)
	}
}

// TestLinkedDepth: each reference nests within Jackson's limit, but a
// chain of them nests their sum once linked; past maxLinkedDepth the
// schema is refused (the compatibility check and the resolved printing
// recurse per level: 98 references of 1,000 levels took 128 MB of stack).
func TestLinkedDepth(t *testing.T) {
	chain := func(n int) (string, []schema.Resolved) {
		var refs []schema.Resolved
		prev := `"int"`
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("R%d", i)
			refs = append(refs, schema.Resolved{Name: name, Schema: `{"type":"record","name":"` + name + `","fields":[{"name":"f","type":` + strings.Repeat(`{"type":"array","items":`, 997) + prev + strings.Repeat("}", 997) + `}]}`})
			prev = `"` + name + `"`
		}
		return `{"type":"record","name":"Top","fields":[{"name":"x","type":` + prev + `}]}`, refs
	}
	s, refs := chain(9) // ~9,000 levels
	p, err := New().Parse(s, refs)
	if err != nil {
		t.Fatalf("9 references: %v", err)
	}
	if msgs := p.CanRead(p); len(msgs) != 0 {
		t.Fatalf("9 references: %q", msgs)
	}
	s, refs = chain(11)
	_, err = New().Parse(s, refs)
	if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), "nesting depth through its references exceeds the maximum allowed (10000)") {
		t.Fatalf("11 references: %v", err)
	}
	// A recursive type is not infinitely deep.
	if _, err := New().Parse(`{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}`, nil); err != nil {
		t.Fatal(err)
	}
}
