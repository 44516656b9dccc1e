package serde

// JSON Schema: the payload is the JSON document itself. Encoding validates
// it first with github.com/santhosh-tekuri/jsonschema/v6 (draft 7 unless
// the schema says otherwise, as Confluent's default); references are
// served to the compiler under their names, resolved against the schema's
// base, and nothing else is loaded (no network, no files).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	jsch "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/sr"
)

// jsonBase is where the schema lives for the compiler, as the registry's
// own compile (broker/schemareg/jsonschema) has it.
const jsonBase = "mem://input/"

type jsonSchema struct {
	schema *jsch.Schema
}

func (s *Serde) parseJSONSchema(ctx context.Context, sch sr.Schema) (*jsonSchema, error) {
	refs, err := s.references(ctx, sch.References)
	if err != nil {
		return nil, err
	}
	doc, err := jsch.UnmarshalJSON(strings.NewReader(sch.Schema))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	bases := []string{jsonBase}
	if m, ok := doc.(map[string]any); ok {
		for _, k := range []string{"$id", "id"} {
			if id, ok := m[k].(string); ok && id != "" {
				if u, err := url.Parse(id); err == nil && u.IsAbs() {
					bases = append(bases, id)
				}
			}
		}
	}
	loader := refLoader{}
	for _, r := range refs {
		if r.schema.Type != sr.TypeJSON {
			return nil, fmt.Errorf("%w: reference %q is %v, not JSON", ErrInvalidSchema, r.name, r.schema.Type)
		}
		rdoc, err := jsch.UnmarshalJSON(strings.NewReader(r.schema.Schema))
		if err != nil {
			return nil, fmt.Errorf("%w: reference %q: %v", ErrInvalidSchema, r.name, err)
		}
		loader.add(r.name, rdoc)
		ru, err := url.Parse(r.name)
		if err != nil {
			continue
		}
		for _, b := range bases {
			if bu, err := url.Parse(b); err == nil {
				loader.add(bu.ResolveReference(ru).String(), rdoc)
			}
		}
	}
	c := jsch.NewCompiler()
	c.DefaultDraft(jsch.Draft7)
	c.UseLoader(loader)
	root := jsonBase + "schema.json"
	if err := c.AddResource(root, doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	compiled, err := c.Compile(root)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	return &jsonSchema{schema: compiled}, nil
}

// refLoader serves referenced schemas by URL and refuses every other one.
type refLoader map[string]any

func (l refLoader) add(u string, doc any) {
	u, _, _ = strings.Cut(u, "#")
	if _, ok := l[u]; !ok {
		l[u] = doc
	}
}

func (l refLoader) Load(u string) (any, error) {
	if doc, ok := l[u]; ok {
		return doc, nil
	}
	return nil, fmt.Errorf("serde: unresolved JSON Schema reference %q (not among the schema's references)", u)
}

// decode returns the payload, which must be one JSON document. (Records
// are shown as written: a document that no longer matches its schema is
// still worth reading.)
func (j *jsonSchema) decode(payload []byte) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(payload)
	if !json.Valid(trimmed) {
		return nil, fmt.Errorf("%w: JSON Schema payload is not JSON", ErrInvalidData)
	}
	return trimmed, nil
}

// encode validates value and appends it, compacted, to out.
func (j *jsonSchema) encode(out []byte, value json.RawMessage) ([]byte, error) {
	doc, err := jsch.UnmarshalJSON(bytes.NewReader(value))
	if err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", ErrInvalidData, err)
	}
	if err := j.schema.Validate(doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidData, err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, value); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", ErrInvalidData, err)
	}
	return append(out, buf.Bytes()...), nil
}
