package tests

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/tests/harness"
)

func strp(s string) *string { return &s }

func describeTopic(t *testing.T, adm *kadm.Client, topic string) map[string]kadm.Config {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(ctxT(t), topic)
	if err != nil {
		t.Fatalf("describe configs: %v", err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		t.Fatalf("describe configs of %s: %v", topic, err)
	}
	if rc.Err != nil {
		t.Fatalf("describe configs of %s: %v %s", topic, rc.Err, rc.ErrMessage)
	}
	out := map[string]kadm.Config{}
	for _, c := range rc.Configs {
		out[c.Key] = c
	}
	return out
}

func synonymsString(c kadm.Config) string {
	var parts []string
	for _, s := range c.Synonyms {
		v := "<nil>"
		if s.Value != nil {
			v = *s.Value
		}
		parts = append(parts, fmt.Sprintf("%s=%s(%s)", s.Key, v, s.Source))
	}
	return strings.Join(parts, " ")
}

// expectConfig checks a described config's value, source and synonyms
// (rendered as "name=value(SOURCE) ...").
func expectConfig(t *testing.T, configs map[string]kadm.Config, key, value string, source kmsg.ConfigSource, synonyms string) {
	t.Helper()
	c, ok := configs[key]
	if !ok {
		t.Fatalf("config %s not described", key)
	}
	if c.MaybeValue() != value || c.Source != source {
		t.Errorf("config %s = %q (%s), want %q (%s)", key, c.MaybeValue(), c.Source, value, source)
	}
	if synonyms != "" {
		if got := synonymsString(c); got != synonyms {
			t.Errorf("config %s synonyms:\n got  %s\n want %s", key, got, synonyms)
		}
	}
}

func TestFranzAdminTopicConfigs(t *testing.T) {
	b := harness.InProcess(t, func(c *config.Config) {
		c.LogSegmentBytes = 2097152
		if c.Properties == nil {
			c.Properties = map[string]string{}
		}
		c.Properties["log.segment.bytes"] = "2097152"
	})
	adm := kadm.NewClient(newClient(t, b.Addr()))
	ctx := ctxT(t)
	topic := "franz-admin-configs"
	resp, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"retention.ms": strp("3600000"), "cleanup.policy": strp("compact")}, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v %s", err, resp.Err, resp.ErrMessage)
	}
	if resp.NumPartitions != 3 || resp.ReplicationFactor != 1 || resp.ID == (kadm.TopicID{}) {
		t.Fatalf("create response: %+v", resp)
	}
	if c, ok := resp.Configs["retention.ms"]; !ok || c.MaybeValue() != "3600000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Errorf("CreateTopics response config retention.ms: %+v", c)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("create existing: %v, want TOPIC_ALREADY_EXISTS", err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": strp("soon")}, "franz-admin-bad-config"); !errors.Is(err, kerr.InvalidConfig) {
		t.Fatalf("create with a bad config value: %v, want INVALID_CONFIG", err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 3, nil, "franz-admin-rf3"); !errors.Is(err, kerr.InvalidReplicationFactor) {
		t.Fatalf("create with RF 3: %v, want INVALID_REPLICATION_FACTOR", err)
	}

	cs := describeTopic(t, adm, topic)
	expectConfig(t, cs, "retention.ms", "3600000", kmsg.ConfigSourceDynamicTopicConfig,
		"retention.ms=3600000(DYNAMIC_TOPIC_CONFIG)") // as Kafka: no log.retention.hours default
	expectConfig(t, cs, "cleanup.policy", "compact", kmsg.ConfigSourceDynamicTopicConfig,
		"cleanup.policy=compact(DYNAMIC_TOPIC_CONFIG) log.cleanup.policy=delete(DEFAULT_CONFIG)")
	expectConfig(t, cs, "segment.bytes", "2097152", kmsg.ConfigSourceStaticBrokerConfig,
		"log.segment.bytes=2097152(STATIC_BROKER_CONFIG) log.segment.bytes=1073741824(DEFAULT_CONFIG)")
	expectConfig(t, cs, "max.message.bytes", "1048588", kmsg.ConfigSourceDefaultConfig,
		"message.max.bytes=1048588(DEFAULT_CONFIG)")

	// Incremental: set, delete, append.
	alter, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "max.message.bytes", Value: strp("500000")},
		{Op: kadm.DeleteConfig, Name: "retention.ms"},
		{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: strp("delete")},
	}, topic)
	if err != nil {
		t.Fatalf("incremental alter: %v", err)
	}
	if err := alter[0].Err; err != nil {
		t.Fatalf("incremental alter: %v %s", err, alter[0].ErrMessage)
	}
	cs = describeTopic(t, adm, topic)
	expectConfig(t, cs, "max.message.bytes", "500000", kmsg.ConfigSourceDynamicTopicConfig, "")
	expectConfig(t, cs, "retention.ms", "604800000", kmsg.ConfigSourceDefaultConfig, "") // Kafka lists no synonym here
	expectConfig(t, cs, "cleanup.policy", "compact,delete", kmsg.ConfigSourceDynamicTopicConfig, "")

	// Invalid alterations change nothing.
	for _, bad := range [][]kadm.AlterConfig{
		{{Op: kadm.SetConfig, Name: "retention.ms", Value: strp("not-a-number")}},
		{{Op: kadm.SetConfig, Name: "no.such.topic.config", Value: strp("1")}},
		{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: strp("1")}, {Op: kadm.SetConfig, Name: "cleanup.policy", Value: strp("bogus")}},
	} {
		alter, err := adm.AlterTopicConfigs(ctx, bad, topic)
		if err == nil {
			err = alter[0].Err
		}
		if err == nil {
			t.Errorf("incremental alter %+v succeeded", bad)
		}
	}
	cs = describeTopic(t, adm, topic)
	expectConfig(t, cs, "max.message.bytes", "500000", kmsg.ConfigSourceDynamicTopicConfig, "")

	// validateOnly changes nothing.
	if alter, err := adm.ValidateAlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: strp("7777")}}, topic); err != nil || alter[0].Err != nil {
		t.Fatalf("validate alter: %v %+v", err, alter)
	}
	expectConfig(t, describeTopic(t, adm, topic), "max.message.bytes", "500000", kmsg.ConfigSourceDynamicTopicConfig, "")

	// Non-incremental AlterConfigs replaces the whole set.
	alter, err = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: strp("1000000")}}, topic)
	if err != nil || alter[0].Err != nil {
		t.Fatalf("alter configs: %v %+v", err, alter)
	}
	cs = describeTopic(t, adm, topic)
	expectConfig(t, cs, "retention.ms", "1000000", kmsg.ConfigSourceDynamicTopicConfig, "")
	expectConfig(t, cs, "max.message.bytes", "1048588", kmsg.ConfigSourceDefaultConfig, "")
	expectConfig(t, cs, "cleanup.policy", "delete", kmsg.ConfigSourceDefaultConfig, "")

	// An unknown topic.
	rcs, err := adm.DescribeTopicConfigs(ctx, "franz-admin-no-such-topic")
	if err == nil {
		rc, _ := rcs.On("franz-admin-no-such-topic", nil)
		err = rc.Err
	}
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("describe unknown topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
}

func TestFranzAdminBrokerConfigsAndCluster(t *testing.T) {
	b := harness.InProcess(t, nil)
	adm := kadm.NewClient(newClient(t, b.Addr()))
	ctx := ctxT(t)
	rcs, err := adm.DescribeBrokerConfigs(ctx, 0)
	if err != nil {
		t.Fatalf("describe broker configs: %v", err)
	}
	rc, err := rcs.On("0", nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("broker configs: %v %+v", err, rc)
	}
	found := false
	for _, c := range rc.Configs {
		if c.Key == "num.partitions" {
			found = true
			if c.MaybeValue() != "1" {
				t.Errorf("num.partitions = %q", c.MaybeValue())
			}
		}
	}
	if !found {
		t.Errorf("num.partitions not among %d broker configs", len(rc.Configs))
	}
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Brokers) != 1 || md.Brokers[0].NodeID != 0 || md.Controller != 0 || md.Cluster == "" {
		t.Fatalf("metadata: %+v", md)
	}
	req := kmsg.NewPtrDescribeClusterRequest()
	dc, err := req.RequestWith(ctx, newClient(t, b.Addr()))
	if err != nil {
		t.Fatalf("describe cluster: %v", err)
	}
	if dc.ErrorCode != 0 || len(dc.Brokers) != 1 || dc.ControllerID != 0 || dc.ClusterID != md.Cluster {
		t.Fatalf("describe cluster: %+v (metadata cluster %q)", dc, md.Cluster)
	}
}

// produceTimed produces records value-0..n-1 to topic/partition, one
// second apart from base, in a single synchronous batch.
func produceTimed(t *testing.T, cl *kgo.Client, topic string, partition int32, n int, base time.Time) {
	t.Helper()
	var rs []*kgo.Record
	for i := range n {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: partition, Value: []byte(fmt.Sprintf("value-%d", i)),
			Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	if err := cl.ProduceSync(ctxT(t), rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func manualProducer(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	return newClient(t, addr, append([]kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0)}, opts...)...)
}

func TestFranzAdminPartitionsOffsetsAndDeleteRecords(t *testing.T) {
	b := harness.InProcess(t, nil)
	adm := kadm.NewClient(newClient(t, b.Addr()))
	ctx := ctxT(t)
	topic := "franz-admin-partitions"
	createTopic(t, b.Addr(), topic, 1, nil)

	resp, err := adm.CreatePartitions(ctx, 2, topic)
	if err != nil || resp[topic].Err != nil {
		t.Fatalf("create partitions: %v %+v", err, resp)
	}
	if resp, err := adm.UpdatePartitions(ctx, 2, topic); err == nil && !errors.Is(resp[topic].Err, kerr.InvalidPartitions) {
		t.Fatalf("shrink partitions: %+v, want INVALID_PARTITIONS", resp[topic])
	}
	if resp, err := adm.UpdatePartitions(ctx, 3, topic); err == nil && !errors.Is(resp[topic].Err, kerr.InvalidPartitions) {
		t.Fatalf("same partition count: %+v, want INVALID_PARTITIONS", resp[topic])
	}
	if resp, err := adm.CreatePartitions(ctx, 1, "franz-admin-missing"); err == nil && !errors.Is(resp["franz-admin-missing"].Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("create partitions of a missing topic: %+v", resp)
	}
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tds[topic].Partitions); n != 3 {
		t.Fatalf("%d partitions after CreatePartitions, want 3", n)
	}

	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	p := manualProducer(t, b.Addr(), kgo.ProducerBatchCompression(kgo.NoCompression()))
	for part := range int32(3) {
		produceTimed(t, p, topic, part, 10, base)
	}

	check := func(name string, lo kadm.ListedOffsets, want map[int32]int64) {
		t.Helper()
		if err := lo.Error(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for part, off := range want {
			o, ok := lo.Lookup(topic, part)
			if !ok || o.Offset != off {
				t.Errorf("%s: partition %d offset %+v, want %d", name, part, o, off)
			}
		}
	}
	lo, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	check("start", lo, map[int32]int64{0: 0, 1: 0, 2: 0})
	lo, err = adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	check("end", lo, map[int32]int64{0: 10, 1: 10, 2: 10})
	lo, err = adm.ListOffsetsAfterMilli(ctx, base.Add(4500*time.Millisecond).UnixMilli(), topic)
	if err != nil {
		t.Fatal(err)
	}
	check("after 4.5s", lo, map[int32]int64{0: 5, 1: 5, 2: 5})
	if o, _ := lo.Lookup(topic, 0); o.Timestamp != base.Add(5*time.Second).UnixMilli() {
		t.Errorf("after 4.5s: timestamp %d, want the record's %d", o.Timestamp, base.Add(5*time.Second).UnixMilli())
	}
	lo, err = adm.ListOffsetsAfterMilli(ctx, base.Add(time.Minute).UnixMilli(), topic)
	if err != nil {
		t.Fatal(err)
	}
	// kadm maps "no record at or after" (-1) to the end offset.
	check("after all", lo, map[int32]int64{0: 10, 1: 10, 2: 10})

	del, err := adm.DeleteRecords(ctx, kadm.Offsets{topic: {
		0: {Topic: topic, Partition: 0, At: 4},
		1: {Topic: topic, Partition: 1, At: -1}, // -1: the high watermark
	}})
	if err != nil {
		t.Fatalf("delete records: %v", err)
	}
	if r, _ := del.Lookup(topic, 0); r.Err != nil || r.LowWatermark != 4 {
		t.Fatalf("delete records p0: %+v", r)
	}
	if r, _ := del.Lookup(topic, 1); r.Err != nil || r.LowWatermark != 10 {
		t.Fatalf("delete records p1: %+v", r)
	}
	del, err = adm.DeleteRecords(ctx, kadm.Offsets{topic: {2: {Topic: topic, Partition: 2, At: 11}}})
	if err == nil {
		r, _ := del.Lookup(topic, 2)
		err = r.Err
	}
	if !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("delete records beyond the high watermark: %v, want OFFSET_OUT_OF_RANGE", err)
	}
	lo, err = adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	check("start after delete", lo, map[int32]int64{0: 4, 1: 10, 2: 0})
	// Deleting below the start offset is a no-op.
	del, err = adm.DeleteRecords(ctx, kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: 2}}})
	if r, _ := del.Lookup(topic, 0); err != nil || r.Err != nil || r.LowWatermark != 4 {
		t.Fatalf("delete records below the start: %v %+v", err, r)
	}
	// A fetch below the start offset is out of range; the consumer resets to the start.
	got := consumeN(t, b.Addr(), topic, 6+0+10)
	counts := map[int32]int{}
	for _, r := range got {
		counts[r.Partition]++
		if r.Partition == 0 && r.Offset < 4 {
			t.Fatalf("read deleted record at offset %d", r.Offset)
		}
	}
	if counts[0] != 6 || counts[1] != 0 || counts[2] != 10 {
		t.Fatalf("records per partition after DeleteRecords: %v", counts)
	}

	dresp, err := adm.DeleteTopics(ctx, topic)
	if err != nil || dresp[topic].Err != nil {
		t.Fatalf("delete topic: %v %+v", err, dresp)
	}
	tds, err = adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tds.Has(topic) {
		t.Fatalf("deleted topic still listed")
	}
	dresp, err = adm.DeleteTopics(ctx, topic)
	if err == nil {
		err = dresp[topic].Err
	}
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("delete a deleted topic: %v", err)
	}
}

// pollRecords polls cl until it has n records or ctx ends.
func pollRecords(t *testing.T, ctx context.Context, cl *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("polled %d of %d records: %v", len(out), n, ctx.Err())
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func TestFranzConsumeByTimestamp(t *testing.T) {
	b := harness.InProcess(t, nil)
	codecs := []struct {
		name  string
		codec kgo.CompressionCodec
	}{{"none", kgo.NoCompression()}, {"snappy", kgo.SnappyCompression()}, {"zstd", kgo.ZstdCompression()}}
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			topic := "franz-consume-by-time-" + c.name
			createTopic(t, b.Addr(), topic, 1, nil)
			base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
			// Ten records in one batch, one second apart.
			produceTimed(t, manualProducer(t, b.Addr(), kgo.ProducerBatchCompression(c.codec)), topic, 0, 10, base)

			ts := base.Add(6500 * time.Millisecond).UnixMilli()
			adm := kadm.NewClient(newClient(t, b.Addr()))
			lo, err := adm.ListOffsetsAfterMilli(ctxT(t), ts, topic)
			if err != nil {
				t.Fatal(err)
			}
			if o, _ := lo.Lookup(topic, 0); o.Offset != 7 || o.Timestamp != base.Add(7*time.Second).UnixMilli() {
				t.Errorf("ListOffsets after %d: offset %d timestamp %d, want 7 at %d", ts, o.Offset, o.Timestamp, base.Add(7*time.Second).UnixMilli())
			}

			cl := newClient(t, b.Addr(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AfterMilli(ts)}}))
			got := pollRecords(t, ctxT(t), cl, 1)
			if got[0].Offset != 7 || string(got[0].Value) != "value-7" {
				t.Fatalf("consuming after %d started at offset %d (%q), want 7", ts, got[0].Offset, got[0].Value)
			}
		})
	}
}

func TestFranzConsumeFromLatest(t *testing.T) {
	b := harness.InProcess(t, nil)
	topic := "franz-consume-latest"
	createTopic(t, b.Addr(), topic, 1, nil)
	p := manualProducer(t, b.Addr())
	produceTimed(t, p, topic, 0, 10, time.Now())

	cl := newClient(t, b.Addr(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtEnd()}}),
		kgo.FetchMaxWait(200*time.Millisecond))
	ctx := ctxT(t)
	// Keep producing until the consumer, which resolved "latest" at some
	// point, sees something; it must never see the first ten.
	var got []*kgo.Record
	for i := 0; len(got) == 0; i++ {
		if ctx.Err() != nil {
			t.Fatal("consumer from latest saw nothing")
		}
		r := &kgo.Record{Topic: topic, Partition: 0, Value: []byte(fmt.Sprintf("new-%d", i))}
		if err := p.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		fs.EachError(func(tp string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("fetch %s/%d: %v", tp, p, err)
			}
		})
		got = append(got, fs.Records()...)
	}
	for j, r := range got {
		if r.Offset < 10 || !strings.HasPrefix(string(r.Value), "new-") {
			t.Fatalf("record %d from latest: offset %d value %q", j, r.Offset, r.Value)
		}
		if j > 0 && r.Offset != got[j-1].Offset+1 {
			t.Fatalf("gap: offset %d after %d", r.Offset, got[j-1].Offset)
		}
	}
}
