// Package jsonschema is the schema registry's JSON Schema checker
// (schema.Format), with Confluent Schema Registry's rules:
//
//   - Parse: the text must be JSON whose root is an object or a boolean and
//     a valid JSON Schema of the draft its "$schema" names (draft-04, -06,
//     -07, 2019-09, 2020-12; draft-07 when there is none, as Confluent).
//     It is compiled by github.com/santhosh-tekuri/jsonschema/v6, which
//     checks it against the draft's meta-schema and resolves every $ref;
//     referenced schemas come only from the refs given (schema.Resolved,
//     Name = the $ref URL), never from the network or the file system.
//   - Canonical: Jackson's compact re-serialization (key order kept),
//     Normalized: the same with sorted keys (canonical.go).
//   - CanRead: Confluent's SchemaDiff over an Everit-shaped model of both
//     schemas (model.go, diff.go, diff_content.go).
package jsonschema

import (
	"bytes"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	jsch "github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/moldau/moldau/broker/schemareg/schema"
)

// New returns the JSON format.
func New() schema.Format { return format{} }

type format struct{}

func (format) Type() string { return schema.JSON }

// baseURL is where the schema being parsed lives for the compiler (as
// Confluent's "mem://input"); a relative $ref resolves against it unless
// the schema's $id says otherwise.
const baseURL = "mem://input/"

// maxSchemaDepth bounds a schema document's JSON nesting below Jackson's
// 1000: the compiler validates every subschema against the draft's
// meta-schema, building its instance location afresh each time, which
// costs depth³: 1000 levels took 1.7 s and allocated 2.2 GB, 500 levels
// take 0.37 s and 300 MB. Real schemas nest a few dozen levels.
const maxSchemaDepth = 500

// maxSchemaContainers bounds the JSON objects and arrays of a schema and
// its references together, below schema.MaxJSONContainers: the compiler
// looks each subschema up in its queue by a linear scan, so compiling
// costs their number squared (10,000 properties took 0.44 s, 49,000 took
// 10.7 s).
const maxSchemaContainers = 12_000

const containersMessage = "Invalid JSON schema: the schema and its references have more than %d JSON objects and arrays, more than this registry compiles"

const depthMessage = "Invalid JSON schema: nesting depth (%d) exceeds the maximum this registry compiles (%d)"

// invalid wraps schema.ErrInvalid with a one-line message (the registry
// returns it as the 422's message).
func invalid(format string, args ...any) error {
	msg := strings.Join(strings.Fields(fmt.Sprintf(format, args...)), " ")
	return fmt.Errorf("%w: %s", schema.ErrInvalid, msg)
}

func (format) Parse(text string, refs []schema.Resolved) (schema.Parsed, error) {
	// The parsers, the compiler, the model builder and the printers all
	// recurse once per level of nesting: bound it first, as Jackson (which
	// Confluent parses JSON with) does.
	if msg := schema.JSONNestingError(text); msg != "" {
		return nil, invalid("Invalid JSON: %s", msg)
	}
	d, containers := schema.ScanJSON(text, maxSchemaDepth)
	if d > 0 {
		return nil, invalid(depthMessage, d, maxSchemaDepth)
	}
	for _, r := range refs {
		_, n := schema.ScanJSON(r.Schema, maxSchemaDepth)
		if containers += n; containers > maxSchemaContainers {
			return nil, invalid(containersMessage, maxSchemaContainers)
		}
		if msg := schema.JSONNestingError(r.Schema); msg != "" {
			return nil, invalid("Invalid JSON in reference %q: %s", r.Name, msg)
		}
		if d := schema.JSONNestingExceeds(r.Schema, maxSchemaDepth); d > 0 {
			return nil, invalid("Reference %q: "+depthMessage, r.Name, d, maxSchemaDepth)
		}
	}
	if containers > maxSchemaContainers {
		return nil, invalid(containersMessage, maxSchemaContainers)
	}
	ordered, err := parseOrdered(text)
	if err != nil {
		return nil, invalid("Invalid JSON: %v", err)
	}
	switch ordered.(type) {
	case *jsonObject, bool:
	default:
		return nil, invalid("Invalid JSON schema: expected an object or boolean at the root")
	}
	doc, err := jsch.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return nil, invalid("Invalid JSON: %v", err)
	}

	patterns, patternBytes := 0, 0
	if !patternCost(doc, &patterns, &patternBytes) {
		return nil, invalid(patternMessage, maxPatternBytes, maxPatternProgram)
	}

	rootURL := baseURL + "schema.json"
	loader := &refLoader{docs: map[string]any{}}
	bases := []string{baseURL}
	if m, ok := doc.(map[string]any); ok {
		for _, k := range []string{"$id", "id"} {
			if id, ok := m[k].(string); ok && id != "" {
				if u, err := url.Parse(id); err == nil && u.IsAbs() {
					bases = append(bases, id)
				}
			}
		}
	}
	for _, r := range refs {
		rdoc, err := jsch.UnmarshalJSON(strings.NewReader(r.Schema))
		if err != nil {
			return nil, invalid("Invalid JSON in reference %q: %v", r.Name, err)
		}
		if !patternCost(rdoc, &patterns, &patternBytes) {
			return nil, invalid(patternMessage, maxPatternBytes, maxPatternProgram)
		}
		loader.add(r.Name, rdoc)
		for _, b := range bases {
			if bu, err := url.Parse(b); err == nil {
				if ru, err := url.Parse(r.Name); err == nil {
					loader.add(bu.ResolveReference(ru).String(), rdoc)
				}
			}
		}
	}

	c := jsch.NewCompiler()
	c.DefaultDraft(jsch.Draft7)
	c.UseLoader(loader)
	if err := c.AddResource(rootURL, doc); err != nil {
		return nil, invalid("%v", err)
	}
	compiled, err := c.Compile(rootURL)
	if err != nil {
		return nil, invalid("%v", err)
	}

	loader.docs[rootURL] = doc
	b := &builder{done: map[*jsch.Schema]*node{}, raw: loader.at, compile: c.Compile}
	p := &parsed{root: b.build(compiled)}
	var buf bytes.Buffer
	writeJackson(&buf, ordered, false)
	p.canonical = buf.String()
	buf.Reset()
	writeJackson(&buf, ordered, true)
	p.normalized = buf.String()
	return p, nil
}

// refLoader serves the referenced schemas to the compiler by URL and
// refuses every other URL (no network, no files).
type refLoader struct {
	docs map[string]any
}

func (l *refLoader) add(u string, doc any) {
	u, _, _ = strings.Cut(u, "#")
	if _, ok := l.docs[u]; !ok {
		l.docs[u] = doc
	}
}

func (l *refLoader) Load(u string) (any, error) {
	if doc, ok := l.docs[u]; ok {
		return doc, nil
	}
	return nil, fmt.Errorf("jsonschema: unresolved reference %q (not among the schema's references)", u)
}

// at returns the JSON at a compiled schema's location ("url#/json/pointer").
func (l *refLoader) at(location string) any {
	u, frag, _ := strings.Cut(location, "#")
	v, ok := l.docs[u]
	if !ok {
		return nil
	}
	if f, err := url.PathUnescape(frag); err == nil {
		frag = f
	}
	if frag == "" {
		return v
	}
	for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch t := v.(type) {
		case map[string]any:
			v = t[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(t) {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}

// parsed is a parsed JSON schema; immutable.
type parsed struct {
	canonical, normalized string
	root                  *node
}

func (p *parsed) Canonical() string  { return p.canonical }
func (p *parsed) Normalized() string { return p.normalized }

// CanRead is Confluent's p.isBackwardCompatible(writer), that is
// SchemaDiff.compare(writer, p), keeping the incompatible differences.
// Messages carry Confluent's two %s role verbs (reader first, writer
// second) for the registry to fill with schema.Label.
func (p *parsed) CanRead(writer schema.Parsed) []string {
	return p.canRead(writer, "%s", "%s")
}

// CanReadAs is CanRead with the roles already named: BACKWARD's
// new.CanRead(old) is CanReadAs(old, "new", "old"), FORWARD's
// old.CanRead(new) is CanReadAs(new, "old", "new").
func (p *parsed) CanReadAs(writer schema.Parsed, readerLabel, writerLabel string) []string {
	return p.canRead(writer, readerLabel, writerLabel)
}

func (p *parsed) canRead(writer schema.Parsed, readerLabel, writerLabel string) []string {
	w, ok := writer.(*parsed)
	if !ok {
		return []string{"Incompatible because of different schema type"}
	}
	diffs, ok := compareSchemas(w.root, p.root)
	if !ok {
		return []string{errTooComplex}
	}
	var out []string
	for _, d := range diffs {
		if !compatibleStrict[d.typ] {
			out = append(out, d.message(readerLabel, writerLabel))
		}
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }
