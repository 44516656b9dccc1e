package avro

import (
	"errors"
	"strings"
	"testing"

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
