package tests

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/moldau/moldau/tests/harness"
)

// saramaVersions are the protocol versions sarama is told the broker speaks:
// an old one (sarama's long-time default range) and a recent one.
var saramaVersions = []struct {
	name string
	v    sarama.KafkaVersion
}{
	{"v2.1", sarama.V2_1_0_0},
	{"v3.6", sarama.V3_6_0_0},
}

func saramaConfig(v sarama.KafkaVersion) *sarama.Config {
	c := sarama.NewConfig()
	c.Version = v
	c.ClientID = "moldau-tests"
	c.Net.DialTimeout = 5 * time.Second
	c.Net.ReadTimeout = 10 * time.Second
	c.Net.WriteTimeout = 10 * time.Second
	c.Metadata.Retry.Backoff = 50 * time.Millisecond
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.Retry.Backoff = 50 * time.Millisecond
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Consumer.Return.Errors = true
	c.Consumer.MaxWaitTime = 100 * time.Millisecond
	c.Admin.Timeout = 10 * time.Second
	return c
}

func saramaClient(t *testing.T, addr string, c *sarama.Config) sarama.Client {
	t.Helper()
	cl, err := sarama.NewClient([]string{addr}, c)
	if err != nil {
		t.Fatalf("sarama client: %v", err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

func saramaAdmin(t *testing.T, addr string, c *sarama.Config) sarama.ClusterAdmin {
	t.Helper()
	adm, err := sarama.NewClusterAdminFromClient(saramaClient(t, addr, c))
	if err != nil {
		t.Fatalf("sarama admin: %v", err)
	}
	return adm
}

func saramaSyncProducer(t *testing.T, addr string, c *sarama.Config) sarama.SyncProducer {
	t.Helper()
	p, err := sarama.NewSyncProducer([]string{addr}, c)
	if err != nil {
		t.Fatalf("sarama producer: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// saramaConsume reads n messages of topic/partition starting at offset.
func saramaConsume(t *testing.T, addr string, c *sarama.Config, topic string, partition int32, offset int64, n int) []*sarama.ConsumerMessage {
	t.Helper()
	cons, err := sarama.NewConsumer([]string{addr}, c)
	if err != nil {
		t.Fatalf("sarama consumer: %v", err)
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(topic, partition, offset)
	if err != nil {
		t.Fatalf("consume partition %s/%d at %d: %v", topic, partition, offset, err)
	}
	defer pc.Close()
	ctx := ctxT(t)
	var out []*sarama.ConsumerMessage
	for len(out) < n {
		select {
		case m := <-pc.Messages():
			out = append(out, m)
		case err := <-pc.Errors():
			t.Fatalf("consume %s/%d: %v", topic, partition, err)
		case <-ctx.Done():
			t.Fatalf("consumed %d of %d messages of %s/%d", len(out), n, topic, partition)
		}
	}
	return out
}

type saramaSent struct {
	key, value []byte
	headers    []sarama.RecordHeader
	ts         time.Time
}

// saramaMessages builds n messages whose keys, values and headers exercise
// nil, empty and binary bytes, with distinct millisecond timestamps.
func saramaMessages(topic string, n int, base time.Time) ([]*sarama.ProducerMessage, []saramaSent) {
	var msgs []*sarama.ProducerMessage
	var sent []saramaSent
	for i := range n {
		var key []byte
		switch i % 3 {
		case 0:
			key = nil
		case 1:
			key = []byte{}
		default:
			key = []byte{0x00, byte(i), 0xff, '\n'}
		}
		value := []byte(fmt.Sprintf("value-%04d-\x00\xff", i))
		headers := []sarama.RecordHeader{
			{Key: []byte("h1"), Value: []byte{byte(i), 0x00, 0xfe}},
			{Key: []byte("empty"), Value: []byte{}},
			{Key: []byte("h1"), Value: []byte("dup key")},
		}
		ts := base.Add(time.Duration(i) * time.Millisecond).Truncate(time.Millisecond)
		m := &sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.ByteEncoder(value), Timestamp: ts}
		for _, h := range headers {
			m.Headers = append(m.Headers, h)
		}
		if key != nil {
			m.Key = sarama.ByteEncoder(key)
		}
		msgs = append(msgs, m)
		sent = append(sent, saramaSent{key: key, value: value, headers: headers, ts: ts})
	}
	return msgs, sent
}

func checkSaramaRoundTrip(t *testing.T, got []*sarama.ConsumerMessage, sent []saramaSent, firstOffset int64) {
	t.Helper()
	if len(got) != len(sent) {
		t.Fatalf("got %d messages, want %d", len(got), len(sent))
	}
	for i, m := range got {
		w := sent[i]
		if m.Offset != firstOffset+int64(i) {
			t.Fatalf("message %d: offset %d, want %d", i, m.Offset, firstOffset+int64(i))
		}
		if (m.Key == nil) != (w.key == nil) || !bytes.Equal(m.Key, w.key) {
			t.Fatalf("message %d: key %#v, want %#v", i, m.Key, w.key)
		}
		if !bytes.Equal(m.Value, w.value) {
			t.Fatalf("message %d: value %q, want %q", i, m.Value, w.value)
		}
		if !m.Timestamp.Equal(w.ts) {
			t.Fatalf("message %d: timestamp %v, want %v", i, m.Timestamp, w.ts)
		}
		if len(m.Headers) != len(w.headers) {
			t.Fatalf("message %d: %d headers, want %d", i, len(m.Headers), len(w.headers))
		}
		for j, h := range m.Headers {
			if !bytes.Equal(h.Key, w.headers[j].Key) || !bytes.Equal(h.Value, w.headers[j].Value) {
				t.Fatalf("message %d header %d: %q=%q, want %q=%q", i, j, h.Key, h.Value, w.headers[j].Key, w.headers[j].Value)
			}
		}
	}
}

func TestSaramaProduceConsume(t *testing.T) {
	b := harness.InProcess(t, nil)
	codecs := []struct {
		name  string
		codec sarama.CompressionCodec
	}{
		{"none", sarama.CompressionNone}, {"gzip", sarama.CompressionGZIP}, {"snappy", sarama.CompressionSnappy},
		{"lz4", sarama.CompressionLZ4}, {"zstd", sarama.CompressionZSTD},
	}
	acks := []struct {
		name string
		acks sarama.RequiredAcks
	}{
		{"0", sarama.NoResponse}, {"1", sarama.WaitForLocal}, {"all", sarama.WaitForAll},
	}
	for _, ver := range saramaVersions {
		for _, codec := range codecs {
			for _, ack := range acks {
				topic := fmt.Sprintf("sarama-%s-%s-acks-%s", ver.name, codec.name, ack.name)
				t.Run(topic, func(t *testing.T) {
					createTopic(t, b.Addr(), topic, 1, nil)
					c := saramaConfig(ver.v)
					c.Producer.RequiredAcks = ack.acks
					c.Producer.Compression = codec.codec
					p := saramaSyncProducer(t, b.Addr(), c)
					const n = 60
					msgs, sent := saramaMessages(topic, n, time.Now().Add(-time.Minute))
					// One at a time, then the rest as one batch.
					for i, m := range msgs[:10] {
						part, off, err := p.SendMessage(m)
						if err != nil {
							t.Fatalf("send %d: %v", i, err)
						}
						if ack.acks != sarama.NoResponse && (part != 0 || off != int64(i)) {
							t.Fatalf("send %d: partition %d offset %d, want 0/%d", i, part, off, i)
						}
					}
					if err := p.SendMessages(msgs[10:]); err != nil {
						t.Fatalf("send batch: %v", err)
					}
					if ack.acks != sarama.NoResponse {
						for i, m := range msgs[10:] {
							if m.Offset != int64(10+i) {
								t.Fatalf("batch message %d: offset %d, want %d", i, m.Offset, 10+i)
							}
						}
					}
					got := saramaConsume(t, b.Addr(), saramaConfig(ver.v), topic, 0, sarama.OffsetOldest, n)
					checkSaramaRoundTrip(t, got, sent, 0)
				})
			}
		}
	}
}

func TestSaramaIdempotentProducer(t *testing.T) {
	b := harness.InProcess(t, nil)
	for _, ver := range saramaVersions {
		t.Run(ver.name, func(t *testing.T) {
			topic := "sarama-idempotent-" + ver.name
			createTopic(t, b.Addr(), topic, 1, nil)
			c := saramaConfig(ver.v)
			c.Producer.Idempotent = true
			c.Producer.RequiredAcks = sarama.WaitForAll
			c.Net.MaxOpenRequests = 1
			c.Producer.Retry.Max = 5
			c.Producer.Compression = sarama.CompressionLZ4
			p := saramaSyncProducer(t, b.Addr(), c)
			const n = 200
			msgs, sent := saramaMessages(topic, n, time.Now().Add(-time.Minute))
			for i := 0; i < n; i += 50 {
				if err := p.SendMessages(msgs[i : i+50]); err != nil {
					t.Fatalf("send: %v", err)
				}
			}
			for i, m := range msgs {
				if m.Offset != int64(i) {
					t.Fatalf("message %d acked at offset %d", i, m.Offset)
				}
			}
			got := saramaConsume(t, b.Addr(), saramaConfig(ver.v), topic, 0, sarama.OffsetOldest, n)
			checkSaramaRoundTrip(t, got, sent, 0)
		})
	}
}

func TestSaramaConsumeNewest(t *testing.T) {
	b := harness.InProcess(t, nil)
	for _, ver := range saramaVersions {
		t.Run(ver.name, func(t *testing.T) {
			topic := "sarama-newest-" + ver.name
			createTopic(t, b.Addr(), topic, 1, nil)
			c := saramaConfig(ver.v)
			p := saramaSyncProducer(t, b.Addr(), c)
			old, _ := saramaMessages(topic, 5, time.Now())
			if err := p.SendMessages(old); err != nil {
				t.Fatal(err)
			}
			cons, err := sarama.NewConsumer([]string{b.Addr()}, saramaConfig(ver.v))
			if err != nil {
				t.Fatal(err)
			}
			defer cons.Close()
			pc, err := cons.ConsumePartition(topic, 0, sarama.OffsetNewest)
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			if hw := pc.HighWaterMarkOffset(); hw != 0 && hw != 5 {
				t.Fatalf("high water mark %d", hw)
			}
			fresh, sent := saramaMessages(topic, 3, time.Now())
			if err := p.SendMessages(fresh); err != nil {
				t.Fatal(err)
			}
			ctx := ctxT(t)
			var got []*sarama.ConsumerMessage
			for len(got) < 3 {
				select {
				case m := <-pc.Messages():
					got = append(got, m)
				case err := <-pc.Errors():
					t.Fatal(err)
				case <-ctx.Done():
					t.Fatalf("got %d of 3 new messages", len(got))
				}
			}
			checkSaramaRoundTrip(t, got, sent, 5)
			if hw := pc.HighWaterMarkOffset(); hw != 8 {
				t.Fatalf("high water mark %d, want 8", hw)
			}
		})
	}
}

func TestSaramaGetOffsetByTime(t *testing.T) {
	b := harness.InProcess(t, nil)
	for _, ver := range saramaVersions {
		t.Run(ver.name, func(t *testing.T) {
			topic := "sarama-offset-time-" + ver.name
			createTopic(t, b.Addr(), topic, 1, nil)
			c := saramaConfig(ver.v)
			p := saramaSyncProducer(t, b.Addr(), c)
			base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
			// Ten messages one second apart, each sent alone (one batch each).
			for i := range 10 {
				m := &sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(fmt.Sprint(i)), Timestamp: base.Add(time.Duration(i) * time.Second)}
				if _, _, err := p.SendMessage(m); err != nil {
					t.Fatal(err)
				}
			}
			cl := saramaClient(t, b.Addr(), saramaConfig(ver.v))
			cases := []struct {
				name string
				ts   int64
				want int64
			}{
				{"oldest", sarama.OffsetOldest, 0},
				{"newest", sarama.OffsetNewest, 10},
				{"before all", base.Add(-time.Hour).UnixMilli(), 0},
				{"exact", base.Add(3 * time.Second).UnixMilli(), 3},
				{"between", base.Add(3500 * time.Millisecond).UnixMilli(), 4},
				{"last", base.Add(9 * time.Second).UnixMilli(), 9},
				{"after all", base.Add(time.Minute).UnixMilli(), -1},
			}
			for _, tc := range cases {
				off, err := cl.GetOffset(topic, 0, tc.ts)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if off != tc.want {
					t.Errorf("%s: GetOffset(%d) = %d, want %d", tc.name, tc.ts, off, tc.want)
				}
			}
		})
	}
}

func configValue(entries []sarama.ConfigEntry, name string) (sarama.ConfigEntry, bool) {
	for _, e := range entries {
		if e.Name == name {
			return e, true
		}
	}
	return sarama.ConfigEntry{}, false
}

func TestSaramaAdmin(t *testing.T) {
	b := harness.InProcess(t, nil)
	for _, ver := range saramaVersions {
		t.Run(ver.name, func(t *testing.T) {
			topic := "sarama-admin-" + ver.name
			c := saramaConfig(ver.v)
			adm := saramaAdmin(t, b.Addr(), c)
			retention, maxBytes := "3600000", "200000"
			err := adm.CreateTopic(topic, &sarama.TopicDetail{
				NumPartitions: 2, ReplicationFactor: 1,
				ConfigEntries: map[string]*string{"retention.ms": &retention, "max.message.bytes": &maxBytes},
			}, false)
			if err != nil {
				t.Fatalf("create topic: %v", err)
			}
			err = adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false)
			if !errors.Is(err, sarama.ErrTopicAlreadyExists) {
				t.Fatalf("create existing topic: %v, want TOPIC_ALREADY_EXISTS", err)
			}

			describe := func() []sarama.ConfigEntry {
				t.Helper()
				entries, err := adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
				if err != nil {
					t.Fatalf("describe configs: %v", err)
				}
				return entries
			}
			expect := func(entries []sarama.ConfigEntry, name, value string, def bool) {
				t.Helper()
				e, ok := configValue(entries, name)
				if !ok {
					t.Fatalf("config %s not described", name)
				}
				if e.Value != value {
					t.Fatalf("config %s = %q, want %q", name, e.Value, value)
				}
				if e.Default != def {
					t.Fatalf("config %s: default=%v (source %v), want default=%v", name, e.Default, e.Source, def)
				}
				if !def && e.Source != sarama.SourceTopic {
					t.Fatalf("config %s: source %v, want %v", name, e.Source, sarama.SourceTopic)
				}
			}
			entries := describe()
			expect(entries, "retention.ms", "3600000", false)
			expect(entries, "max.message.bytes", "200000", false)
			expect(entries, "cleanup.policy", "delete", true)

			// AlterConfigs replaces the whole set: max.message.bytes reverts to its default.
			week := "604800001"
			if err := adm.AlterConfig(sarama.TopicResource, topic, map[string]*string{"retention.ms": &week}, false); err != nil {
				t.Fatalf("alter configs: %v", err)
			}
			entries = describe()
			expect(entries, "retention.ms", week, false)
			expect(entries, "max.message.bytes", "1048588", true)

			// IncrementalAlterConfigs changes only what it names (sarama
			// refuses to send it below Kafka 2.3).
			mmb := "300000"
			if !ver.v.IsAtLeast(sarama.V2_3_0_0) {
				if err := adm.AlterConfig(sarama.TopicResource, topic, map[string]*string{"retention.ms": &week, "max.message.bytes": &mmb}, false); err != nil {
					t.Fatalf("alter configs: %v", err)
				}
				expect(describe(), "max.message.bytes", mmb, false)
				if err := adm.AlterConfig(sarama.TopicResource, topic, map[string]*string{}, false); err != nil {
					t.Fatalf("alter configs: %v", err)
				}
				expect(describe(), "retention.ms", "604800000", true)
			} else {
				incrementalAlter(t, adm, topic, week, mmb, describe, expect)
			}
			bogus := "1"
			if err := adm.AlterConfig(sarama.TopicResource, topic, map[string]*string{"no.such.config": &bogus}, false); err == nil {
				t.Fatalf("altering an unknown config succeeded")
			}

			if err := adm.CreatePartitions(topic, 4, nil, false); err != nil {
				t.Fatalf("create partitions: %v", err)
			}
			if err := adm.CreatePartitions(topic, 3, nil, false); err == nil {
				t.Fatalf("shrinking partitions succeeded")
			}
			md, err := adm.DescribeTopics([]string{topic})
			if err != nil {
				t.Fatal(err)
			}
			if len(md) != 1 || len(md[0].Partitions) != 4 {
				t.Fatalf("after CreatePartitions: metadata %+v", md)
			}

			// Records in the new partition 3, then delete the first five.
			cl := saramaClient(t, b.Addr(), saramaConfig(ver.v))
			p := saramaSyncProducer(t, b.Addr(), saramaConfig(ver.v))
			var msgs []*sarama.ProducerMessage
			for i := range 10 {
				msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: 3, Value: sarama.StringEncoder(fmt.Sprint(i))})
			}
			if err := p.SendMessages(msgs); err != nil {
				t.Fatalf("produce to new partition: %v", err)
			}
			if err := adm.DeleteRecords(topic, map[int32]int64{3: 5}); err != nil {
				t.Fatalf("delete records: %v", err)
			}
			if off, err := cl.GetOffset(topic, 3, sarama.OffsetOldest); err != nil || off != 5 {
				t.Fatalf("oldest offset after DeleteRecords: %d, %v; want 5", off, err)
			}
			if off, err := cl.GetOffset(topic, 3, sarama.OffsetNewest); err != nil || off != 10 {
				t.Fatalf("newest offset after DeleteRecords: %d, %v; want 10", off, err)
			}
			got := saramaConsume(t, b.Addr(), saramaConfig(ver.v), topic, 3, sarama.OffsetOldest, 5)
			if got[0].Offset != 5 || string(got[0].Value) != "5" {
				t.Fatalf("first message after DeleteRecords: offset %d value %q", got[0].Offset, got[0].Value)
			}

			if err := adm.DeleteTopic(topic); err != nil {
				t.Fatalf("delete topic: %v", err)
			}
			ctx := ctxT(t)
			for {
				topics, err := adm.ListTopics()
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := topics[topic]; !ok {
					break
				}
				select {
				case <-ctx.Done():
					t.Fatalf("topic %s still listed after DeleteTopic", topic)
				case <-time.After(50 * time.Millisecond):
				}
			}
			if err := adm.DeleteTopic(topic); !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
				t.Fatalf("deleting a deleted topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
			}
		})
	}
}

func incrementalAlter(t *testing.T, adm sarama.ClusterAdmin, topic, week, mmb string, describe func() []sarama.ConfigEntry, expect func([]sarama.ConfigEntry, string, string, bool)) {
	t.Helper()
	var entries []sarama.ConfigEntry
	err := adm.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
		"max.message.bytes": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &mmb},
	}, false)
	if err != nil {
		t.Fatalf("incremental alter configs: %v", err)
	}
	entries = describe()
	expect(entries, "retention.ms", week, false)
	expect(entries, "max.message.bytes", mmb, false)
	err = adm.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
		"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationDelete},
	}, false)
	if err != nil {
		t.Fatalf("incremental delete config: %v", err)
	}
	expect(describe(), "retention.ms", "604800000", true)

}
