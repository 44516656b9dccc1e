package protobuf

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// FuzzParse: any text either fails with schema.ErrInvalid or parses into
// a schema whose canonical form parses again to itself, whose normalized
// form is idempotent, and which reads itself.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, file := range files {
		for _, tc := range readCases(&testing.T{}, file) {
			for _, k := range []string{"schema", "old", "new"} {
				if s, ok := tc.sections[k]; ok {
					f.Add(s)
				}
			}
		}
	}
	f.Add(descriptorSchema)
	// Deep nesting: messages past protoc's 32, brackets past maxNestingDepth.
	f.Add("syntax = \"proto3\";\n" + strings.Repeat("message A {\n", 40) + strings.Repeat("}\n", 40))
	f.Add("syntax = \"proto3\";\n" + strings.Repeat("message A {", maxNestingDepth+1))
	f.Add("syntax = \"proto3\";\nimport \"google/protobuf/descriptor.proto\";\nextend google.protobuf.FileOptions { google.protobuf.FileOptions o = 5000; }\noption (o) = " +
		strings.Repeat("{uninterpreted_option: ", 600) + strings.Repeat("}", 600) + ";\n")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := New().Parse(s, nil)
		if err != nil {
			return
		}
		q, err := New().Parse(p.Canonical(), nil)
		if err != nil {
			t.Fatalf("canonical does not parse: %v\n%s", err, p.Canonical())
		}
		if q.Canonical() != p.Canonical() {
			t.Fatalf("canonical not a fixed point:\n%s\nthen\n%s", p.Canonical(), q.Canonical())
		}
		n, err := New().Parse(p.Normalized(), nil)
		if err != nil {
			t.Fatalf("normalized does not parse: %v\n%s", err, p.Normalized())
		}
		if n.Normalized() != p.Normalized() {
			t.Fatalf("normalized not idempotent:\n%s\nthen\n%s", p.Normalized(), n.Normalized())
		}
		if m := p.CanRead(p); len(m) != 0 {
			t.Fatalf("schema cannot read itself: %v", m)
		}
	})
}

// TestConcurrentUse: a Format and Parsed values are used from many
// goroutines at once (run with -race).
func TestConcurrentUse(t *testing.T) {
	f := New()
	old, err := f.Parse(descriptorSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := f.Parse(descriptorSchema, nil)
			if err != nil {
				t.Error(err)
				return
			}
			if m := append(p.CanRead(old), old.CanRead(p)...); len(m) != 0 {
				t.Error(m)
			}
			_ = p.Canonical() + p.Normalized()
		}()
	}
	wg.Wait()
}
