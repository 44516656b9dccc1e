package avro

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/moldau/moldau/broker/schemareg/schema"
)

// The data files in testdata/*.txt hold cases separated by blank lines;
// '#' starts a comment line. A case is:
//
//	case <name>
//	ref <name>: <schema>        (zero or more; known to every schema below)
//	reader: <schema>            (a compatibility case)
//	writer: <schema>
//	compatible                  | incompatible <TYPE> <path> <additionalInfo>  (one line per expected incompatibility, in order)
//	message: <text>             (optional: the exact message, labels new=reader, old=writer)
//	panic <text>                (instead: Avro's checker throws; the one message starts with text)
//
//	case <name>
//	ref ...
//	existing                    (optional: parse as an already registered schema, ParseExisting)
//	schema: <schema>            (a parse case)
//	invalid <text>              (the parse fails and its error contains text)
//	canonical: <json>           (or it succeeds: Canonical() is exactly json)
//	normalized: <json>          (and Normalized() is exactly json)
//	resolved: <json>            (and Formatted("resolved") is exactly json)
//
// Schemas are one line each.
type dataCase struct {
	file, name string
	line       int
	refs       []schema.Resolved
	reader     string
	writer     string
	schema     string
	compatible bool
	incompat   []string // "<TYPE> <path> <additionalInfo>"
	messages   []string
	panicMsg   string
	existing   bool
	invalid    string
	canonical  *string
	normalized *string
	resolved   *string
}

func readCases(t *testing.T) []*dataCase {
	t.Helper()
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	var cases []*dataCase
	for _, fn := range files {
		f, err := os.Open(fn)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var cur *dataCase
		ln := 0
		for sc.Scan() {
			ln++
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			key, rest, _ := strings.Cut(line, " ")
			if strings.HasSuffix(key, ":") && key != "ref" {
				rest = strings.TrimSpace(strings.TrimPrefix(line, key))
			}
			if key == "case" {
				cur = &dataCase{file: filepath.Base(fn), name: rest, line: ln}
				cases = append(cases, cur)
				continue
			}
			if cur == nil {
				t.Fatalf("%s:%d: %q before any case", fn, ln, line)
			}
			switch key {
			case "ref":
				name, text, ok := strings.Cut(rest, ": ")
				if !ok {
					t.Fatalf("%s:%d: ref needs '<name>: <schema>'", fn, ln)
				}
				cur.refs = append(cur.refs, schema.Resolved{Name: name, Type: schema.Avro, Schema: text})
			case "reader:":
				cur.reader = rest
			case "writer:":
				cur.writer = rest
			case "schema:":
				cur.schema = rest
			case "compatible":
				cur.compatible = true
			case "incompatible":
				cur.incompat = append(cur.incompat, rest)
			case "existing":
				cur.existing = true
			case "panic":
				cur.panicMsg = rest
			case "message:":
				cur.messages = append(cur.messages, rest)
			case "invalid":
				cur.invalid = rest
			case "canonical:":
				cur.canonical = &rest
			case "normalized:":
				cur.normalized = &rest
			case "resolved:":
				cur.resolved = &rest
			default:
				t.Fatalf("%s:%d: unknown line %q", fn, ln, line)
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return cases
}

// label fills a message's two %s verbs as Confluent's canReadStrategy does
// for BACKWARD (the reader is the new schema).
func label(msg string) string { return schema.Label(msg, "new", "old") }

type existingParser interface {
	ParseExisting(string, []schema.Resolved) (schema.Parsed, error)
}

type existingFormat struct{ schema.Format }

func (f existingFormat) Parse(s string, refs []schema.Resolved) (schema.Parsed, error) {
	return f.Format.(existingParser).ParseExisting(s, refs)
}

func TestDataFiles(t *testing.T) {
	nCompat, nIncompat, nParse := 0, 0, 0
	for _, c := range readCases(t) {
		t.Run(c.file+"/"+c.name, func(t *testing.T) {
			var format schema.Format = New()
			if c.existing {
				format = existingFormat{format}
			}
			where := c.file + ":" + strconv.Itoa(c.line)
			if c.schema != "" {
				nParse++
				p, err := format.Parse(c.schema, c.refs)
				if c.invalid != "" {
					if err == nil {
						t.Fatalf("%s: parsed, want error containing %q; canonical %s", where, c.invalid, p.Canonical())
					}
					if !errors.Is(err, schema.ErrInvalid) {
						t.Fatalf("%s: error %v does not wrap schema.ErrInvalid", where, err)
					}
					if !strings.Contains(err.Error(), c.invalid) {
						t.Fatalf("%s: error\n  %v\nwant it to contain\n  %s", where, err, c.invalid)
					}
					return
				}
				if err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				if c.canonical != nil && p.Canonical() != *c.canonical {
					t.Errorf("%s: canonical\n got %s\nwant %s", where, p.Canonical(), *c.canonical)
				}
				if c.normalized != nil && p.Normalized() != *c.normalized {
					t.Errorf("%s: normalized\n got %s\nwant %s", where, p.Normalized(), *c.normalized)
				}
				if c.resolved != nil {
					if got := p.(*parsed).Formatted("RESOLVED"); got != *c.resolved {
						t.Errorf("%s: resolved\n got %s\nwant %s", where, got, *c.resolved)
					}
				}
				if got := p.(*parsed).Formatted("default"); got != p.Canonical() {
					t.Errorf("%s: Formatted(default) %s is not the stored form", where, got)
				}
				// The stored form parses back to itself.
				stored, err := format.Parse(p.Canonical(), c.refs)
				if err != nil {
					t.Fatalf("%s: canonical form does not parse: %v", where, err)
				}
				if stored.Canonical() != p.Canonical() {
					t.Errorf("%s: canonical form is not stable:\n %s\n %s", where, p.Canonical(), stored.Canonical())
				}
				// Normalized is idempotent, and parses as itself.
				again, err := format.Parse(p.Normalized(), c.refs)
				if err != nil {
					t.Fatalf("%s: normalized form does not parse: %v", where, err)
				}
				if again.Normalized() != p.Normalized() || again.Canonical() != p.Normalized() {
					t.Errorf("%s: normalizing is not idempotent:\n %s\n %s", where, p.Normalized(), again.Normalized())
				}
				return
			}
			if c.reader == "" || c.writer == "" {
				t.Fatalf("%s: a case needs schema: or reader: and writer:", where)
			}
			if c.panicMsg != "" {
				r, _ := format.Parse(c.reader, c.refs)
				w, _ := format.Parse(c.writer, c.refs)
				if r == nil || w == nil {
					t.Fatalf("%s: reader or writer does not parse", where)
				}
				got := r.CanRead(w)
				if len(got) != 1 || !strings.HasPrefix(got[0], c.panicMsg) {
					t.Fatalf("%s: got %q, want one message starting %q", where, got, c.panicMsg)
				}
				nIncompat++
				return
			}
			if c.compatible == (len(c.incompat) > 0) {
				t.Fatalf("%s: say either compatible or incompatible lines", where)
			}
			r, err := format.Parse(c.reader, c.refs)
			if err != nil {
				t.Fatalf("%s: reader: %v", where, err)
			}
			w, err := format.Parse(c.writer, c.refs)
			if err != nil {
				t.Fatalf("%s: writer: %v", where, err)
			}
			got := r.CanRead(w)
			if c.compatible {
				nCompat++
				if len(got) != 0 {
					t.Fatalf("%s: want compatible, got %q", where, got)
				}
				return
			}
			nIncompat++
			var summary []string
			for _, in := range checkCompatibility(r.(*parsed).root, w.(*parsed).root) {
				summary = append(summary, in.typ+" "+in.path()+" "+in.message)
			}
			if strings.Join(summary, "\n") != strings.Join(c.incompat, "\n") {
				t.Fatalf("%s: incompatibilities\n got %q\nwant %q", where, summary, c.incompat)
			}
			if len(got) != len(c.incompat) {
				t.Fatalf("%s: CanRead gave %d messages, want %d: %q", where, len(got), len(c.incompat), got)
			}
			for i, m := range c.messages {
				if label(got[i]) != m {
					t.Errorf("%s: message %d\n got %s\nwant %s", where, i, label(got[i]), m)
				}
			}
		})
	}
	t.Logf("%d compatible pairs, %d incompatible pairs, %d parse cases", nCompat, nIncompat, nParse)
}

func TestOtherFormatWriter(t *testing.T) {
	p, err := New().Parse(`"int"`, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := p.CanRead(otherParsed{})
	if len(got) != 1 || got[0] != "Incompatible because of different schema type" {
		t.Fatalf("got %q", got)
	}
}

type otherParsed struct{}

func (otherParsed) Canonical() string              { return "" }
func (otherParsed) Normalized() string             { return "" }
func (otherParsed) CanRead(schema.Parsed) []string { return nil }

func TestJavaDouble(t *testing.T) {
	for in, want := range map[float64]string{
		1: "1.0", 0.1: "0.1", 1e7: "1.0E7", 1.5e10: "1.5E10", 1e-4: "1.0E-4", 0.001: "0.001",
		-2.5: "-2.5", 123456.789: "123456.789", 0: "0.0",
	} {
		if got := javaDouble(in); got != want {
			t.Errorf("javaDouble(%v) = %s, want %s", in, got, want)
		}
	}
}
