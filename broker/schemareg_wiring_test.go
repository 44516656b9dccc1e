package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/broker/schemareg"
	"github.com/moldau/moldau/internal/batchtest"
	"github.com/moldau/moldau/log/records"
)

// TestSchemasLogSingleNode drives the registry's Log on one node: no topic
// until the first Append (End 0, Read waits), then appends at consecutive
// offsets that a waiting Read sees, tombstones kept as nil values, and a
// compacted one-partition _schemas.
func TestSchemasLogSingleNode(t *testing.T) {
	b := newAdminBroker(t, func(c *config.Config) { c.SchemaRegistryAddr = "" })
	l := &schemasLog{b: b, started: time.Now()}
	ctx := context.Background()

	if end, err := l.End(ctx); err != nil || end != 0 {
		t.Fatalf("End before any append = %d, %v; want 0", end, err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	if recs, err := l.Read(short, 0, 1<<20); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read with nothing written = %v, %v; want the context's error", recs, err)
	}
	cancel()
	if b.topics.get(schemareg.Topic) != nil {
		t.Fatal("End or Read created the topic")
	}

	// A Read waiting before the first append is woken by it.
	type readResult struct {
		recs []schemareg.Record
		err  error
	}
	waiting := make(chan readResult, 1)
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	go func() {
		recs, err := l.Read(rctx, 0, 1<<20)
		waiting <- readResult{recs, err}
	}()
	for i, kv := range [][2][]byte{{[]byte("k0"), []byte("v0")}, {[]byte("k1"), []byte("v1")}, {[]byte("k0"), nil}} {
		off, err := l.Append(ctx, kv[0], kv[1])
		if err != nil || off != int64(i) {
			t.Fatalf("Append %d = %d, %v", i, off, err)
		}
	}
	got := <-waiting
	if got.err != nil || len(got.recs) == 0 || got.recs[0].Offset != 0 || string(got.recs[0].Key) != "k0" {
		t.Fatalf("waiting Read = %+v, %v", got.recs, got.err)
	}
	if end, err := l.End(ctx); err != nil || end != 3 {
		t.Fatalf("End = %d, %v; want 3", end, err)
	}
	recs, err := l.Read(ctx, 1, 1<<20)
	if err != nil || len(recs) != 2 {
		t.Fatalf("Read(1) = %+v, %v", recs, err)
	}
	if recs[0].Offset != 1 || string(recs[0].Value) != "v1" || recs[1].Offset != 2 || recs[1].Value != nil || string(recs[1].Key) != "k0" {
		t.Errorf("Read(1) = %+v", recs)
	}
	tp := b.topics.get(schemareg.Topic)
	if s := tp.settings(); !s.Compact || len(tp.partitionList()) != 1 {
		t.Errorf("_schemas: compact %v, %d partitions", s.Compact, len(tp.partitionList()))
	}
}

// TestSchemaRecordsDecoding: Read's decoder takes
// compressed batches and skips control batches and offsets below from or at
// the high watermark and beyond.
func TestSchemaRecordsDecoding(t *testing.T) {
	gz := batchtest.New(1000, batchtest.Repeat(3, []byte("k"), []byte("v"))...)
	gz.Attributes = records.CodecGzip
	gz.BaseOffset = 0
	ctl := records.ControlBatch(7, 0, records.ControlCommit, 0, 1000)
	binary.BigEndian.PutUint64(ctl[records.OffBaseOffset:], 3)
	plain := batchtest.New(1000, batchtest.Repeat(2, []byte("x"), nil)...)
	plain.BaseOffset = 4
	var data []byte
	data = append(data, gz.MustEncode()...)
	data = append(data, ctl...)
	data = append(data, plain.MustEncode()...)
	recs, next, err := schemaRecords(data, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for _, r := range recs {
		offs = append(offs, r.Offset)
	}
	if len(offs) != 3 || offs[0] != 1 || offs[1] != 2 || offs[2] != 4 || recs[2].Value != nil || next != 5 {
		t.Errorf("offsets %v (values %+v), next %d; want [1 2 4], next 5", offs, recs, next)
	}
}

// fakeSchemaIDs registers ids per subject.
type fakeSchemaIDs struct {
	mu    sync.Mutex
	ids   map[string][]int32
	asked int
	err   error
}

func (f *fakeSchemaIDs) SubjectHasID(_ context.Context, subject string, id int32) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked++
	if f.err != nil {
		return false, f.err
	}
	for _, have := range f.ids[subject] {
		if have == id {
			return true, nil
		}
	}
	return false, nil
}

// wire is the schema registry wire format of id and payload.
func wire(id int32, payload string) []byte {
	b := []byte{0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(id))
	return append(b, payload...)
}

func produceSchemaBatch(t *testing.T, b *Broker, topicName string, batch batchtest.Batch) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topicName
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch.MustEncode()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := do[*kmsg.ProduceResponse](t, b, 11, req)
	return resp.Topics[0].Partitions[0]
}

// TestProduceSchemaValidation: a topic with confluent.value.schema.validation
// takes records whose values carry a registered id of <topic>-value (and
// null values), refuses a batch with any other record as INVALID_RECORD
// listing each refused record; keys likewise with the key's config; and a
// topic without it never asks the registry.
func TestProduceSchemaValidation(t *testing.T) {
	b := newAdminBroker(t, func(c *config.Config) { c.SchemaRegistryAddr = "" })
	ids := &fakeSchemaIDs{ids: map[string][]int32{"orders-value": {1, 3}, "orders-key": {2}}}
	b.schemaIDs = ids
	on := "true"
	mustCreateTopic(t, b, "orders", 1, map[string]*string{"confluent.value.schema.validation": &on})
	mustCreateTopic(t, b, "plain", 1, nil)

	sp := produceSchemaBatch(t, b, "orders", batchtest.New(1000,
		batchtest.Record{Value: wire(1, "a")}, batchtest.Record{Value: wire(3, "b")}, batchtest.Record{Key: []byte("k"), Value: nil},
		batchtest.Record{Key: []byte("not checked"), Value: wire(1, "c")}))
	wantCode(t, "valid batch", sp.ErrorCode, nil)

	gz := batchtest.New(1000, batchtest.Record{Value: wire(1, "ok")}, batchtest.Record{Value: wire(2, "wrong subject")},
		batchtest.Record{Value: []byte("no magic")}, batchtest.Record{Value: []byte{0, 1}})
	gz.Attributes = records.CodecGzip
	sp = produceSchemaBatch(t, b, "orders", gz)
	wantCode(t, "invalid batch", sp.ErrorCode, kerr.InvalidRecord)
	if len(sp.ErrorRecords) != 3 || sp.ErrorRecords[0].RelativeOffset != 1 || sp.ErrorRecords[1].RelativeOffset != 2 || sp.ErrorRecords[2].RelativeOffset != 3 {
		t.Fatalf("record errors %+v, want batch indexes 1, 2, 3", sp.ErrorRecords)
	}
	if m := *sp.ErrorRecords[0].ErrorMessage; !strings.Contains(m, "schema id 2") || !strings.Contains(m, "orders-value") {
		t.Errorf("record 1's message %q", m)
	}
	if m := *sp.ErrorRecords[1].ErrorMessage; !strings.Contains(m, "wire format") {
		t.Errorf("record 2's message %q", m)
	}
	if sp.ErrorMessage == nil || !strings.Contains(*sp.ErrorMessage, "3 record errors") {
		t.Errorf("partition message %v", sp.ErrorMessage)
	}
	if p := b.topics.get("orders").partition(0); p.endOffset() != 4 {
		t.Errorf("log end %d after the refused batch, want 4", p.endOffset())
	}

	// Keys: validated once confluent.key.schema.validation is on.
	do[*kmsg.AlterConfigsResponse](t, b, 2, alterReq(kmsg.ConfigResourceTypeTopic, "orders",
		kmsg.StringPtr("confluent.value.schema.validation"), &on, kmsg.StringPtr("confluent.key.schema.validation"), &on))
	sp = produceSchemaBatch(t, b, "orders", batchtest.New(1000, batchtest.Record{Key: wire(2, "k"), Value: wire(1, "v")}, batchtest.Record{Key: nil, Value: wire(3, "v")}))
	wantCode(t, "valid keys", sp.ErrorCode, nil)
	sp = produceSchemaBatch(t, b, "orders", batchtest.New(1000, batchtest.Record{Key: wire(1, "k"), Value: wire(1, "v")}))
	wantCode(t, "key with a value id", sp.ErrorCode, kerr.InvalidRecord)
	if len(sp.ErrorRecords) != 1 || !strings.Contains(*sp.ErrorRecords[0].ErrorMessage, "orders-key") {
		t.Errorf("key refusal %+v", sp.ErrorRecords)
	}

	// A registry that cannot answer: retriable, nothing appended.
	ids.mu.Lock()
	ids.err = errors.New("catching up")
	ids.mu.Unlock()
	sp = produceSchemaBatch(t, b, "orders", batchtest.New(1000, batchtest.Record{Key: wire(2, "k"), Value: wire(1, "v")}))
	if e := kerr.ErrorForCode(sp.ErrorCode); !kerr.IsRetriable(e) {
		t.Errorf("registry error gave %v, want a retriable error", e)
	}
	ids.mu.Lock()
	ids.err, ids.asked = nil, 0
	ids.mu.Unlock()

	sp = produceSchemaBatch(t, b, "plain", batchtest.New(1000, batchtest.Record{Value: []byte("anything")}))
	wantCode(t, "topic without validation", sp.ErrorCode, nil)
	if ids.asked != 0 {
		t.Errorf("the registry was asked %d times for a topic without validation", ids.asked)
	}

	// The registry off: refused, saying so.
	b.schemaIDs = nil
	sp = produceSchemaBatch(t, b, "orders", batchtest.New(1000, batchtest.Record{Key: wire(2, "k"), Value: wire(1, "v")}))
	wantCode(t, "registry off", sp.ErrorCode, kerr.InvalidRecord)
	if sp.ErrorMessage == nil || !strings.Contains(*sp.ErrorMessage, "schema registry is off") {
		t.Errorf("registry off: message %v", sp.ErrorMessage)
	}
}

// TestSchemaValidationConfigs: the configs are topic configs (created,
// described with their defaults), and the record-name strategies are
// refused with INVALID_CONFIG.
func TestSchemaValidationConfigs(t *testing.T) {
	b := newAdminBroker(t, func(c *config.Config) { c.SchemaRegistryAddr = "" })
	mustCreateTopic(t, b, "t", 1, nil)
	resp := do[*kmsg.DescribeConfigsResponse](t, b, 4, describeConfigsReq(kmsg.ConfigResourceTypeTopic, "t"))
	for name, want := range map[string]string{
		"confluent.value.schema.validation": "false", "confluent.key.schema.validation": "false",
		"confluent.value.subject.name.strategy": config.TopicNameStrategy, "confluent.key.subject.name.strategy": config.TopicNameStrategy,
	} {
		c := findConfig(resp.Resources[0].Configs, name)
		if c == nil || c.Value == nil || *c.Value != want {
			t.Errorf("%s: %+v, want %s", name, c, want)
		}
	}
	for _, bad := range []string{"io.confluent.kafka.serializers.subject.RecordNameStrategy", "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy", "nonsense"} {
		ar := do[*kmsg.AlterConfigsResponse](t, b, 2, alterReq(kmsg.ConfigResourceTypeTopic, "t", kmsg.StringPtr("confluent.value.subject.name.strategy"), &bad))
		wantCode(t, bad, ar.Resources[0].ErrorCode, kerr.InvalidConfig)
	}
	ok := config.TopicNameStrategy
	ar := do[*kmsg.AlterConfigsResponse](t, b, 2, alterReq(kmsg.ConfigResourceTypeTopic, "t", kmsg.StringPtr("confluent.key.subject.name.strategy"), &ok))
	wantCode(t, "TopicNameStrategy", ar.Resources[0].ErrorCode, nil)
}

// TestSchemasLogCluster: on a 4-node cluster (_schemas has 3 replicas, so
// one node hosts none and reads from the leader), appends from every node
// (the leader's own, the others' as Produce to it) land once each, and
// every node reads the same records in the same order, up to the same End.
func TestSchemasLogCluster(t *testing.T) {
	tc := newTestCluster(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	logs := make([]*schemasLog, len(tc.brokers))
	for i, b := range tc.brokers {
		logs[i] = &schemasLog{b: b, started: time.Now()}
	}
	if _, err := logs[0].Append(ctx, []byte("first"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	tc.waitFor("every broker knows _schemas", func() bool {
		for _, b := range tc.brokers {
			if b.topics.get(schemareg.Topic) == nil {
				return false
			}
		}
		return true
	})
	if rf := len(tc.brokers[0].topics.get(schemareg.Topic).partition(0).lead.Load().replicas); rf != 3 {
		t.Errorf("_schemas has %d replicas, want 3", rf)
	}
	remote := 0
	for _, b := range tc.brokers {
		if b.topics.get(schemareg.Topic).partition(0).log == nil {
			remote++
		}
	}
	if remote != 1 {
		t.Errorf("%d nodes host no replica of _schemas, want 1", remote)
	}
	const perNode = 3
	var wg sync.WaitGroup
	errs := make(chan error, len(logs)*perNode)
	for i, l := range logs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perNode {
				key := []byte{byte('a' + i), byte('0' + j)}
				if _, err := l.Append(ctx, key, key); err != nil {
					errs <- fmt.Errorf("node %d append %d: %w", i+1, j, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := int64(1 + len(logs)*perNode)
	var first []string
	for i, l := range logs {
		var got []string
		for from := int64(0); from < want; {
			recs, err := l.Read(ctx, from, 1<<20)
			if err != nil {
				t.Fatalf("node %d Read(%d): %v", i+1, from, err)
			}
			for _, r := range recs {
				if r.Offset != from {
					t.Fatalf("node %d: record at %d, want %d", i+1, r.Offset, from)
				}
				got = append(got, string(r.Key))
				from++
			}
		}
		if end, err := l.End(ctx); err != nil || end != want {
			t.Errorf("node %d End = %d, %v; want %d", i+1, end, err, want)
		}
		if first == nil {
			first = got
		} else if !slices.Equal(first, got) {
			t.Errorf("node %d read %v, node 1 read %v", i+1, got, first)
		}
	}
	seen := map[string]int{}
	for _, k := range first {
		seen[k]++
	}
	if len(seen) != int(want) {
		t.Errorf("records %v: want %d distinct keys, each once", first, want)
	}
}
