package jsonschema

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/moldau/moldau/broker/schemareg/schema"
)

func nestedItems(n int) string {
	return strings.Repeat(`{"type":"array","items":`, n) + `{"type":"string"}` + strings.Repeat("}", n)
}

// TestParseNestingDepth: deeper than Jackson's 1000 levels is refused with
// its message; deeper than maxSchemaDepth with this registry's (the
// compiler's meta-schema validation costs depth³); in the schema and in a
// reference. maxSchemaDepth levels parse and compare.
func TestParseNestingDepth(t *testing.T) {
	start := time.Now()
	p, err := New().Parse(nestedItems(maxSchemaDepth-1), nil)
	if err != nil {
		t.Fatalf("%d levels: %v", maxSchemaDepth, err)
	}
	if msgs := p.CanRead(p); len(msgs) != 0 {
		t.Fatalf("%d levels cannot read itself: %q", maxSchemaDepth, msgs)
	}
	t.Logf("%d levels: parsed and compared in %v", maxSchemaDepth, time.Since(start))
	jackson := "Document nesting depth (1001) exceeds the maximum allowed (1000"
	ours := "nesting depth (501) exceeds the maximum this registry compiles (500)"
	for _, tc := range []struct {
		n    int
		want string
	}{{maxSchemaDepth, ours}, {999, ours}, {1000, jackson}, {2_000_000, jackson}} {
		_, err := New().Parse(nestedItems(tc.n), nil)
		if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%d levels: %v", tc.n+1, err)
		}
		_, err = New().Parse(`{"$ref":"deep.json"}`, []schema.Resolved{{Name: "deep.json", Schema: nestedItems(tc.n)}})
		if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("deep reference, %d levels: %v", tc.n+1, err)
		}
	}
}

func wideOneOf(n int) string {
	var b strings.Builder
	b.WriteString(`{"oneOf":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"type":"object","properties":{"a":{"const":%d}}}`, i)
	}
	b.WriteString("]}")
	return b.String()
}

// TestParseContainers: more than maxSchemaContainers objects and arrays in
// a schema and its references are refused (the compiler costs their number
// squared).
func TestParseContainers(t *testing.T) {
	want := fmt.Sprintf("more than %d JSON objects and arrays", maxSchemaContainers)
	_, err := New().Parse(wideOneOf(maxSchemaContainers/2), nil)
	if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), want) {
		t.Fatalf("wide schema: %v", err)
	}
	refs := []schema.Resolved{{Name: "a.json", Schema: wideOneOf(maxSchemaContainers / 6)}, {Name: "b.json", Schema: wideOneOf(maxSchemaContainers / 6)}}
	_, err = New().Parse(`{"anyOf":[{"$ref":"a.json"},{"$ref":"b.json"}]}`, refs)
	if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), want) {
		t.Fatalf("wide references: %v", err)
	}
}

// TestCombinedBudget: Confluent matches every branch of a combined type
// with every other; past maxCompareSteps the check stops with a message
// saying why, instead of running for minutes (1,000 branches took 5.4 s,
// 5,000 would take minutes). Small combined types are still checked.
func TestCombinedBudget(t *testing.T) {
	p, err := New().Parse(wideOneOf(1500), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	msgs := p.CanRead(p)
	if len(msgs) != 1 || msgs[0] != errTooComplex {
		t.Fatalf("CanRead = %q", msgs)
	}
	t.Logf("1500 branches: stopped after %v", time.Since(start))
	small, err := New().Parse(wideOneOf(100), nil)
	if err != nil {
		t.Fatal(err)
	}
	if msgs := small.CanRead(small); len(msgs) != 0 {
		t.Fatalf("100 branches: %q", msgs)
	}
	few, err := New().Parse(wideOneOf(20), nil)
	if err != nil {
		t.Fatal(err)
	}
	if msgs := p.CanRead(few); len(msgs) != 0 {
		t.Fatalf("1500 branches reading 20 of them: %q", msgs)
	}
}

// TestPatternLimits: the regular expressions of a schema and its
// references are bounded by text and by compiled size (repetitions
// expanded) before anything compiles them; patterns within the bounds
// still parse.
func TestPatternLimits(t *testing.T) {
	doc := func(pattern string) string {
		return `{"type":"object","properties":{"s":{"type":"string","pattern":"` + pattern + `"}},"patternProperties":{"^x":{}}}`
	}
	if _, err := New().Parse(doc(strings.Repeat(`[a-z]{50}`, 1000)), nil); err != nil {
		t.Fatalf("50,000 instructions: %v", err)
	}
	want := fmt.Sprintf("longer than %d bytes or compile to more than %d instructions", maxPatternBytes, maxPatternProgram)
	for name, p := range map[string]string{
		"expanded": strings.Repeat(`[a-z]{50}`, 20_000),    // 180 KB, 1M instructions
		"long":     strings.Repeat("a", maxPatternBytes+1), // text
		"repeated": strings.Repeat(`a{1000}`, 600),         // 600,000 instructions in 4 KB
	} {
		start := time.Now()
		_, err := New().Parse(doc(p), nil)
		if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: refused in %v", name, time.Since(start))
	}
	ref := []schema.Resolved{{Name: "p.json", Schema: doc(strings.Repeat(`[a-z]{50}`, 6000))}}
	_, err := New().Parse(`{"allOf":[{"$ref":"p.json"},`+doc(strings.Repeat(`[a-z]{50}`, 6000))+`]}`, ref)
	if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), want) {
		t.Fatalf("schema and reference together: %v", err)
	}
}
