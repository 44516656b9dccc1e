package avro

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks, for any text: Parse does not panic; a parsed schema's
// stored form parses back to itself; Normalized is idempotent; a schema
// can always read its own data.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, fn := range files {
		b, err := os.ReadFile(fn)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			for _, p := range []string{"schema: ", "reader: ", "writer: "} {
				if s, ok := strings.CutPrefix(line, p); ok {
					f.Add(s)
				}
			}
		}
	}
	// Deep nesting at and past Jackson's 1000 levels.
	f.Add(nestedArrays(999))
	f.Add(nestedArrays(1000))
	f.Add(strings.Repeat(`{"type":"map","values":[`, 600))
	format := New()
	f.Fuzz(func(t *testing.T, s string) {
		p, err := format.Parse(s, nil)
		if err != nil {
			return
		}
		again, err := format.Parse(p.Canonical(), nil)
		if err != nil {
			t.Fatalf("canonical %s does not parse: %v", p.Canonical(), err)
		}
		if again.Canonical() != p.Canonical() {
			t.Fatalf("canonical not stable:\n%s\n%s", p.Canonical(), again.Canonical())
		}
		n, err := format.Parse(p.Normalized(), nil)
		if err != nil {
			t.Fatalf("normalized %s does not parse: %v", p.Normalized(), err)
		}
		if n.Normalized() != p.Normalized() {
			t.Fatalf("normalized not idempotent:\n%s\n%s", p.Normalized(), n.Normalized())
		}
		if msgs := p.CanRead(again); len(msgs) != 0 {
			t.Fatalf("%s cannot read itself: %q", p.Canonical(), msgs)
		}
	})
}
