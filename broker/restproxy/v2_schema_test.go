package restproxy_test

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// TestV2SchemaProduceConsume replays Confluent's Avro, JSON Schema and
// Protobuf examples: produce with a schema's text (registered under
// {topic}-value), again by the returned id, then read back through a
// consumer of that format.
func TestV2SchemaProduceConsume(t *testing.T) {
	p := newProxy(t, withSchemaRegistry())
	cases := []struct {
		format, schema, value, keySchema, key string
	}{
		{"avro", `{"type": "record", "name": "User", "fields": [{"name": "name", "type": "string"}]}`, `{"name":"testUser"}`, `"string"`, `"k1"`},
		{"jsonschema", `{"type":"object","properties":{"f1":{"type":"string"}}}`, `{"f1":"bar"}`, "", ""},
		{"protobuf", `syntax = "proto3"; message MyRecord { string f1 = 1; }`, `{"f1":"foo"}`, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.format, func(t *testing.T) {
			topic := "v2-schema-" + tc.format
			p.createTopic(t, topic, 1, nil)
			ct := "application/vnd.kafka." + tc.format + ".v2+json"
			body := map[string]any{"value_schema": tc.schema, "records": []any{rawJSON(tc.value)}}
			recs := []map[string]any{{"value": rawJSON(tc.value)}}
			if tc.keySchema != "" {
				body["key_schema"] = tc.keySchema
				recs[0]["key"] = rawJSON(tc.key)
			}
			body["records"] = recs
			r := p.do(t, "POST", "/topics/"+topic, body, "Content-Type", ct)
			wantStatus(t, r, 200)
			m := r.Object(t)
			id, _ := m["value_schema_id"].(float64)
			if id <= 0 || field(m, "offsets", "0", "offset") != 0.0 || field(m, "offsets", "0", "error_code") != nil {
				t.Fatalf("produce: %s", r.Body)
			}
			if tc.keySchema != "" {
				if kid, _ := m["key_schema_id"].(float64); kid <= 0 || kid == id {
					t.Errorf("key_schema_id: %s", r.Body)
				}
			} else if m["key_schema_id"] != nil {
				t.Errorf("key_schema_id without keys: %s", r.Body)
			}

			// By id.
			r = p.do(t, "POST", "/topics/"+topic, fmt.Sprintf(`{"value_schema_id":%d,"records":[{"value":%s}]}`, int(id), tc.value), "Content-Type", ct)
			wantStatus(t, r, 200)
			if got := r.Object(t)["value_schema_id"]; got != id {
				t.Errorf("by id: %s (want %v)", r.Body, id)
			}

			// The bytes are in the wire format with that id.
			for _, rec := range p.consume(t, topic, 2) {
				if len(rec.Value) < 5 || rec.Value[0] != 0 || binary.BigEndian.Uint32(rec.Value[1:5]) != uint32(id) {
					t.Errorf("record value % x is not framed with schema %v", rec.Value, id)
				}
			}

			group := "v2-schema-group-" + tc.format
			wantStatus(t, p.do(t, "POST", "/consumers/"+group, fmt.Sprintf(`{"name":"c","format":%q,"auto.offset.reset":"earliest"}`, tc.format), "Content-Type", v2JSON), 200)
			base := "/consumers/" + group + "/instances/c"
			wantStatus(t, p.do(t, "POST", base+"/subscription", fmt.Sprintf(`{"topics":[%q]}`, topic), "Content-Type", v2JSON), 204)
			wantError(t, p.do(t, "GET", base+"/records", nil, "Accept", v2Binary), 406, 40601)
			got := p.readRecords(t, base, ct, 2)
			for i, rec := range got {
				if fmt.Sprint(field(rec, "value")) != fmt.Sprint(decode(t, tc.value)) {
					t.Errorf("record %d value %v, want %s", i, field(rec, "value"), tc.value)
				}
			}
			if tc.keySchema != "" && field(got[0], "key") != "k1" {
				t.Errorf("record 0 key %v", field(got[0], "key"))
			}
			if field(got[1], "key") != nil {
				t.Errorf("record 1 key %v, want null", field(got[1], "key"))
			}
			wantStatus(t, p.do(t, "DELETE", base, nil), 204)
		})
	}

	p.createTopic(t, "v2-schema-errors", 1, nil)
	avro := "application/vnd.kafka.avro.v2+json"
	wantError(t, p.do(t, "POST", "/topics/v2-schema-errors", `{"records":[{"value":{"name":"x"}}]}`, "Content-Type", avro), 422, 42202)
	wantError(t, p.do(t, "POST", "/topics/v2-schema-errors", `{"value_schema":"\"string\"","records":[{"key":"k","value":"x"}]}`, "Content-Type", avro), 422, 42201)
	wantError(t, p.do(t, "POST", "/topics/v2-schema-errors", `{"value_schema":"{\"type\":\"nonsense\"}","records":[{"value":"x"}]}`, "Content-Type", avro), 422, 42205)
	wantError(t, p.do(t, "POST", "/topics/v2-schema-errors", `{"value_schema":"\"int\"","records":[{"value":"not an int"}]}`, "Content-Type", avro), 422, 42203)
	// Null values need no schema.
	wantStatus(t, p.do(t, "POST", "/topics/v2-schema-errors", `{"records":[{"value":null}]}`, "Content-Type", avro), 200)
}

// rawJSON keeps a JSON text as is inside a marshalled body.
type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

func decode(t *testing.T, s string) any {
	t.Helper()
	return response{Body: []byte(s)}.JSON(t)
}
