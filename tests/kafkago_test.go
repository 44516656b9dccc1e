package tests

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"

	"github.com/moldau/moldau/tests/harness"
)

// kgoClient is a kafka-go client with its own transport: kafka-go's default
// transport is shared and caches metadata across tests.
func kgoClient(t *testing.T, addr string) *kafka.Client {
	tr := &kafka.Transport{MetadataTTL: time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second, Transport: tr}
}

func kafkagoCreateTopic(t *testing.T, addr, topic string, partitions int) {
	t.Helper()
	resp, err := kgoClient(t, addr).CreateTopics(ctxT(t), &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}},
	})
	if err != nil {
		t.Fatalf("create topics: %v", err)
	}
	if err := resp.Errors[topic]; err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
}

func kafkagoReader(t *testing.T, addr, topic string, partition int) *kafka.Reader {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: []string{addr}, Topic: topic, Partition: partition,
		MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond,
	})
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func kafkagoRead(t *testing.T, r *kafka.Reader, n int) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []kafka.Message
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read message %d of %d: %v", len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

func kafkagoMessages(n int, base time.Time) []kafka.Message {
	var msgs []kafka.Message
	for i := range n {
		msgs = append(msgs, kafka.Message{
			Key:   []byte{byte(i), 0x00, 0xff, 'k'},
			Value: []byte(fmt.Sprintf("value-%04d-\x00\xff", i)),
			Headers: []kafka.Header{
				{Key: "h1", Value: []byte{byte(i), 0x00, 0xfe}},
				{Key: "second", Value: []byte("x")},
			},
			Time: base.Add(time.Duration(i) * time.Millisecond).Truncate(time.Millisecond),
		})
	}
	return msgs
}

func checkKafkagoRoundTrip(t *testing.T, got, sent []kafka.Message, firstOffset int64) {
	t.Helper()
	if len(got) != len(sent) {
		t.Fatalf("got %d messages, want %d", len(got), len(sent))
	}
	for i, m := range got {
		w := sent[i]
		if m.Offset != firstOffset+int64(i) {
			t.Fatalf("message %d: offset %d, want %d", i, m.Offset, firstOffset+int64(i))
		}
		if !bytes.Equal(m.Key, w.Key) || !bytes.Equal(m.Value, w.Value) {
			t.Fatalf("message %d: %q=%q, want %q=%q", i, m.Key, m.Value, w.Key, w.Value)
		}
		if !m.Time.Equal(w.Time) {
			t.Fatalf("message %d: time %v, want %v", i, m.Time, w.Time)
		}
		if len(m.Headers) != len(w.Headers) {
			t.Fatalf("message %d: headers %+v, want %+v", i, m.Headers, w.Headers)
		}
		for j, h := range m.Headers {
			if h.Key != w.Headers[j].Key || !bytes.Equal(h.Value, w.Headers[j].Value) {
				t.Fatalf("message %d header %d: %q=%q, want %q=%q", i, j, h.Key, h.Value, w.Headers[j].Key, w.Headers[j].Value)
			}
		}
	}
}

func TestKafkagoWriterReader(t *testing.T) {
	b := harness.InProcess(t, nil)
	codecs := []struct {
		name  string
		codec compress.Codec
	}{
		{"none", nil}, {"gzip", kafka.Gzip.Codec()}, {"snappy", kafka.Snappy.Codec()},
		{"lz4", kafka.Lz4.Codec()}, {"zstd", kafka.Zstd.Codec()},
	}
	acks := []struct {
		name string
		acks kafka.RequiredAcks
	}{
		{"none", kafka.RequireNone}, {"one", kafka.RequireOne}, {"all", kafka.RequireAll},
	}
	for _, codec := range codecs {
		for _, ack := range acks {
			topic := fmt.Sprintf("kafkago-%s-acks-%s", codec.name, ack.name)
			t.Run(topic, func(t *testing.T) {
				kafkagoCreateTopic(t, b.Addr(), topic, 1)
				w := &kafka.Writer{
					Addr: kafka.TCP(b.Addr()), Topic: topic, RequiredAcks: ack.acks, Transport: kgoClient(t, b.Addr()).Transport,
					BatchTimeout: 5 * time.Millisecond, BatchSize: 20,
				}
				if codec.codec != nil {
					w.Compression = kafka.Compression(codec.codec.Code())
				}
				defer w.Close()
				const n = 60
				sent := kafkagoMessages(n, time.Now().Add(-time.Minute))
				if err := w.WriteMessages(ctxT(t), sent...); err != nil {
					t.Fatalf("write: %v", err)
				}
				r := kafkagoReader(t, b.Addr(), topic, 0)
				if err := r.SetOffset(kafka.FirstOffset); err != nil {
					t.Fatal(err)
				}
				got := kafkagoRead(t, r, n)
				checkKafkagoRoundTrip(t, got, sent, 0)
				lag, err := r.ReadLag(ctxT(t))
				if err != nil || lag != 0 {
					t.Fatalf("ReadLag after reading everything: %d, %v", lag, err)
				}
			})
		}
	}
}

func TestKafkagoConnCreateTopicsAndPartitions(t *testing.T) {
	b := harness.InProcess(t, nil)
	conn, err := kafka.DialContext(ctxT(t), "tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctrl, err := conn.Controller()
	if err != nil {
		t.Fatalf("controller: %v", err)
	}
	if net.JoinHostPort(ctrl.Host, fmt.Sprint(ctrl.Port)) != b.Addr() {
		t.Fatalf("controller %s:%d, want %s", ctrl.Host, ctrl.Port, b.Addr())
	}
	topic := "kafkago-conn-create"
	if err := conn.CreateTopics(kafka.TopicConfig{
		Topic: topic, NumPartitions: 3, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "3600000"}},
	}); err != nil {
		t.Fatalf("Conn.CreateTopics: %v", err)
	}
	parts, err := conn.ReadPartitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 3 {
		t.Fatalf("ReadPartitions: %d partitions, want 3", len(parts))
	}
	for _, p := range parts {
		if p.Leader.Port == 0 || len(p.Replicas) != 1 || len(p.Isr) != 1 {
			t.Fatalf("partition %+v", p)
		}
	}

	// A leader connection produces and reads directly.
	lc, err := kafka.DialLeader(ctxT(t), "tcp", b.Addr(), topic, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	_ = lc.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := lc.WriteMessages(kafka.Message{Key: []byte("k"), Value: []byte("v1")}, kafka.Message{Value: []byte("v2")}); err != nil {
		t.Fatalf("Conn.WriteMessages: %v", err)
	}
	first, last, err := lc.ReadOffsets()
	if err != nil || first != 0 || last != 2 {
		t.Fatalf("ReadOffsets: %d %d %v, want 0 2", first, last, err)
	}
	if _, err := lc.Seek(0, kafka.SeekAbsolute); err != nil {
		t.Fatal(err)
	}
	batch := lc.ReadBatch(1, 1<<20)
	var vals []string
	for {
		m, err := batch.ReadMessage()
		if err != nil {
			break
		}
		vals = append(vals, string(m.Value))
	}
	if err := batch.Close(); err != nil {
		t.Fatalf("batch close: %v", err)
	}
	if fmt.Sprint(vals) != "[v1 v2]" {
		t.Fatalf("ReadBatch got %v", vals)
	}
}

func TestKafkagoOffsets(t *testing.T) {
	b := harness.InProcess(t, nil)
	topic := "kafkago-offsets"
	kafkagoCreateTopic(t, b.Addr(), topic, 1)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	w := &kafka.Writer{Addr: kafka.TCP(b.Addr()), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond,
		Transport: kgoClient(t, b.Addr()).Transport}
	defer w.Close()
	// Ten messages one second apart, one produce each.
	var sent []kafka.Message
	for i := range 10 {
		m := kafka.Message{Value: []byte(fmt.Sprint(i)), Time: base.Add(time.Duration(i) * time.Second)}
		if err := w.WriteMessages(ctxT(t), m); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, m)
	}

	cl := kgoClient(t, b.Addr())
	list := func(req kafka.OffsetRequest) kafka.PartitionOffsets {
		t.Helper()
		resp, err := cl.ListOffsets(ctxT(t), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {req}}})
		if err != nil {
			t.Fatalf("ListOffsets: %v", err)
		}
		ps := resp.Topics[topic]
		if len(ps) != 1 || ps[0].Error != nil {
			t.Fatalf("ListOffsets %+v: %+v", req, ps)
		}
		return ps[0]
	}
	if got := list(kafka.FirstOffsetOf(0)); got.FirstOffset != 0 {
		t.Fatalf("first offset %d", got.FirstOffset)
	}
	if got := list(kafka.LastOffsetOf(0)); got.LastOffset != 10 {
		t.Fatalf("last offset %d", got.LastOffset)
	}
	got := list(kafka.TimeOffsetOf(0, base.Add(3500*time.Millisecond)))
	// kafka-go reports the requested timestamp, not the record's.
	if _, ok := got.Offsets[4]; !ok || len(got.Offsets) != 1 {
		t.Fatalf("offset for time: %+v, want offset 4", got.Offsets)
	}

	r := kafkagoReader(t, b.Addr(), topic, 0)
	if err := r.SetOffsetAt(ctxT(t), base.Add(7*time.Second)); err != nil {
		t.Fatalf("SetOffsetAt: %v", err)
	}
	m := kafkagoRead(t, r, 1)[0]
	if m.Offset != 7 || string(m.Value) != "7" || !m.Time.Equal(base.Add(7*time.Second)) {
		t.Fatalf("after SetOffsetAt: offset %d value %q time %v", m.Offset, m.Value, m.Time)
	}
	lag, err := r.ReadLag(ctxT(t))
	if err != nil || lag != 2 {
		t.Fatalf("ReadLag: %d, %v; want 2", lag, err)
	}

	// From the last offset only new messages arrive.
	r2 := kafkagoReader(t, b.Addr(), topic, 0)
	if err := r2.SetOffset(kafka.LastOffset); err != nil {
		t.Fatal(err)
	}
	// The reader resolves LastOffset when it starts reading: read in the
	// background and produce once it has.
	type readResult struct {
		msgs []kafka.Message
		err  error
	}
	done := make(chan readResult, 1)
	ctx := ctxT(t)
	go func() {
		var res readResult
		for len(res.msgs) < 3 && res.err == nil {
			var m kafka.Message
			m, res.err = r2.ReadMessage(ctx)
			if res.err == nil {
				res.msgs = append(res.msgs, m)
			}
		}
		done <- res
	}()
	for r2.Stats().Offset != 10 {
		select {
		case <-ctx.Done():
			t.Fatalf("reader did not resolve the last offset")
		case <-time.After(10 * time.Millisecond):
		}
	}
	fresh := kafkagoMessages(3, time.Now())
	if err := w.WriteMessages(ctxT(t), fresh...); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err != nil {
		t.Fatalf("read from last offset: %v", res.err)
	}
	checkKafkagoRoundTrip(t, res.msgs, fresh, 10)

	// From the first offset everything is there.
	r3 := kafkagoReader(t, b.Addr(), topic, 0)
	if err := r3.SetOffset(kafka.FirstOffset); err != nil {
		t.Fatal(err)
	}
	all := kafkagoRead(t, r3, 13)
	for i, m := range all[:10] {
		if string(m.Value) != fmt.Sprint(i) || !m.Time.Equal(sent[i].Time) {
			t.Fatalf("message %d: %q at %v", i, m.Value, m.Time)
		}
	}
}

func TestKafkagoDeleteTopics(t *testing.T) {
	b := harness.InProcess(t, nil)
	topic := "kafkago-delete"
	kafkagoCreateTopic(t, b.Addr(), topic, 2)
	cl := kgoClient(t, b.Addr())
	resp, err := cl.DeleteTopics(ctxT(t), &kafka.DeleteTopicsRequest{Topics: []string{topic, "kafkago-never-existed"}})
	if err != nil {
		t.Fatalf("DeleteTopics: %v", err)
	}
	if err := resp.Errors[topic]; err != nil {
		t.Fatalf("delete %s: %v", topic, err)
	}
	if err := resp.Errors["kafkago-never-existed"]; err != kafka.UnknownTopicOrPartition {
		t.Fatalf("delete missing topic: %v, want %v", err, kafka.UnknownTopicOrPartition)
	}
	// A fresh connection: cl's transport serves Metadata from its cache.
	conn, err := kafka.DialContext(ctxT(t), "tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if p.Topic == topic {
			t.Fatalf("deleted topic still in metadata: %+v", p)
		}
	}
	md, err := kgoClient(t, b.Addr()).Metadata(ctxT(t), &kafka.MetadataRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range md.Topics {
		if tp.Name == topic {
			t.Fatalf("deleted topic still in metadata: %+v", tp)
		}
	}
	// The name can be reused at once.
	kafkagoCreateTopic(t, b.Addr(), topic, 1)
}
