package restproxy_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/moldau/moldau/broker/serde"
)

func TestV3ProduceWithSchemas(t *testing.T) {
	p := newProxy(t, withSchemaRegistry())
	cid := clusterID(t, p)
	p.createTopic(t, "orders", 1, nil)
	records := "/v3/clusters/" + cid + "/topics/orders/records"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	order := `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int"}]}`
	v1, err := p.Registry.CreateSchema(ctx, "orders-value", sr.Schema{Schema: order, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}

	type want struct {
		id, version int
		subject     string
	}
	check := func(body string, w want) map[string]any {
		t.Helper()
		r := p.do(t, "POST", records, body)
		wantStatus(t, r, http.StatusOK)
		res := produceResults(t, r.Body)
		if len(res) != 1 || res[0]["error_code"] != 200.0 {
			t.Fatalf("%s: %s", body, r.Body)
		}
		v := res[0]["value"]
		if field(v, "type") != "AVRO" || field(v, "schema_id") != float64(w.id) || field(v, "subject") != w.subject {
			t.Errorf("%s: value %v, want id %d subject %s", body, v, w.id, w.subject)
		}
		if w.version > 0 && field(v, "schema_version") != float64(w.version) {
			t.Errorf("%s: schema_version %v, want %d", body, field(v, "schema_version"), w.version)
		}
		return res[0]
	}
	// Confluent's latest_schema, schema_id_and_schema_version and raw
	// schema forms.
	check(`{"value":{"data":{"id":"a","qty":1}}}`, want{v1.ID, 1, "orders-value"})
	check(fmt.Sprintf(`{"value":{"schema_id":%d,"data":{"id":"b","qty":2}}}`, v1.ID), want{v1.ID, 0, "orders-value"})
	check(`{"value":{"schema_version":1,"data":{"id":"c","qty":3}}}`, want{v1.ID, 1, "orders-value"})
	res := check(`{"key":{"type":"AVRO","subject":"orders-key","schema":"{\"type\":\"string\"}","data":"k"},"value":{"subject_name_strategy":"TOPIC_NAME","data":{"id":"d","qty":4}}}`,
		want{v1.ID, 1, "orders-value"})
	keyID, _ := field(res, "key", "schema_id").(float64)
	if field(res, "key", "type") != "AVRO" || field(res, "key", "subject") != "orders-key" || keyID == 0 {
		t.Errorf("raw-schema key: %v", res["key"])
	}
	if _, err := p.Registry.SchemaByVersion(ctx, "orders-key", -1); err != nil {
		t.Errorf("raw schema not registered under orders-key: %v", err)
	}

	// Read back: Confluent framing (magic 0, the schema id), and the
	// registry-backed decode gives the document produced.
	got := p.consume(t, "orders", 4)
	dec := serde.New(p.Registry)
	for i, rec := range got {
		if len(rec.Value) < 5 || rec.Value[0] != 0 || int(binary.BigEndian.Uint32(rec.Value[1:5])) != v1.ID {
			t.Fatalf("record %d value % x", i, rec.Value)
		}
		d := dec.Decode(ctx, rec.Value)
		var doc struct {
			ID  string `json:"id"`
			Qty int    `json:"qty"`
		}
		if err := json.Unmarshal(d.Value, &doc); err != nil || doc.ID != string(rune('a'+i)) || doc.Qty != i+1 {
			t.Errorf("record %d decoded %+v (%s): %v", i, d, d.Value, err)
		}
	}
	if k := dec.Decode(ctx, got[3].Key); string(k.Value) != `"k"` || k.SchemaID != int(keyID) {
		t.Errorf("key decoded %+v", k)
	}

	// Errors, per record.
	for _, c := range []struct {
		body string
		code float64
	}{
		{`{"value":{"data":{"id":"x"}}}`, 400},                                               // data does not match
		{`{"value":{"schema_id":9999,"data":{"id":"x","qty":1}}}`, 42207},                    // no such id
		{`{"value":{"schema_version":7,"data":{"id":"x","qty":1}}}`, 400},                    // no such version
		{`{"value":{"subject":"nobody-value","data":{"id":"x","qty":1}}}`, 42207},            // no such subject
		{`{"value":{"type":"AVRO","schema":"{\"type\":","data":"x"}}`, 42205},                // bad schema
		{`{"value":{"schema_id":1,"schema_version":1,"data":{}}}`, 400},                      // both
		{`{"value":{"type":"PROTOBUF","schema_version":1,"data":{"id":"x","qty":1}}}`, 400},  // wrong type
		{`{"value":{"subject_name_strategy":"RECORD_NAME","data":{"id":"x","qty":1}}}`, 400}, // unsupported
	} {
		r := p.do(t, "POST", records, c.body)
		wantStatus(t, r, http.StatusOK)
		res := produceResults(t, r.Body)
		if len(res) != 1 || res[0]["error_code"] != c.code || res[0]["message"] == nil {
			t.Errorf("%s: %s (want error_code %v)", c.body, r.Body, c.code)
		}
	}
}
