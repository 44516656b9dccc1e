package serde_test

import (
	"bytes"
	"errors"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/moldau/moldau/broker/serde"
)

const orderSchema = `{"type":"record","name":"Order","namespace":"shop","fields":[
 {"name":"id","type":"long"},
 {"name":"qty","type":"int"},
 {"name":"price","type":"double"},
 {"name":"ratio","type":"float"},
 {"name":"paid","type":"boolean"},
 {"name":"note","type":["null","string"]},
 {"name":"choice","type":["null","int","string",{"type":"record","name":"Point","fields":[{"name":"x","type":"int"}]}]},
 {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID"]}},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"attrs","type":{"type":"map","values":"long"}},
 {"name":"raw","type":"bytes"},
 {"name":"hash","type":{"type":"fixed","name":"Hash","size":4}},
 {"name":"created","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"day","type":{"type":"int","logicalType":"date"}},
 {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
 {"name":"where","type":"Point"},
 {"name":"next","type":["null","Order"]}
]}`

// TestAvroDecodeIndependent decodes bytes hamba's encoder wrote and
// checks the Avro JSON encoding Confluent's converter would print, then
// encodes that JSON and has hamba read it back.
func TestAvroDecodeIndependent(t *testing.T) {
	r := newRegistry(t)
	id := r.register("orders-value", sr.TypeAvro, orderSchema)
	schema := avro.MustParse(orderSchema)

	created := time.UnixMilli(1700000000123).UTC()
	inner := map[string]any{
		"id": int64(2), "qty": 0, "price": 0.5, "ratio": float32(0.25), "paid": false,
		"note": nil, "choice": nil, "status": "NEW", "tags": []any{}, "attrs": map[string]any{},
		"raw": []byte{}, "hash": [4]byte{0, 0, 0, 0}, "created": created, "day": created,
		"amount": big.NewRat(0, 1), "where": map[string]any{"x": -1}, "next": nil,
	}
	value := map[string]any{
		"id": int64(1) << 40, "qty": 7, "price": 12.5, "ratio": float32(1.5), "paid": true,
		"note": "gift \"wrap\"", "choice": map[string]any{"shop.Point": map[string]any{"x": 3}},
		"status": "PAID", "tags": []any{"a", "b"}, "attrs": map[string]any{"k": int64(-5)},
		"raw": []byte{0x00, 0x41, 0xe9, 0xff}, "hash": [4]byte{'a', 0x01, 0x80, 'z'},
		"created": created, "day": created, "amount": big.NewRat(12345, 100),
		"where": map[string]any{"x": 9}, "next": map[string]any{"shop.Order": inner},
	}
	payload, err := avro.Marshal(schema, value)
	if err != nil {
		t.Fatalf("hamba Marshal: %v", err)
	}
	data := frame(t, id, nil, payload)

	d := r.serde.Decode(r.ctx, data)
	if d.Format != "avro" || d.SchemaID != id || d.Error != "" || d.Size != len(data) {
		t.Fatalf("Decode = %+v", d)
	}
	if d.Subject != "orders-value" {
		t.Errorf("Subject = %q, want orders-value", d.Subject)
	}
	want := `{"id":1099511627776,"qty":7,"price":12.5,"ratio":1.5,"paid":true,
	 "note":{"string":"gift \"wrap\""},"choice":{"shop.Point":{"x":3}},"status":"PAID",
	 "tags":["a","b"],"attrs":{"k":-5},"raw":"\u0000Aéÿ","hash":"a\u0001\u0080z",
	 "created":1700000000123,"day":19675,"amount":"09",
	 "where":{"x":9},
	 "next":{"shop.Order":{"id":2,"qty":0,"price":0.5,"ratio":0.25,"paid":false,"note":null,"choice":null,
	   "status":"NEW","tags":[],"attrs":{},"raw":"","hash":"\u0000\u0000\u0000\u0000","created":1700000000123,
	   "day":19675,"amount":"\u0000","where":{"x":-1},"next":null}}}`
	// amount: 12345 as big-endian two's complement, 0x30 0x39 ("09").
	sameJSON(t, "decoded", d.Value, want)

	// Encode the JSON back; hamba reads Encode's bytes as the same value
	// as its own (whose arrays and maps carry block sizes, so the bytes
	// themselves differ).
	enc, gotID, err := r.serde.Encode(r.ctx, serde.Spec{Format: serde.FormatAvro, ID: id}, d.Value)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if gotID != id || !bytes.Equal(enc[:5], data[:5]) {
		t.Errorf("Encode = id %d, header %x; want id %d", gotID, enc[:5], id)
	}
	var back, orig map[string]any
	if err := avro.Unmarshal(schema, enc[5:], &back); err != nil {
		t.Fatalf("hamba Unmarshal of Encode's bytes: %v", err)
	}
	if err := avro.Unmarshal(schema, payload, &orig); err != nil {
		t.Fatalf("hamba Unmarshal of its own bytes: %v", err)
	}
	if !reflect.DeepEqual(back, orig) {
		t.Errorf("hamba reads Encode's bytes as\n %v\nbut its own as\n %v", back, orig)
	}
}

// TestAvroUnionJSON follows Avro's JsonDecoder, which Confluent's REST
// Proxy uses: a union's non-null value needs its branch wrapper, null is
// bare; every field is required and unknown fields are refused.
func TestAvroUnionJSON(t *testing.T) {
	r := newRegistry(t)
	id := r.register("users-value", sr.TypeAvro, `{"type":"record","name":"User","namespace":"io.example","fields":[
	 {"name":"name","type":"string"},
	 {"name":"favorite_number","type":["null","int"]},
	 {"name":"favorite_color","type":["null","string"]},
	 {"name":"tag","type":["null",{"type":"fixed","name":"Tag","size":2}]}]}`)
	spec := serde.Spec{Format: serde.FormatAvro, ID: id}
	good := []string{
		`{"name":"testUser","favorite_number":{"int":7},"favorite_color":null,"tag":null}`,
		`{"favorite_color":{"string":"red"},"name":"x","tag":{"io.example.Tag":"ab"},"favorite_number":null}`,
		`{"name":"n","favorite_number":{"int":1e2},"favorite_color":null,"tag":null}`,
	}
	for _, v := range good {
		data, _, err := r.serde.Encode(r.ctx, spec, []byte(v))
		if err != nil {
			t.Errorf("Encode(%s): %v", v, err)
			continue
		}
		d := r.serde.Decode(r.ctx, data)
		if d.Format != "avro" {
			t.Fatalf("Decode = %+v", d)
		}
		want := v
		if v == good[2] {
			want = `{"name":"n","favorite_number":{"int":100},"favorite_color":null,"tag":null}`
		}
		sameJSON(t, "round trip", d.Value, want)
	}
	bad := []string{
		`{"name":"x","favorite_number":7,"favorite_color":null,"tag":null}`,                     // no wrapper
		`{"name":"x","favorite_number":{"long":7},"favorite_color":null,"tag":null}`,            // not a branch
		`{"name":"x","favorite_number":{"int":7,"null":null},"favorite_color":null,"tag":null}`, // two keys
		`{"name":"x","favorite_number":null,"tag":null}`,                                        // missing field
		`{"name":"x","favorite_number":null,"favorite_color":null,"tag":null,"extra":1}`,        // unknown field
		`{"name":"x","favorite_number":{"int":1.5},"favorite_color":null,"tag":null}`,           // not integral
		`{"name":"x","favorite_number":{"int":3000000000},"favorite_color":null,"tag":null}`,    // out of range
		`{"name":"x","favorite_number":null,"favorite_color":null,"tag":{"Tag":"ab"}}`,          // short name
		`{"name":"x","favorite_number":null,"favorite_color":null,"tag":{"io.example.Tag":"abc"}}`,
		`{"name":"\u20ac","favorite_number":null,"favorite_color":null,"tag":{"io.example.Tag":"a\u20ac"}}`,
		`{"name":"x"} trailing`,
		`not json`,
	}
	for _, v := range bad {
		if _, _, err := r.serde.Encode(r.ctx, spec, []byte(v)); !errors.Is(err, serde.ErrInvalidData) {
			t.Errorf("Encode(%s) = %v, want ErrInvalidData", v, err)
		}
	}
}

// TestAvroReferences registers a schema that names a type of a referenced
// schema, by schema text through Encode (auto-register), and reads it.
func TestAvroReferences(t *testing.T) {
	r := newRegistry(t)
	r.register("address", sr.TypeAvro, `{"type":"record","name":"Address","namespace":"shop","fields":[{"name":"city","type":"string"}]}`)
	spec := serde.Spec{
		Format:     serde.FormatAvro,
		Subject:    "customer-value",
		Schema:     `{"type":"record","name":"Customer","namespace":"shop","fields":[{"name":"home","type":"Address"},{"name":"work","type":["null","shop.Address"]}]}`,
		References: []serde.Reference{{Name: "shop.Address", Subject: "address", Version: 1}},
	}
	value := `{"home":{"city":"Prague"},"work":{"shop.Address":{"city":"Brno"}}}`
	data, id, err := r.serde.Encode(r.ctx, spec, []byte(value))
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	// The same schema again is looked up, not registered anew.
	_, id2, err := r.serde.Encode(r.ctx, spec, []byte(value))
	if err != nil || id2 != id {
		t.Fatalf("second Encode: id %d (first %d), %v", id2, id, err)
	}
	versions, err := r.cl.SubjectVersions(r.ctx, "customer-value")
	if err != nil || len(versions) != 1 {
		t.Fatalf("customer-value versions %v, %v; want one", versions, err)
	}
	// By subject, latest version, too.
	data2, id3, err := r.serde.Encode(r.ctx, serde.Spec{Format: serde.FormatAvro, Subject: "customer-value", Version: -1}, []byte(value))
	if err != nil || id3 != id || !bytes.Equal(data, data2) {
		t.Fatalf("Encode by subject: id %d, %v", id3, err)
	}
	// A fresh Serde (empty cache) reads it, fetching the reference.
	d := serde.New(r.cl).Decode(r.ctx, data)
	if d.Format != "avro" || d.SchemaID != id || d.Subject != "customer-value" {
		t.Fatalf("Decode = %+v", d)
	}
	sameJSON(t, "decoded", d.Value, value)
}
