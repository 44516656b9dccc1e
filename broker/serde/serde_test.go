package serde_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/moldau/moldau/broker/serde"
)

// TestDecodePlain: bytes without a registered schema.
func TestDecodePlain(t *testing.T) {
	s := serde.New(nil)
	ctx := context.Background()
	bin := []byte{0xff, 0xfe, 0x00, 0x01}
	framed := []byte{0, 0, 0, 0, 7, 'h', 'i'}
	for _, tc := range []struct {
		data   []byte
		format string
		value  string
		error  bool
	}{
		{nil, "null", `null`, false},
		{[]byte{}, "string", `""`, false},
		{[]byte(` {"a":[1,2]} `), "json", `{"a":[1,2]}`, false},
		{[]byte(`[1,"x"]`), "json", `[1,"x"]`, false},
		{[]byte(`123`), "string", `"123"`, false},
		{[]byte(`"quoted"`), "string", `"\"quoted\""`, false},
		{[]byte(`{"a":`), "string", `"{\"a\":"`, false},
		{[]byte("héllo\n\x01"), "string", `"héllo\n\u0001"`, false},
		{bin, "binary", `"` + base64.StdEncoding.EncodeToString(bin) + `"`, false},
		{framed, "binary", `"` + base64.StdEncoding.EncodeToString(framed) + `"`, true},
		{[]byte{0, 1}, "string", `"\u0000\u0001"`, false}, // too short to be framed
	} {
		d := s.Decode(ctx, tc.data)
		if d.Format != tc.format || string(d.Value) != tc.value || (d.Error != "") != tc.error || d.Size != len(tc.data) {
			t.Errorf("Decode(%q) = %+v, want %s %s (error %v)", tc.data, d, tc.format, tc.value, tc.error)
		}
		if !json.Valid(d.Value) {
			t.Errorf("Decode(%q).Value %q is not JSON", tc.data, d.Value)
		}
	}
	if _, _, err := s.Encode(ctx, serde.Spec{Format: serde.FormatAvro, ID: 1}, []byte(`1`)); !errors.Is(err, serde.ErrNoRegistry) {
		t.Errorf("Encode without a registry = %v, want ErrNoRegistry", err)
	}
}

// TestJSONSchema validates before encoding and decodes the document.
func TestJSONSchema(t *testing.T) {
	r := newRegistry(t)
	r.register("address-json", sr.TypeJSON, `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`)
	id := r.register("person-json", sr.TypeJSON, `{"type":"object","properties":{
	  "name":{"type":"string"},"age":{"type":"integer","minimum":0},"home":{"$ref":"address.json"}},
	  "required":["name"],"additionalProperties":false}`,
		sr.SchemaReference{Name: "address.json", Subject: "address-json", Version: 1})
	spec := serde.Spec{Format: serde.FormatJSONSchema, Subject: "person-json"}

	data, gotID, err := r.serde.Encode(r.ctx, spec, []byte(`{ "name": "Ann", "age": 30, "home": {"city": "Prague"} }`))
	if err != nil || gotID != id {
		t.Fatalf("Encode = id %d, %v; want id %d", gotID, err, id)
	}
	if want := string(frame(t, id, nil, []byte(`{"name":"Ann","age":30,"home":{"city":"Prague"}}`))); string(data) != want {
		t.Errorf("Encode = %q, want %q", data, want)
	}
	d := r.serde.Decode(r.ctx, data)
	if d.Format != "jsonschema" || d.SchemaID != id || d.Subject != "person-json" {
		t.Fatalf("Decode = %+v", d)
	}
	sameJSON(t, "decoded", d.Value, `{"name":"Ann","age":30,"home":{"city":"Prague"}}`)

	for _, v := range []string{`{"age":3}`, `{"name":"x","age":-1}`, `{"name":"x","home":{}}`, `{"name":"x","extra":1}`, `[`} {
		if _, _, err := r.serde.Encode(r.ctx, spec, []byte(v)); !errors.Is(err, serde.ErrInvalidData) {
			t.Errorf("Encode(%s) = %v, want ErrInvalidData", v, err)
		}
	}
	if d := r.serde.Decode(r.ctx, frame(t, id, nil, []byte(`{"name":`))); d.Format != "binary" || d.Error == "" {
		t.Errorf("Decode of a cut document = %+v, want binary with an error", d)
	}
}

// TestEncodeErrors: the registry's answers map to the sentinels.
func TestEncodeErrors(t *testing.T) {
	r := newRegistry(t)
	v1 := `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`
	r.register("r-value", sr.TypeAvro, v1)
	ctx := r.ctx
	for _, tc := range []struct {
		name string
		spec serde.Spec
		want error
	}{
		{"unknown id", serde.Spec{Format: serde.FormatAvro, ID: 999}, serde.ErrSchemaNotFound},
		{"unknown subject", serde.Spec{Format: serde.FormatAvro, Subject: "nope"}, serde.ErrSubjectNotFound},
		{"unknown version", serde.Spec{Format: serde.FormatAvro, Subject: "r-value", Version: 7}, serde.ErrSchemaNotFound},
		{"invalid schema", serde.Spec{Format: serde.FormatAvro, Subject: "bad-value", Schema: `{"type":"record"}`}, serde.ErrInvalidSchema},
		{"schema without subject", serde.Spec{Format: serde.FormatAvro, Schema: v1}, serde.ErrInvalidSchema},
		{"incompatible", serde.Spec{Format: serde.FormatAvro, Subject: "r-value",
			Schema: `{"type":"record","name":"R","fields":[{"name":"b","type":"string"}]}`}, serde.ErrIncompatible},
		{"unknown format", serde.Spec{Format: "XML", ID: 1}, serde.ErrInvalidSchema},
		{"nothing named", serde.Spec{Format: serde.FormatAvro}, serde.ErrSchemaNotFound},
	} {
		if _, _, err := r.serde.Encode(ctx, tc.spec, []byte(`{"a":1}`)); !errors.Is(err, tc.want) {
			t.Errorf("%s: Encode = %v, want %v", tc.name, err, tc.want)
		}
	}
	// Unknown ids decode as binary with the reason.
	d := r.serde.Decode(ctx, frame(t, 999, nil, []byte{2}))
	if d.Format != "binary" || !json.Valid(d.Value) || d.Error == "" {
		t.Errorf("Decode with an unknown id = %+v", d)
	}
	// Avro bytes that do not match: cut short, left over, bad union index.
	id := r.register("s-value", sr.TypeAvro, `["null","string"]`)
	for _, p := range [][]byte{{2, 10, 'a'}, {0, 0}, {4}, {1}} {
		if d := r.serde.Decode(ctx, frame(t, id, nil, p)); d.Format != "binary" || d.Error == "" {
			t.Errorf("Decode(%x) = %+v, want binary with an error", p, d)
		}
	}
	if d := r.serde.Decode(ctx, frame(t, id, nil, []byte{2, 4, 'h', 'i'})); d.Format != "avro" || string(d.Value) != `{"string":"hi"}` {
		t.Errorf("Decode of a union string = %+v", d)
	}
}
