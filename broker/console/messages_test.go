package console_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type decoded struct {
	Format   string          `json:"format"`
	SchemaID int             `json:"schema_id"`
	Value    json.RawMessage `json:"value"`
	Error    string          `json:"error"`
	Size     int             `json:"size"`
}

type browsed struct {
	Messages []struct {
		Partition     int32   `json:"partition"`
		Offset        int64   `json:"offset"`
		Timestamp     int64   `json:"timestamp"`
		TimestampType string  `json:"timestamp_type"`
		Key           decoded `json:"key"`
		Value         decoded `json:"value"`
		Headers       []struct {
			Key         string  `json:"key"`
			Value       *string `json:"value"`
			ValueBase64 string  `json:"value_base64"`
		} `json:"headers"`
		Size int `json:"size"`
	} `json:"messages"`
	Scanned        int              `json:"scanned"`
	HighWatermarks map[string]int64 `json:"high_watermarks"`
}

func (b browsed) offsets() []int64 {
	out := []int64{}
	for _, m := range b.Messages {
		out = append(out, m.Offset)
	}
	return out
}

func (f *fixture) browse(topic string, q url.Values) browsed {
	f.t.Helper()
	var b browsed
	start := time.Now()
	f.call("GET", "/api/topics/"+topic+"/messages?"+q.Encode(), nil, 200, &b)
	if d := time.Since(start); d > 8*time.Second {
		f.t.Fatalf("browsing %v took %v", q, d)
	}
	return b
}

type produced struct {
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
	Timestamp int64 `json:"timestamp"`
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestProduceAndBrowse(t *testing.T) {
	f := newFixture(t)
	f.createTopic("events", 3)

	// Partition 0: ten string records through the API, keys k0..k9.
	for i := range 10 {
		var p produced
		f.call("POST", "/api/topics/events/messages", map[string]any{"partition": 0, "key": fmt.Sprint("k", i),
			"value": fmt.Sprint("value ", i), "headers": []map[string]any{{"key": "h", "value": "hv"}}}, 200, &p)
		if p.Partition != 0 || p.Offset != int64(i) || p.Timestamp <= 0 {
			t.Fatalf("produced %+v", p)
		}
	}
	// Partition 1: three records with set timestamps, through a client.
	for i, ts := range []int64{1000, 2000, 3000} {
		r := &kgo.Record{Topic: "events", Partition: 1, Value: fmt.Appendf(nil, `{"n":%d}`, i), Timestamp: time.UnixMilli(ts)}
		pcl, err := kgo.NewClient(kgo.SeedBrokers(f.b.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		err = pcl.ProduceSync(f.ctx, r).FirstErr()
		pcl.Close()
		if err != nil {
			t.Fatal(err)
		}
	}

	q := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	// latest (default): newest first.
	b := f.browse("events", q("partition", "0", "limit", "3"))
	if !equalInts(b.offsets(), []int64{9, 8, 7}) || b.HighWatermarks["0"] != 10 {
		t.Fatalf("latest: %v, hw %v", b.offsets(), b.HighWatermarks)
	}
	m := b.Messages[0]
	if m.Key.Format != "string" || string(m.Key.Value) != `"k9"` || m.Value.Format != "string" || string(m.Value.Value) != `"value 9"` ||
		m.TimestampType != "CreateTime" || m.Size != len("k9")+len("value 9")+len("h")+len("hv") {
		t.Fatalf("latest record %+v", m)
	}
	if len(m.Headers) != 1 || m.Headers[0].Key != "h" || m.Headers[0].Value == nil || *m.Headers[0].Value != "hv" ||
		m.Headers[0].ValueBase64 != base64.StdEncoding.EncodeToString([]byte("hv")) {
		t.Fatalf("headers %+v", m.Headers)
	}
	// earliest, offset.
	if b := f.browse("events", q("partition", "0", "start", "earliest", "limit", "2")); !equalInts(b.offsets(), []int64{0, 1}) {
		t.Fatalf("earliest: %v", b.offsets())
	}
	if b := f.browse("events", q("partition", "0", "start", "offset", "offset", "5", "limit", "2")); !equalInts(b.offsets(), []int64{5, 6}) {
		t.Fatalf("offset 5: %v", b.offsets())
	}
	if b := f.browse("events", q("partition", "0", "start", "offset", "offset", "10")); len(b.Messages) != 0 {
		t.Fatalf("offset at the end: %v", b.offsets())
	}
	// timestamp: the first record at or after 1500 is offset 1.
	b = f.browse("events", q("partition", "1", "start", "timestamp", "timestamp", "1500"))
	if !equalInts(b.offsets(), []int64{1, 2}) || b.Messages[0].Timestamp != 2000 || b.Messages[0].Value.Format != "json" ||
		string(b.Messages[0].Value.Value) != `{"n":1}` || b.Messages[0].Key.Format != "null" {
		t.Fatalf("timestamp: %+v", b.Messages)
	}
	if b := f.browse("events", q("partition", "1", "start", "timestamp", "timestamp", "9999999999999")); len(b.Messages) != 0 {
		t.Fatalf("timestamp after all: %v", b.offsets())
	}
	// Key search scans and keeps matches only.
	b = f.browse("events", q("partition", "0", "key", "k7"))
	if !equalInts(b.offsets(), []int64{7}) || b.Scanned != 10 {
		t.Fatalf("key search: %v scanned %d", b.offsets(), b.Scanned)
	}
	b = f.browse("events", q("start", "earliest", "key", "k", "limit", "3"))
	if len(b.Messages) != 3 {
		t.Fatalf("key search earliest limit 3: %v", b.offsets())
	}
	if b := f.browse("events", q("key", "k", "max_scan", "4", "partition", "0")); b.Scanned > 4 || len(b.Messages) != 4 {
		t.Fatalf("max_scan 4: scanned %d, %v", b.Scanned, b.offsets())
	}
	// All partitions, latest: 13 records, newest first overall; the empty
	// partition 2 does not hold the answer up.
	b = f.browse("events", q("limit", "50"))
	if len(b.Messages) != 13 || b.HighWatermarks["2"] != 0 || b.HighWatermarks["1"] != 3 {
		t.Fatalf("all partitions: %d messages, hw %v", len(b.Messages), b.HighWatermarks)
	}
	for i := 1; i < len(b.Messages); i++ {
		if b.Messages[i].Timestamp > b.Messages[i-1].Timestamp {
			t.Fatalf("not newest first at %d: %+v", i, b.Messages)
		}
	}
	if b := f.browse("events", q("partition", "2")); len(b.Messages) != 0 {
		t.Fatalf("empty partition: %v", b.offsets())
	}

	// Bad queries.
	for _, bad := range []string{"start=bogus", "limit=0", "limit=501", "partition=7", "partition=x",
		"start=offset", "start=timestamp", "max_scan=100001", "offset=-1&start=offset"} {
		f.call("GET", "/api/topics/events/messages?"+bad, nil, 400, nil)
	}
	f.call("GET", "/api/topics/nope/messages", nil, 404, nil)

	// Produce formats.
	var p produced
	f.call("POST", "/api/topics/events/messages", map[string]any{"partition": 2, "value": `{"a":[1,2]}`, "value_format": "json"}, 200, &p)
	f.call("POST", "/api/topics/events/messages", map[string]any{"partition": 2, "key": base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe}),
		"key_format": "base64", "value": nil}, 200, &p)
	f.call("POST", "/api/topics/events/messages", map[string]any{"value": "no partition given"}, 200, &p)
	if p.Partition < 0 || p.Partition > 2 {
		t.Fatalf("partition -1 produced to %d", p.Partition)
	}
	f.call("POST", "/api/topics/events/messages", map[string]any{"value": `{"a":`, "value_format": "json"}, 400, nil)
	f.call("POST", "/api/topics/events/messages", map[string]any{"value": "!!", "value_format": "base64"}, 400, nil)
	f.call("POST", "/api/topics/events/messages", map[string]any{"value": "x", "value_format": "yaml"}, 400, nil)
	f.call("POST", "/api/topics/events/messages", map[string]any{"partition": 9, "value": "x"}, 400, nil)
	f.call("POST", "/api/topics/events/messages", map[string]any{"value": "{}", "value_format": "avro"}, 400, nil) // no subject events-value
	f.call("POST", "/api/topics/nope/messages", map[string]any{"value": "x"}, 404, nil)
	f.call("POST", "/api/topics/events/messages", map[string]any{"headers": []map[string]any{{"value": "x"}}}, 400, nil)

	b = f.browse("events", q("partition", "2", "start", "earliest"))
	if len(b.Messages) < 2 || b.Messages[0].Value.Format != "json" || string(b.Messages[0].Value.Value) != `{"a":[1,2]}` ||
		b.Messages[1].Key.Format != "binary" || b.Messages[1].Value.Format != "null" {
		t.Fatalf("formats: %+v", b.Messages)
	}
}

func TestProduceAvro(t *testing.T) {
	f := newFixture(t)
	f.createTopic("people", 1)
	schema := `{"type":"record","name":"Person","fields":[{"name":"name","type":"string"},{"name":"age","type":"int"}]}`
	var reg struct {
		ID      int `json:"id"`
		Version int `json:"version"`
	}
	f.call("POST", "/api/schemas/people-value/versions", map[string]any{"schema": schema, "schema_type": "AVRO"}, 200, &reg)
	if reg.ID <= 0 || reg.Version != 1 {
		t.Fatalf("registered %+v", reg)
	}
	var p produced
	f.call("POST", "/api/topics/people/messages", map[string]any{"key": "ada", "value": `{"name":"Ada","age":36}`,
		"value_format": "avro"}, 200, &p)
	f.call("POST", "/api/topics/people/messages", map[string]any{"value": `{"name":"Bob","age":40}`,
		"value_format": "avro", "value_schema_id": reg.ID}, 200, &p)
	f.call("POST", "/api/topics/people/messages", map[string]any{"value": `{"name":"Bob"}`, "value_format": "avro"}, 400, nil)
	f.call("POST", "/api/topics/people/messages", map[string]any{"value": `{"name":"Bob","age":1}`, "value_format": "avro",
		"value_schema_id": 999999}, 400, nil)

	b := f.browse("people", url.Values{"start": {"earliest"}})
	if len(b.Messages) != 2 {
		t.Fatalf("browsed %+v", b)
	}
	v := b.Messages[0].Value
	var person struct {
		Name string `json:"name"`
		Age  int    `json:"age"`
	}
	if v.Format != "avro" || v.SchemaID != reg.ID || json.Unmarshal(v.Value, &person) != nil || person.Name != "Ada" || person.Age != 36 {
		t.Fatalf("decoded %+v (%s)", v, v.Value)
	}
	// Key search on a string key.
	if b := f.browse("people", url.Values{"key": {"ada"}}); len(b.Messages) != 1 || b.Messages[0].Offset != 0 {
		t.Fatalf("key search: %v", b.offsets())
	}
}

// TestBrowseTransactional: transaction markers take offsets of their own,
// so a topic's offsets have gaps (as a compacted topic's do). The browser
// answers limit records, not limit offsets, reads uncommitted (an aborted
// transaction's records show) and never shows the markers.
func TestBrowseTransactional(t *testing.T) {
	f := newFixture(t)
	f.createTopic("txn", 1)
	tcl, err := kgo.NewClient(kgo.SeedBrokers(f.b.Addr()), kgo.TransactionalID("console-test"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer tcl.Close()
	txn := func(value string, commit kgo.TransactionEndTry) {
		t.Helper()
		if err := tcl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := tcl.ProduceSync(f.ctx, &kgo.Record{Topic: "txn", Value: []byte(value)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := tcl.EndTransaction(f.ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	// Data at 0, 2, 4, 6, 8 (committed) and 10 (aborted); markers at the
	// odd offsets; high watermark 12.
	for i := range 5 {
		txn(fmt.Sprint("committed ", i), kgo.TryCommit)
	}
	txn("aborted", kgo.TryAbort)
	q := func(kv ...string) url.Values {
		v := url.Values{"partition": {"0"}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	waitFor(t, "the high watermark past the last marker", func() bool {
		return f.browse("txn", q()).HighWatermarks["0"] == 12
	})
	for _, tc := range []struct {
		q    url.Values
		want []int64
	}{
		{q("start", "earliest", "limit", "5"), []int64{0, 2, 4, 6, 8}},
		{q("start", "offset", "offset", "3", "limit", "2"), []int64{4, 6}},
		{q("limit", "5"), []int64{10, 8, 6, 4, 2}},
		{q("limit", "50"), []int64{10, 8, 6, 4, 2, 0}},
		{q("start", "earliest", "key", "", "limit", "50"), []int64{0, 2, 4, 6, 8, 10}},
		{url.Values{"limit": {"3"}}, []int64{10, 8, 6}}, // all partitions
	} {
		if got := f.browse("txn", tc.q).offsets(); !equalInts(got, tc.want) {
			t.Errorf("%v: %v, want %v", tc.q, got, tc.want)
		}
	}
	if b := f.browse("txn", q("limit", "1")); len(b.Messages) != 1 || string(b.Messages[0].Value.Value) != `"aborted"` {
		t.Errorf("latest record: %+v", b.Messages)
	}
}
