package restproxy_test

import (
	"fmt"
	"strings"
	"testing"
)

const (
	v2JSON    = "application/vnd.kafka.v2+json"
	v2Binary  = "application/vnd.kafka.binary.v2+json"
	v2JSONFmt = "application/vnd.kafka.json.v2+json"
)

func TestV2TopicsPartitionsBrokers(t *testing.T) {
	p := newProxy(t)
	p.createTopic(t, "v2-meta", 2, nil)

	r := p.do(t, "GET", "/topics", nil, "Accept", v2JSON)
	wantStatus(t, r, 200)
	if ct := r.Header.Get("Content-Type"); ct != v2JSON {
		t.Errorf("Content-Type %q", ct)
	}
	found := false
	for _, n := range r.JSON(t).([]any) {
		if n == "v2-meta" {
			found = true
		}
		if n == "__consumer_offsets" {
			t.Errorf("internal topic listed: %s", r.Body)
		}
	}
	if !found {
		t.Fatalf("GET /topics: %s", r.Body)
	}

	r = p.do(t, "GET", "/topics/v2-meta", nil)
	wantStatus(t, r, 200)
	m := r.Object(t)
	if m["name"] != "v2-meta" {
		t.Errorf("name: %s", r.Body)
	}
	if _, ok := field(m, "configs").(map[string]any)["cleanup.policy"]; !ok {
		t.Errorf("configs without cleanup.policy: %s", r.Body)
	}
	parts, _ := m["partitions"].([]any)
	if len(parts) != 2 {
		t.Fatalf("partitions: %s", r.Body)
	}
	leader := field(parts[1], "leader")
	if field(parts[1], "partition") != 1.0 || field(parts[1], "replicas", "0", "broker") != leader ||
		field(parts[1], "replicas", "0", "leader") != true || field(parts[1], "replicas", "0", "in_sync") != true {
		t.Errorf("partition 1: %v", parts[1])
	}

	wantError(t, p.do(t, "GET", "/topics/v2-absent", nil), 404, 40401)

	r = p.do(t, "GET", "/topics/v2-meta/partitions", nil)
	wantStatus(t, r, 200)
	if n := len(r.JSON(t).([]any)); n != 2 {
		t.Errorf("partitions: %s", r.Body)
	}
	r = p.do(t, "GET", "/topics/v2-meta/partitions/1", nil)
	wantStatus(t, r, 200)
	if r.Object(t)["partition"] != 1.0 {
		t.Errorf("partition: %s", r.Body)
	}
	wantError(t, p.do(t, "GET", "/topics/v2-meta/partitions/7", nil), 404, 40402)
	wantError(t, p.do(t, "GET", "/topics/v2-absent/partitions/0", nil), 404, 40401)

	r = p.do(t, "GET", "/brokers", nil)
	wantStatus(t, r, 200)
	if bs, _ := r.Object(t)["brokers"].([]any); len(bs) != 1 || bs[0] != leader {
		t.Errorf("brokers: %s (leader %v)", r.Body, leader)
	}

	wantError(t, p.do(t, "GET", "/topics", nil, "Accept", "text/html"), 406, 406)
}

// TestV2ProduceOffsetsInRequestOrder: a produce spanning partitions
// answers each record's partition and offset in the request's order
// (the producer completes partitions' batches in any order; CI once saw
// record 2's answer carry another record's partition).
func TestV2ProduceOffsetsInRequestOrder(t *testing.T) {
	p := newProxy(t)
	p.createTopic(t, "v2-order", 2, nil)
	var recs []string
	for i := range 10 {
		recs = append(recs, fmt.Sprintf(`{"value":"S2Fma2E=","partition":%d}`, i%2))
	}
	r := p.do(t, "POST", "/topics/v2-order", `{"records":[`+strings.Join(recs, ",")+`]}`,
		"Content-Type", v2Binary, "Accept", v2JSON)
	wantStatus(t, r, 200)
	offs, _ := r.Object(t)["offsets"].([]any)
	if len(offs) != 10 {
		t.Fatalf("offsets: %s", r.Body)
	}
	for i, o := range offs {
		if field(o, "partition") != float64(i%2) || field(o, "offset") != float64(i/2) {
			t.Errorf("record %d: partition %v offset %v, want %d and %d", i, field(o, "partition"), field(o, "offset"), i%2, i/2)
		}
	}
}

func TestV2ProduceBinaryAndJSON(t *testing.T) {
	p := newProxy(t)
	p.createTopic(t, "v2-produce", 2, nil)

	// Confluent's binary example: values "Kafka" base64-encoded, one with
	// a key, one to partition 1.
	r := p.do(t, "POST", "/topics/v2-produce",
		`{"records":[{"value":"S2Fma2E="},{"key":"a2V5","value":"S2Fma2E="},{"value":"S2Fma2E=","partition":1},{"value":null}]}`,
		"Content-Type", v2Binary, "Accept", v2JSON)
	wantStatus(t, r, 200)
	m := r.Object(t)
	if _, ok := m["key_schema_id"]; !ok || m["key_schema_id"] != nil || m["value_schema_id"] != nil {
		t.Errorf("schema ids: %s", r.Body)
	}
	offs, _ := m["offsets"].([]any)
	if len(offs) != 4 {
		t.Fatalf("offsets: %s", r.Body)
	}
	for i, o := range offs {
		if field(o, "error_code") != nil || field(o, "offset") == nil {
			t.Errorf("offset %d: %v", i, o)
		}
	}
	if field(offs[2], "partition") != 1.0 {
		t.Errorf("record 2 went to %v, want 1", field(offs[2], "partition"))
	}

	// JSON: any JSON value, keys too.
	r = p.do(t, "POST", "/topics/v2-produce/partitions/0",
		`{"records":[{"key":"somekey","value":{"foo":"bar"}},{"value":[ "foo", "bar" ]},{"value":53.5}]}`,
		"Content-Type", v2JSONFmt)
	wantStatus(t, r, 200)
	for _, o := range r.Object(t)["offsets"].([]any) {
		if field(o, "partition") != 0.0 {
			t.Errorf("partition path: %s", r.Body)
		}
	}

	recs := p.consume(t, "v2-produce", 7)
	got := map[string]int{}
	for _, rec := range recs {
		got[string(rec.Key)+"="+string(rec.Value)]++
	}
	for _, want := range []string{"=Kafka", "key=Kafka", `"somekey"={"foo":"bar"}`, `=["foo","bar"]`, "=53.5", "="} {
		if got[want] == 0 {
			t.Errorf("no record %q in %v", want, got)
		}
	}
	if got["=Kafka"] != 2 {
		t.Errorf("records: %v", got)
	}

	// Errors.
	wantError(t, p.do(t, "POST", "/topics/v2-produce", `{"records":[{"value":"S2Fma2E="}]}`, "Content-Type", "text/plain"), 415, 415)
	wantError(t, p.do(t, "POST", "/topics/v2-produce", `{"records":[{"value":"***"}]}`, "Content-Type", v2Binary), 422, 42203)
	wantError(t, p.do(t, "POST", "/topics/v2-produce", `{"records":[]}`, "Content-Type", v2Binary), 422, 422)
	wantError(t, p.do(t, "POST", "/topics/v2-produce", `{"records":`, "Content-Type", v2Binary), 400, 400)
	wantError(t, p.do(t, "POST", "/topics/v2-nope", `{"records":[{"value":"S2Fma2E="}]}`, "Content-Type", v2Binary), 404, 40401)
	wantError(t, p.do(t, "POST", "/topics/v2-produce/partitions/9", `{"records":[{"value":"S2Fma2E="}]}`, "Content-Type", v2Binary), 404, 40402)
	wantError(t, p.do(t, "POST", "/topics/v2-produce", `{"value_schema":"\"string\"","records":[{"value":"x"}]}`,
		"Content-Type", "application/vnd.kafka.avro.v2+json"), 415, 415) // no schema registry

	// A record's partition out of range fails that record only.
	r = p.do(t, "POST", "/topics/v2-produce", `{"records":[{"value":"S2Fma2E=","partition":5},{"value":"S2Fma2E="}]}`, "Content-Type", v2Binary)
	wantStatus(t, r, 200)
	offs = r.Object(t)["offsets"].([]any)
	if field(offs[0], "error_code") != 40402.0 || field(offs[0], "partition") != nil || field(offs[1], "offset") == nil {
		t.Errorf("per-record error: %s", r.Body)
	}

	r = p.do(t, "GET", "/topics/v2-produce/partitions/1/offsets", nil)
	wantStatus(t, r, 200)
	if m := r.Object(t); m["beginning_offset"] != 0.0 || m["end_offset"].(float64) < 1 {
		t.Errorf("partition offsets: %s", r.Body)
	}
	wantError(t, p.do(t, "GET", "/topics/v2-produce/partitions/9/offsets", nil), 404, 40402)
}
