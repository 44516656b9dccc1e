package protobuf

// Data-driven tests: testdata/*.txt hold cases of the form
//
//	case <name>
//	direction backward|forward|full
//	--- old                  (the registered schema)
//	<.proto text>
//	--- new                  (the schema being registered)
//	<.proto text>
//	--- ref old|new|both <import path>   (optional, repeatable: a reference)
//	<.proto text>
//	--- expect
//	compatible | ERROR_TYPE #/path ... (one per line, in Confluent's order)
//	end
//
// backward checks new.CanRead(old), forward old.CanRead(new), full both
// (backward's messages first). A parse case has "--- schema" and
// "--- expect" with "invalid <substring of the error>", or "valid", and
// optionally "--- canonical" / "--- normalized" with the exact texts.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/moldau/moldau/broker/schemareg/schema"
)

type testCase struct {
	file, name string
	line       int
	direction  string
	sections   map[string]string
	oldRefs    []schema.Resolved
	newRefs    []schema.Resolved
}

func readCases(t *testing.T, path string) []*testCase {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []*testCase
	var cur *testCase
	section := ""
	var refSide, refName string
	var buf []string
	flush := func() {
		if cur == nil || section == "" {
			return
		}
		text := strings.Join(buf, "\n")
		if section == "ref" {
			text += "\n"
			r := schema.Resolved{Name: refName, Type: schema.Protobuf, Schema: text}
			if refSide == "old" || refSide == "both" {
				cur.oldRefs = append(cur.oldRefs, r)
			}
			if refSide == "new" || refSide == "both" {
				cur.newRefs = append(cur.newRefs, r)
			}
		} else {
			if section != "expect" {
				text += "\n"
			}
			cur.sections[section] = text
		}
		buf, section = nil, ""
	}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case cur == nil && (strings.HasPrefix(line, "#") || strings.TrimSpace(line) == ""):
		case cur == nil && strings.HasPrefix(line, "case "):
			cur = &testCase{file: filepath.Base(path), name: strings.TrimPrefix(line, "case "), line: n, sections: map[string]string{}}
		case cur == nil:
			t.Fatalf("%s:%d: expected 'case', got %q", path, n, line)
		case line == "end":
			flush()
			cases = append(cases, cur)
			cur = nil
		case section == "" && strings.HasPrefix(line, "direction "):
			cur.direction = strings.TrimPrefix(line, "direction ")
		case strings.HasPrefix(line, "--- "):
			flush()
			fields := strings.Fields(strings.TrimPrefix(line, "--- "))
			section = fields[0]
			if section == "ref" {
				if len(fields) != 3 {
					t.Fatalf("%s:%d: want '--- ref old|new|both <name>'", path, n)
				}
				refSide, refName = fields[1], fields[2]
			}
		case section != "":
			buf = append(buf, line)
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
		default:
			t.Fatalf("%s:%d: unexpected line %q", path, n, line)
		}
	}
	if cur != nil {
		t.Fatalf("%s: case %q has no 'end'", path, cur.name)
	}
	return cases
}

var pathRE = regexp.MustCompile(`'(#/[^']*)'`)
var typeRE = regexp.MustCompile(`^\{errorType:"([A-Z_]+)", description:"(.*)"\}$`)

// summarize turns CanRead's messages into "ERROR_TYPE #/path" lines.
func summarize(t *testing.T, msgs []string) []string {
	t.Helper()
	var out []string
	for _, m := range msgs {
		g := typeRE.FindStringSubmatch(m)
		if g == nil {
			t.Errorf("message not in Confluent's shape: %q", m)
			continue
		}
		if strings.Count(g[2], "%s") != 2 {
			t.Errorf("message should keep two %%s verbs for the registry: %q", m)
		}
		if filled := fmt.Sprintf(m, "new", "old"); strings.Contains(filled, "%!") {
			t.Errorf("message does not format cleanly: %q", filled)
		}
		p := pathRE.FindStringSubmatch(g[2])
		if p == nil {
			t.Errorf("message has no path: %q", m)
			continue
		}
		out = append(out, g[1]+" "+p[1])
	}
	return out
}

func TestDataFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.txt")
	}
	f := New()
	total := 0
	for _, file := range files {
		for _, tc := range readCases(t, file) {
			total++
			t.Run(tc.file+"/"+tc.name, func(t *testing.T) {
				if s, ok := tc.sections["schema"]; ok {
					runParseCase(t, f, tc, s)
					return
				}
				runCompatCase(t, f, tc)
			})
		}
	}
	t.Logf("%d cases", total)
}

func runParseCase(t *testing.T, f schema.Format, tc *testCase, s string) {
	p, err := f.Parse(s, tc.newRefs)
	want := strings.TrimSpace(tc.sections["expect"])
	switch {
	case strings.HasPrefix(want, "invalid"):
		if err == nil {
			t.Fatalf("%s:%d: parsed, want an error", tc.file, tc.line)
		}
		if !errors.Is(err, schema.ErrInvalid) {
			t.Fatalf("error %v does not wrap schema.ErrInvalid", err)
		}
		if sub := strings.TrimSpace(strings.TrimPrefix(want, "invalid")); !strings.Contains(err.Error(), sub) {
			t.Fatalf("error %q does not contain %q", err, sub)
		}
		return
	case want == "valid":
		if err != nil {
			t.Fatalf("%s:%d: %v", tc.file, tc.line, err)
		}
	default:
		t.Fatalf("%s:%d: expect must be 'valid' or 'invalid ...'", tc.file, tc.line)
	}
	if c, ok := tc.sections["canonical"]; ok && p.Canonical() != c {
		t.Errorf("canonical:\n%s\nwant:\n%s", p.Canonical(), c)
	}
	if n, ok := tc.sections["normalized"]; ok && p.Normalized() != n {
		t.Errorf("normalized:\n%s\nwant:\n%s", p.Normalized(), n)
	}
	// Both forms parse again to themselves, and to schemas compatible
	// with the original either way.
	for _, form := range []string{p.Canonical(), p.Normalized()} {
		q, err := f.Parse(form, tc.newRefs)
		if err != nil {
			t.Fatalf("reparsing\n%s: %v", form, err)
		}
		if q.Canonical() != form && form == p.Canonical() {
			t.Errorf("canonical is not a fixed point:\n%s\nthen:\n%s", form, q.Canonical())
		}
		if form == p.Normalized() && q.Normalized() != form {
			t.Errorf("normalized is not idempotent:\n%s\nthen:\n%s", form, q.Normalized())
		}
		if m := append(p.CanRead(q), q.CanRead(p)...); len(m) != 0 {
			t.Errorf("reprinted schema is not compatible with the original: %v", m)
		}
	}
}

func runCompatCase(t *testing.T, f schema.Format, tc *testCase) {
	oldS, okO := tc.sections["old"]
	newS, okN := tc.sections["new"]
	if !okO || !okN {
		t.Fatalf("%s:%d: needs --- old and --- new", tc.file, tc.line)
	}
	oldP, err := f.Parse(oldS, tc.oldRefs)
	if err != nil {
		t.Fatalf("%s:%d: old: %v", tc.file, tc.line, err)
	}
	newP, err := f.Parse(newS, tc.newRefs)
	if err != nil {
		t.Fatalf("%s:%d: new: %v", tc.file, tc.line, err)
	}
	var msgs []string
	switch tc.direction {
	case "backward":
		msgs = newP.CanRead(oldP)
	case "forward":
		msgs = oldP.CanRead(newP)
	case "full":
		msgs = append(newP.CanRead(oldP), oldP.CanRead(newP)...)
	default:
		t.Fatalf("%s:%d: direction %q", tc.file, tc.line, tc.direction)
	}
	got := summarize(t, msgs)
	var want []string
	for _, l := range strings.Split(tc.sections["expect"], "\n") {
		if l = strings.TrimSpace(l); l != "" && l != "compatible" {
			want = append(want, l)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:%d: got\n  %s\nwant\n  %s\nmessages: %q", tc.file, tc.line,
			strings.Join(got, "\n  "), strings.Join(want, "\n  "), msgs)
	}
}

// TestDirection pins which way CanRead compares: a reader that requires a
// field the writer never wrote cannot read (BACKWARD: new.CanRead(old)),
// while dropping a required field breaks only old readers of new data.
func TestDirection(t *testing.T) {
	f := New()
	without, err := f.Parse("syntax = \"proto2\";\nmessage M { optional int32 a = 1; }\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	with, err := f.Parse("syntax = \"proto2\";\nmessage M { optional int32 a = 1; required int32 b = 2; }\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := summarize(t, with.CanRead(without)); strings.Join(got, ",") != "REQUIRED_FIELD_ADDED #/M/2" {
		t.Errorf("with.CanRead(without) = %v, want REQUIRED_FIELD_ADDED #/M/2", got)
	}
	if got := summarize(t, without.CanRead(with)); strings.Join(got, ",") != "REQUIRED_FIELD_REMOVED #/M/2" {
		t.Errorf("without.CanRead(with) = %v, want REQUIRED_FIELD_REMOVED #/M/2", got)
	}
	if got := with.CanRead(with); len(got) != 0 {
		t.Errorf("a schema must read itself: %v", got)
	}
}

// TestJavaHashOrder checks the emulation of java.util.HashSet's iteration
// order against orders computed with Java (jshell: new HashSet<>(List.of(...))).
func TestJavaHashOrder(t *testing.T) {
	// Java: String.hashCode("A")=65, "B"=66, "Z"=90 -> buckets 1, 2, 10 of 16.
	got := javaHashOrder([]string{"Z", "B", "A"}, nil)
	if strings.Join(got, ",") != "A,B,Z" {
		t.Errorf("got %v", got)
	}
	// "Aa" and "BB" collide (2112): insertion order within the bucket.
	got = javaHashOrder([]string{"BB", "Aa"}, []string{"C"})
	if strings.Join(got, ",") != "BB,Aa,C" { // 2112&15 = 0, 67&15 = 3
		t.Errorf("got %v", got)
	}
	if javaStringHash("hello") != 99162322 {
		t.Errorf("hash(hello) = %d, want 99162322", javaStringHash("hello"))
	}
}
