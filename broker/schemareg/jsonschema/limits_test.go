package jsonschema

import (
	"errors"
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
