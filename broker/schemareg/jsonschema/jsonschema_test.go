package jsonschema

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/moldau/moldau/broker/schemareg/schema"
)

// A testdata file is a list of cases, each starting with "=== name":
//
//	new: <schema>              the reader in a BACKWARD check (new.CanRead(old))
//	old: <schema>              the writer
//	newref <name>: <schema>    a reference of the new schema (oldref: of the old)
//	want: compatible | TYPE... the errorTypes of new.CanRead(old), any order
//	forward: compatible | TYPE...  the same for old.CanRead(new) (optional)
//	message: <text>            one of new.CanRead(old)'s messages, exactly (optional)
//
// or, for parsing alone:
//
//	schema: <schema>
//	ref <name>: <schema>
//	want: valid | invalid [text the error contains]
//	canonical: <text>          (optional) normalized: <text> (optional)
//
// A schema is one line of JSON; lines starting with '#' are comments.
type testCase struct {
	file, name string
	line       int
	fields     map[string]string
	newRefs    []schema.Resolved
	oldRefs    []schema.Resolved
	refs       []schema.Resolved
}

func readCases(t *testing.T) []*testCase {
	t.Helper()
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	var cases []*testCase
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var cur *testCase
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if name, ok := strings.CutPrefix(line, "=== "); ok {
				cur = &testCase{file: filepath.Base(f), name: name, line: n, fields: map[string]string{}}
				cases = append(cases, cur)
				continue
			}
			key, val, ok := strings.Cut(line, ": ")
			if !ok || cur == nil {
				t.Fatalf("%s:%d: cannot parse %q", f, n, line)
			}
			val = strings.TrimSpace(val)
			switch {
			case strings.HasPrefix(key, "newref "):
				cur.newRefs = append(cur.newRefs, schema.Resolved{Name: strings.TrimPrefix(key, "newref "), Type: schema.JSON, Schema: val})
			case strings.HasPrefix(key, "oldref "):
				cur.oldRefs = append(cur.oldRefs, schema.Resolved{Name: strings.TrimPrefix(key, "oldref "), Type: schema.JSON, Schema: val})
			case strings.HasPrefix(key, "ref "):
				cur.refs = append(cur.refs, schema.Resolved{Name: strings.TrimPrefix(key, "ref "), Type: schema.JSON, Schema: val})
			default:
				if _, dup := cur.fields[key]; dup && key != "message" {
					t.Fatalf("%s:%d: %s given twice", f, n, key)
				}
				if key == "message" && cur.fields[key] != "" {
					val = cur.fields[key] + "\n" + val
				}
				cur.fields[key] = val
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		fh.Close()
	}
	return cases
}

// labelAll fills the role verbs as the registry does (schema.Label).
func labelAll(msgs []string, reader, writer string) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, schema.Label(m, reader, writer))
	}
	return out
}

var errorTypeRE = regexp.MustCompile(`^\{errorType:"([A-Z_]+)", description:"`)

// errorTypes extracts the errorType of each message, sorted.
func errorTypes(t *testing.T, msgs []string) []string {
	t.Helper()
	var out []string
	for _, m := range msgs {
		sm := errorTypeRE.FindStringSubmatch(m)
		if sm == nil {
			t.Fatalf("message not in Confluent's format: %q", m)
		}
		out = append(out, sm[1])
	}
	sort.Strings(out)
	return out
}

func wantTypes(s string) []string {
	if s == "compatible" {
		return nil
	}
	out := strings.Fields(s)
	sort.Strings(out)
	return out
}

func TestData(t *testing.T) {
	f := New()
	if f.Type() != schema.JSON {
		t.Fatalf("Type() = %q", f.Type())
	}
	cases := readCases(t)
	pairs, parses := 0, 0
	for _, c := range cases {
		t.Run(c.file+"/"+c.name, func(t *testing.T) {
			where := c.file + ":" + itoa(c.line)
			if s, ok := c.fields["schema"]; ok {
				parses++
				checkParse(t, where, f, c, s)
				return
			}
			pairs++
			newS, err := f.Parse(c.fields["new"], c.newRefs)
			if err != nil {
				t.Fatalf("%s: new: %v", where, err)
			}
			oldS, err := f.Parse(c.fields["old"], c.oldRefs)
			if err != nil {
				t.Fatalf("%s: old: %v", where, err)
			}
			want, ok := c.fields["want"]
			if !ok {
				t.Fatalf("%s: no want", where)
			}
			msgs := labelAll(newS.CanRead(oldS), "new", "old")
			if got := errorTypes(t, msgs); !slices.Equal(got, wantTypes(want)) {
				t.Errorf("%s: new.CanRead(old) = %v, want %v\n%s", where, got, wantTypes(want), strings.Join(msgs, "\n"))
			}
			if fw, ok := c.fields["forward"]; ok {
				fmsgs := labelAll(oldS.CanRead(newS), "old", "new")
				if got := errorTypes(t, fmsgs); !slices.Equal(got, wantTypes(fw)) {
					t.Errorf("%s: old.CanRead(new) = %v, want %v\n%s", where, got, wantTypes(fw), strings.Join(fmsgs, "\n"))
				}
			}
			if m, ok := c.fields["message"]; ok {
				for _, one := range strings.Split(m, "\n") {
					if !slices.Contains(msgs, one) {
						t.Errorf("%s: message %q not among\n%s", where, one, strings.Join(msgs, "\n"))
					}
				}
			}
		})
	}
	if pairs < 50 || parses < 10 {
		t.Errorf("only %d compatibility and %d parse cases", pairs, parses)
	}
}

func checkParse(t *testing.T, where string, f schema.Format, c *testCase, s string) {
	t.Helper()
	p, err := f.Parse(s, c.refs)
	want := c.fields["want"]
	switch {
	case want == "valid":
		if err != nil {
			t.Fatalf("%s: Parse: %v", where, err)
		}
	case strings.HasPrefix(want, "invalid"):
		if err == nil {
			t.Fatalf("%s: Parse succeeded, want an error", where)
		}
		if !errors.Is(err, schema.ErrInvalid) {
			t.Errorf("%s: error %v does not wrap schema.ErrInvalid", where, err)
		}
		if sub := strings.TrimSpace(strings.TrimPrefix(want, "invalid")); !strings.Contains(err.Error(), sub) {
			t.Errorf("%s: error %q does not contain %q", where, err, sub)
		}
		return
	default:
		t.Fatalf("%s: want %q is neither valid nor invalid", where, want)
	}
	if w, ok := c.fields["canonical"]; ok && p.Canonical() != w {
		t.Errorf("%s: Canonical() = %s, want %s", where, p.Canonical(), w)
	}
	if w, ok := c.fields["normalized"]; ok && p.Normalized() != w {
		t.Errorf("%s: Normalized() = %s, want %s", where, p.Normalized(), w)
	}
	// Normalized is idempotent, and both forms parse to the same schema.
	for _, form := range []string{p.Canonical(), p.Normalized()} {
		q, err := f.Parse(form, c.refs)
		if err != nil {
			t.Fatalf("%s: reparsing %s: %v", where, form, err)
		}
		if q.Normalized() != p.Normalized() {
			t.Errorf("%s: Normalized() of %s = %s, want %s", where, form, q.Normalized(), p.Normalized())
		}
		if msgs := q.CanRead(p); len(msgs) != 0 {
			t.Errorf("%s: a reparsed form is not compatible with itself: %v", where, msgs)
		}
	}
}
