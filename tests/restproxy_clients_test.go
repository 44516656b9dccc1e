package tests

// The REST Proxy's schema-backed produce against Confluent's real
// deserializers (issue #19): records produced through the moldau binary's
// --http-proxy-addr -- v3 POST /v3/clusters/{id}/topics/{t}/records with
// AVRO, PROTOBUF and JSONSCHEMA values by schema_id, by raw schema, by
// schema_version and by the subject's latest; v2 POST /topics/{t} with
// application/vnd.kafka.avro.v2+json, key_schema and value_schema, then
// their ids -- are read by confluent-kafka (Python) with AvroDeserializer,
// ProtobufDeserializer and JSONDeserializer against the binary's registry
// (tests/restproxy/ck_consume.py, one process) and must equal what the proxy
// was given, as an independent reader of the same JSON form reads it
// (fastavro's json_reader, json_format.Parse, json.loads). The schema ids in
// the records must be the ones the proxy answered. The clients come from
// tests/schemaregistry/setup.sh; under CI a missing python3 fails.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// rpPayment is the Avro value schema the proxy writes with (v1), and v2
// with one more optional field.
const (
	rpPaymentFields = `{"name":"id","type":"long"},{"name":"name","type":"string"},{"name":"amount","type":"double"},` +
		`{"name":"ratio","type":"float"},{"name":"ok","type":"boolean"},` +
		`{"name":"tags","type":{"type":"array","items":"string"}},{"name":"attrs","type":{"type":"map","values":"long"}},` +
		`{"name":"note","type":["null","string"],"default":null},` +
		`{"name":"addr","type":["null",{"type":"record","name":"Address","fields":[{"name":"street","type":"string"},{"name":"zip","type":"int"}]}],"default":null},` +
		`{"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","DONE"]}},` +
		`{"name":"raw","type":"bytes"},{"name":"hash","type":{"type":"fixed","name":"Hash","size":4}},` +
		`{"name":"choice","type":["int","string",{"type":"array","items":"int"}]},` +
		`{"name":"created","type":{"type":"long","logicalType":"timestamp-millis"}}`
	rpPaymentV1 = `{"type":"record","name":"Payment","namespace":"moldau.interop","fields":[` + rpPaymentFields + `]}`
	rpPaymentV2 = `{"type":"record","name":"Payment","namespace":"moldau.interop","fields":[` + rpPaymentFields +
		`,{"name":"extra","type":["null","int"],"default":null}]}`
)

// rpAvroV1 are values of rpPaymentV1 in Avro's JSON encoding.
var rpAvroV1 = []string{
	`{"id":1,"name":"plain","amount":12.5,"ratio":0.1,"ok":true,"tags":["a","b"],"attrs":{"x":1,"y":-1099511627776},` +
		`"note":null,"addr":null,"status":"NEW","raw":"","hash":"abcd","choice":{"int":7},"created":1714979289123}`,
	`{"id":9007199254740993,"name":"na\u00efve \u2603 \ud83d\ude00 \"q\"\n","amount":-0.0001,"ratio":3.5,"ok":false,` +
		`"tags":[],"attrs":{},"note":{"string":"a note"},"addr":{"moldau.interop.Address":{"street":"Main St 1","zip":10115}},` +
		`"status":"DONE","raw":"\u0000\u007f\u0080\u00ff","hash":"\u0000\u0001\u00fe\u00ff","choice":{"string":"text"},"created":-1000}`,
	`{"id":-1,"name":"","amount":1e300,"ratio":-2,"ok":true,"tags":["only"],"attrs":{"k":0},"note":{"string":""},` +
		`"addr":{"moldau.interop.Address":{"street":"","zip":0}},"status":"NEW","raw":"bin","hash":"zzzz",` +
		`"choice":{"array":[1,2,3]},"created":0}`,
}

// rpAvroV2 is a value of rpPaymentV2.
var rpAvroV2 = []string{
	`{"id":7,"name":"v2","amount":1,"ratio":0.25,"ok":true,"tags":[],"attrs":{},"note":null,"addr":null,"status":"DONE",` +
		`"raw":"\u00c3\u00a9","hash":"    ","choice":{"int":-1},"created":1,"extra":{"int":42}}`,
	`{"id":8,"name":"v2 null","amount":2,"ratio":0,"ok":false,"tags":["t"],"attrs":{"a":1},"note":null,"addr":null,"status":"NEW",` +
		`"raw":"","hash":"abcd","choice":{"string":""},"created":2,"extra":null}`,
}

// rpOrders are protojson values of shop.proto's Order (its first message):
// lowerCamelCase and proto field names, int64 as string and number, enums
// by name and number, a Timestamp, bytes, a map, a oneof, the imported
// Address.
var rpOrders = []string{
	`{"id":"4611686018427387904","customerName":"Zo\u00eb \ud83d\ude00","lines":[{"sku":"A-1","quantity":2,"price":9.99},{"sku":"B-2"}],` +
		`"shipTo":{"street":"Main St 1","city":"Berlin","zip":10115},"status":"STATUS_SHIPPED","labels":{"gift":"yes","prio":"high"},` +
		`"blob":"AP8QQQ==","gift":true,"bigCount":"18446744073709551615","ratio":0.1,"createdAt":"2024-05-06T07:08:09.123456Z",` +
		`"card":"4111-1111","note":"","tier":"TIER_GOLD"}`,
	`{}`,
	`{"id":-5,"customer_name":"proto names","status":1,"voucher":0,"ship_to":{"zip":1},"big_count":3,"tier":1,"lines":[{}]}`,
}

// rpReadings are protojson values of standalone.proto's Reading.
var rpReadings = []string{
	`{"sensor":"s1","samples":[{"atMs":"1714979289123","value":21.5},{"atMs":"1","value":-0.5}],"unit":"UNIT_CELSIUS",` +
		`"counters":{"a":1,"b":-2},"raw":"AAEC"}`,
	`{"sensor":""}`,
}

const rpOrderJSONSchema = `{"$schema":"http://json-schema.org/draft-07/schema#","title":"Order","type":"object",` +
	`"properties":{"id":{"type":"integer"},"customer":{"type":"string"},"amount":{"type":"number"},"paid":{"type":"boolean"},` +
	`"note":{"type":["string","null"]},"items":{"type":"array","items":{"type":"object","properties":{"sku":{"type":"string"},"qty":{"type":"integer"}}}}},` +
	`"required":["id","customer"]}`

var rpJSONValues = []string{
	`{"id":1,"customer":"c1","amount":2.25,"paid":true,"note":null,"items":[{"sku":"a","qty":1},{"sku":"b","qty":2}]}`,
	`{"id":9007199254740993,"customer":"\ud83d\ude00 \"q\" \\ \u2028","amount":1e-7,"items":[]}`,
	`{"id":0,"customer":""}`,
}

// rpProxy calls the binary's REST Proxy.
type rpProxy struct {
	base, cluster string
}

// call sends body (JSON) and returns the status and the answer.
func (p rpProxy) call(t *testing.T, method, path, contentType string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func (p rpProxy) createTopic(t *testing.T, topic string) {
	t.Helper()
	status, body := p.call(t, "POST", "/v3/clusters/"+p.cluster+"/topics", "application/json",
		map[string]any{"topic_name": topic, "partitions_count": 1, "replication_factor": 1})
	if status != http.StatusCreated {
		t.Fatalf("create topic %s: %d %s", topic, status, body)
	}
}

// rpProduced is a v3 produce answer's value.
type rpProduced struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
	Offset    int64  `json:"offset"`
	Value     *struct {
		Type          string `json:"type"`
		Subject       string `json:"subject"`
		SchemaID      int    `json:"schema_id"`
		SchemaVersion int    `json:"schema_version"`
	} `json:"value"`
}

// v3Produce produces one record whose value is value (schema fields and
// data) and returns the answer; the HTTP status must be 200 (the record's
// own error_code is the caller's to check).
func (p rpProxy) v3Produce(t *testing.T, topic string, value map[string]any) rpProduced {
	t.Helper()
	status, body := p.call(t, "POST", "/v3/clusters/"+p.cluster+"/topics/"+topic+"/records", "application/json",
		map[string]any{"value": value})
	var r rpProduced
	if status != http.StatusOK || json.Unmarshal(bytes.TrimSpace(body), &r) != nil {
		t.Fatalf("v3 produce to %s %v: %d %s", topic, value, status, body)
	}
	return r
}

// v3ProduceOK is v3Produce that wants error_code 200 and returns the
// schema id used.
func (p rpProxy) v3ProduceOK(t *testing.T, topic string, value map[string]any) int {
	t.Helper()
	r := p.v3Produce(t, topic, value)
	if r.ErrorCode != http.StatusOK || r.Value == nil || r.Value.SchemaID <= 0 {
		t.Fatalf("v3 produce to %s %v: %+v", topic, value, r)
	}
	return r.Value.SchemaID
}

// rpCheck is one topic ck_consume.py reads, and the ids it must see.
type rpCheck struct {
	Name    string   `json:"name"`
	Topic   string   `json:"topic"`
	Format  string   `json:"format"`
	Message string   `json:"message,omitempty"`
	Values  []string `json:"values"`
	Keys    []string `json:"keys,omitempty"`
	ids     []int
	keyIDs  []int
}

func startRestProxyClients(t *testing.T) (interopBroker, rpProxy) {
	t.Helper()
	b := startInteropBroker(t, false, true)
	p := rpProxy{base: b.Proxy}
	status, body := p.call(t, "GET", "/v3/clusters", "", nil)
	var clusters struct {
		Data []struct {
			ClusterID string `json:"cluster_id"`
		} `json:"data"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &clusters) != nil || len(clusters.Data) != 1 {
		t.Fatalf("GET /v3/clusters: %d %s", status, body)
	}
	p.cluster = clusters.Data[0].ClusterID
	return b, p
}

func registerSchema(t *testing.T, cl *sr.Client, subject string, s sr.Schema) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ss, err := cl.CreateSchema(ctx, subject, s)
	if err != nil {
		t.Fatalf("register %s: %v", subject, err)
	}
	return ss.ID
}

func TestRestProxyClients(t *testing.T) {
	python, gen := interopPython(t)
	b, p := startRestProxyClients(t)
	reg, err := sr.NewClient(sr.URLs(b.Registry))
	if err != nil {
		t.Fatal(err)
	}
	protoDir := filepath.Join(testsDir(), "restproxy", "proto")
	readProto := func(name string) string {
		data, err := os.ReadFile(filepath.Join(protoDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	var checks []*rpCheck
	add := func(c *rpCheck, values []string, ids ...int) {
		c.Values = append(c.Values, values...)
		for range values {
			c.ids = append(c.ids, ids[0])
		}
	}

	// v3 AVRO: by schema_id (v1), by raw schema (v2, registered by the
	// proxy), by the subject's latest (v2), by schema_version 1.
	avro := &rpCheck{Name: "v3 AVRO by schema_id, raw schema, latest, schema_version", Topic: "rp-avro", Format: "avro"}
	p.createTopic(t, avro.Topic)
	v1 := registerSchema(t, reg, avro.Topic+"-value", sr.Schema{Schema: rpPaymentV1, Type: sr.TypeAvro})
	for _, v := range rpAvroV1[:2] {
		add(avro, []string{v}, p.v3ProduceOK(t, avro.Topic, map[string]any{"type": "AVRO", "schema_id": v1, "data": json.RawMessage(v)}))
	}
	v2 := p.v3ProduceOK(t, avro.Topic, map[string]any{"type": "AVRO", "schema": rpPaymentV2, "data": json.RawMessage(rpAvroV2[0])})
	add(avro, rpAvroV2[:1], v2)
	add(avro, rpAvroV2[1:], p.v3ProduceOK(t, avro.Topic, map[string]any{"type": "AVRO", "data": json.RawMessage(rpAvroV2[1])}))
	add(avro, rpAvroV1[2:], p.v3ProduceOK(t, avro.Topic, map[string]any{"type": "AVRO", "schema_version": 1, "data": json.RawMessage(rpAvroV1[2])}))
	if v2 == v1 || !slices.Equal(avro.ids, []int{v1, v1, v2, v2, v1}) {
		t.Fatalf("v3 AVRO produce used schema ids %v; want v1 %d, v1, v2 %d (registered from the raw schema), v2 (latest), v1 (version 1)", avro.ids, v1, v2)
	}
	checks = append(checks, avro)

	// v2 avro: key_schema and value_schema as text, then their ids.
	avro2 := &rpCheck{Name: "v2 avro value_schema and key_schema, then their ids", Topic: "rp-avro-v2", Format: "avro"}
	p.createTopic(t, avro2.Topic)
	const v2Avro = "application/vnd.kafka.avro.v2+json"
	produceV2 := func(req map[string]any) (keyID, valueID int) {
		t.Helper()
		status, body := p.call(t, "POST", "/topics/"+avro2.Topic, v2Avro, req)
		var resp struct {
			KeySchemaID   *int `json:"key_schema_id"`
			ValueSchemaID *int `json:"value_schema_id"`
			Offsets       []struct {
				ErrorCode *int    `json:"error_code"`
				Error     *string `json:"error"`
			} `json:"offsets"`
		}
		if status != http.StatusOK || json.Unmarshal(body, &resp) != nil || resp.KeySchemaID == nil || resp.ValueSchemaID == nil {
			t.Fatalf("v2 avro produce: %d %s", status, body)
		}
		for _, o := range resp.Offsets {
			if o.ErrorCode != nil {
				t.Fatalf("v2 avro produce: %s", body)
			}
		}
		return *resp.KeySchemaID, *resp.ValueSchemaID
	}
	v2Records := func(keys, values []string) []map[string]any {
		var out []map[string]any
		for i := range values {
			out = append(out, map[string]any{"key": json.RawMessage(keys[i]), "value": json.RawMessage(values[i])})
		}
		return out
	}
	keys := []string{`"k1"`, `"\u00e9t\u00e9"`, `""`}
	kid, vid := produceV2(map[string]any{"key_schema": `"string"`, "value_schema": rpPaymentV1, "records": v2Records(keys[:2], rpAvroV1[:2])})
	add(avro2, rpAvroV1[:2], vid)
	avro2.Keys = append(avro2.Keys, keys[:2]...)
	avro2.keyIDs = append(avro2.keyIDs, kid, kid)
	kid2, vid2 := produceV2(map[string]any{"key_schema_id": kid, "value_schema_id": vid, "records": v2Records(keys[2:], rpAvroV1[2:])})
	if kid2 != kid || vid2 != vid {
		t.Fatalf("v2 produce by ids answered key %d value %d, want %d %d", kid2, vid2, kid, vid)
	}
	add(avro2, rpAvroV1[2:], vid)
	avro2.Keys = append(avro2.Keys, keys[2])
	avro2.keyIDs = append(avro2.keyIDs, kid)
	checks = append(checks, avro2)

	// v3 PROTOBUF: shop.proto (importing interop/common.proto and
	// google/protobuf/timestamp.proto) by schema_id and latest; the proxy
	// writes its first message, Order.
	proto := &rpCheck{Name: "v3 PROTOBUF with a reference by schema_id and latest", Topic: "rp-proto", Format: "protobuf", Message: "interop.shop_pb2.Order"}
	p.createTopic(t, proto.Topic)
	registerSchema(t, reg, "interop/common.proto", sr.Schema{Schema: readProto("interop/common.proto"), Type: sr.TypeProtobuf})
	shopID := registerSchema(t, reg, proto.Topic+"-value", sr.Schema{Schema: readProto("interop/shop.proto"), Type: sr.TypeProtobuf,
		References: []sr.SchemaReference{{Name: "interop/common.proto", Subject: "interop/common.proto", Version: 1}}})
	for _, v := range rpOrders[:2] {
		add(proto, []string{v}, p.v3ProduceOK(t, proto.Topic, map[string]any{"type": "PROTOBUF", "schema_id": shopID, "data": json.RawMessage(v)}))
	}
	add(proto, rpOrders[2:], p.v3ProduceOK(t, proto.Topic, map[string]any{"type": "PROTOBUF", "data": json.RawMessage(rpOrders[2])}))
	if !slices.Equal(proto.ids, []int{shopID, shopID, shopID}) {
		t.Fatalf("v3 PROTOBUF produce used schema ids %v, want %d", proto.ids, shopID)
	}
	checks = append(checks, proto)

	// v3 PROTOBUF by raw schema (self-contained), then latest.
	protoRaw := &rpCheck{Name: "v3 PROTOBUF by raw schema, then latest", Topic: "rp-proto-raw", Format: "protobuf", Message: "standalone_pb2.Reading"}
	p.createTopic(t, protoRaw.Topic)
	rawID := p.v3ProduceOK(t, protoRaw.Topic, map[string]any{"type": "PROTOBUF", "schema": readProto("standalone.proto"), "data": json.RawMessage(rpReadings[0])})
	add(protoRaw, rpReadings[:1], rawID)
	add(protoRaw, rpReadings[1:], p.v3ProduceOK(t, protoRaw.Topic, map[string]any{"type": "PROTOBUF", "data": json.RawMessage(rpReadings[1])}))
	checks = append(checks, protoRaw)

	// v3 JSONSCHEMA by raw schema, schema_id, latest.
	js := &rpCheck{Name: "v3 JSONSCHEMA by raw schema, schema_id, latest", Topic: "rp-json", Format: "jsonschema"}
	p.createTopic(t, js.Topic)
	jsID := p.v3ProduceOK(t, js.Topic, map[string]any{"type": "JSONSCHEMA", "schema": rpOrderJSONSchema, "data": json.RawMessage(rpJSONValues[0])})
	add(js, rpJSONValues[:1], jsID)
	add(js, rpJSONValues[1:2], p.v3ProduceOK(t, js.Topic, map[string]any{"type": "JSONSCHEMA", "schema_id": jsID, "data": json.RawMessage(rpJSONValues[1])}))
	add(js, rpJSONValues[2:], p.v3ProduceOK(t, js.Topic, map[string]any{"type": "JSONSCHEMA", "data": json.RawMessage(rpJSONValues[2])}))
	checks = append(checks, js)

	in, err := json.Marshal(map[string]any{"bootstrap": b.Addr, "registry": b.Registry, "gen": gen, "checks": checks})
	if err != nil {
		t.Fatal(err)
	}
	out, runErr := runDriver(t, 3*time.Minute, nil, python, filepath.Join(testsDir(), "restproxy", "ck_consume.py"), string(in))
	byName := map[string]*rpCheck{}
	for _, c := range checks {
		byName[c.Name] = c
	}
	seen := 0
	for _, line := range strings.Split(out, "\n") {
		var r struct {
			Check  string `json:"check"`
			OK     bool   `json:"ok"`
			Detail string `json:"detail"`
			IDs    []int  `json:"ids"`
			KeyIDs []int  `json:"key_ids"`
		}
		if json.Unmarshal([]byte(line), &r) != nil || r.Check == "" {
			continue
		}
		c := byName[r.Check]
		if c == nil {
			t.Fatalf("ck_consume.py reported an unknown check %q", r.Check)
		}
		seen++
		t.Run(r.Check, func(t *testing.T) {
			if !r.OK {
				t.Fatal(r.Detail)
			}
			if !slices.Equal(r.IDs, c.ids) || (len(c.keyIDs) > 0 && !slices.Equal(r.KeyIDs, c.keyIDs)) {
				t.Fatalf("records carry value schema ids %v and key schema ids %v; the proxy answered %v and %v", r.IDs, r.KeyIDs, c.ids, c.keyIDs)
			}
			t.Log(r.Detail)
		})
	}
	if seen != len(checks) || runErr != nil {
		t.Fatalf("ck_consume.py (%v) reported %d of %d checks:\n%s", runErr, seen, len(checks), out)
	}
	if r := lastJSON(t, out); !r.OK {
		t.Fatalf("ck_consume.py: %s", r.Detail)
	}
}

// TestRestProxyClientsTypeFromSchema: kafka-rest's v3 produce learns a
// value's format from the schema it names (schema_id, or the subject's
// version) when "type" is absent, and answers the schema_version it used
// (SchemaManager; broker/restproxy does the same when its Config.Registry
// is set). The binary must too.
func TestRestProxyClientsTypeFromSchema(t *testing.T) {
	b, p := startRestProxyClients(t)
	reg, err := sr.NewClient(sr.URLs(b.Registry))
	if err != nil {
		t.Fatal(err)
	}
	topic := "rp-infer"
	p.createTopic(t, topic)
	id := registerSchema(t, reg, topic+"-value", sr.Schema{Schema: rpPaymentV1, Type: sr.TypeAvro})
	for _, c := range []struct {
		name        string
		value       map[string]any
		wantVersion bool
	}{
		{"schema_id without type", map[string]any{"schema_id": id}, false},
		{"schema_version without type", map[string]any{"schema_version": 1}, true},
		{"latest with type answers schema_version", map[string]any{"type": "AVRO"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			what := fmt.Sprint(c.value)
			c.value["data"] = json.RawMessage(rpAvroV1[0])
			r := p.v3Produce(t, topic, c.value)
			if r.ErrorCode != http.StatusOK || r.Value == nil {
				t.Fatalf("value %s: %+v", what, r)
			}
			if r.Value.Type != "AVRO" || r.Value.SchemaID != id || r.Value.Subject != topic+"-value" || c.wantVersion && r.Value.SchemaVersion != 1 {
				t.Fatalf("value %s answered %+v; want type AVRO, schema_id %d, subject %s-value (and schema_version 1: %v)",
					what, *r.Value, id, topic, c.wantVersion)
			}
		})
	}
}

// TestRestProxyClientsKafkaJS: @kafkajs/confluent-schema-registry's decode
// (avsc, unions wrapped) reads the Avro records the REST Proxy's v3 produce
// wrote by schema_id as the values the proxy was given. Longs beyond 2^53
// are left out (avsc refuses them as a JavaScript number), and floats are
// exact in float32 (avsc gives the float32's double).
func TestRestProxyClientsKafkaJS(t *testing.T) {
	srClients(t, "node", "npm")
	b, p := startRestProxyClients(t)
	reg, err := sr.NewClient(sr.URLs(b.Registry))
	if err != nil {
		t.Fatal(err)
	}
	topic := "rp-avro-kjs"
	p.createTopic(t, topic)
	id := registerSchema(t, reg, topic+"-value", sr.Schema{Schema: rpPaymentV1, Type: sr.TypeAvro})
	values := []string{strings.Replace(rpAvroV1[0], `"ratio":0.1`, `"ratio":0.5`, 1), rpAvroV1[2]}
	for _, v := range values {
		if got := p.v3ProduceOK(t, topic, map[string]any{"type": "AVRO", "schema_id": id, "data": json.RawMessage(v)}); got != id {
			t.Fatalf("produced with schema id %d, want %d", got, id)
		}
	}
	var records []string
	for _, v := range consumeValues(t, b.Addr, topic, len(values)) {
		records = append(records, base64.StdEncoding.EncodeToString([]byte(v)))
	}
	in, err := json.Marshal(map[string]any{"registry": b.Registry, "records": records})
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"NODE_PATH=" + filepath.Join(compatCache(), "sr-node", "node_modules")}
	out, runErr := runDriver(t, time.Minute, env, "node", filepath.Join(testsDir(), "restproxy", "kjs_decode.js"), string(in))
	if r := lastJSON(t, out); !r.OK || runErr != nil {
		t.Fatalf("kjs_decode.js (%v): %s\n%s", runErr, r.Detail, out)
	}
	var decoded []json.RawMessage
	for _, line := range strings.Split(out, "\n") {
		var l struct {
			Value json.RawMessage `json:"value"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Value != nil {
			decoded = append(decoded, l.Value)
		}
	}
	if len(decoded) != len(values) {
		t.Fatalf("kjs_decode.js decoded %d records, want %d:\n%s", len(decoded), len(values), out)
	}
	for i, v := range values {
		t.Logf("kafkajs decoded %s", decoded[i])
		same, err := sameJSON(decoded[i], []byte(v))
		if err != nil || !same {
			t.Errorf("record %d (%v):\nkafkajs %s\nsent    %s", i, err, decoded[i], v)
		}
	}
}
