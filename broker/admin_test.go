package broker

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/internal/batchtest"
	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/protocol"
)

// Handler-level tests of the admin APIs (20, 21, 23, 32, 33, 37, 44, 60,
// 75). Requests and responses go through kmsg encoding at the chosen
// version, as on the wire, so version-dependent fields are exercised.

func newAdminBroker(t *testing.T, mut ...func(*config.Config)) *Broker {
	t.Helper()
	cfg := config.Default()
	cfg.Memory = true
	for _, m := range mut {
		m(&cfg)
	}
	b, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	return b
}

// do sends req at version through Handle, encoding and decoding both ways.
func do[R kmsg.Response](t *testing.T, b *Broker, version int16, req kmsg.Request) R {
	t.Helper()
	req.SetVersion(version)
	wire := kmsg.RequestForKey(req.Key())
	wire.SetVersion(version)
	if err := wire.ReadFrom(req.AppendTo(nil)); err != nil {
		t.Fatalf("decode request v%d: %v", version, err)
	}
	ctx := context.Background()
	reply := b.Handle(ctx, &protocol.Request{Key: req.Key(), Version: version, Body: wire, Parsed: true, Conn: &protocol.ConnInfo{}})
	resp := reply.Resp
	if resp == nil && reply.Wait != nil {
		resp = reply.Wait(ctx)
	}
	if resp == nil {
		t.Fatalf("key %d v%d: no response", req.Key(), version)
	}
	if resp.GetVersion() != version {
		t.Fatalf("response version %d, want %d", resp.GetVersion(), version)
	}
	out := kmsg.ResponseForKey(req.Key())
	out.SetVersion(version)
	if err := out.ReadFrom(resp.AppendTo(nil)); err != nil {
		t.Fatalf("decode response v%d: %v", version, err)
	}
	return out.(R)
}

func mustCreateTopic(t *testing.T, b *Broker, name string, partitions int32, configs map[string]*string) *topic {
	t.Helper()
	s, err := b.checkTopicSpec(name, partitions, -1, nil, configs)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := b.createTopic(s)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// adminBatch builds a valid uncompressed RecordBatch v2 of n keyed records.
func adminBatch(n int) []byte {
	return batchtest.New(1000, batchtest.Repeat(n, []byte("k"), []byte("v"))...).MustEncode()
}

func appendRecords(t *testing.T, p *partition, batches, perBatch int) {
	t.Helper()
	for range batches {
		if _, err := p.log.Append(adminBatch(perBatch), 1000); err != nil {
			t.Fatal(err)
		}
	}
}

func storedTopic(t *testing.T, b *Broker, id [16]byte) (topicRecord, bool) {
	t.Helper()
	recs, err := b.meta.loadTopics()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.ID == id {
			return r, true
		}
	}
	return topicRecord{}, false
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	wantCode := int16(0)
	if want != nil {
		wantCode = want.Code
	}
	if got != wantCode {
		t.Errorf("%s: error code %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

func TestDeleteTopics(t *testing.T) {
	b := newAdminBroker(t)
	a := mustCreateTopic(t, b, "a", 2, nil)
	appendRecords(t, a.partition(0), 1, 1)
	w := newFetchWaiter()
	a.partition(1).watch(w)

	// v0: by name.
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TopicNames = []string{"a", "nope"}
	resp := do[*kmsg.DeleteTopicsResponse](t, b, 0, req)
	if len(resp.Topics) != 2 {
		t.Fatalf("got %d topics", len(resp.Topics))
	}
	wantCode(t, "a", resp.Topics[0].ErrorCode, nil)
	wantCode(t, "nope", resp.Topics[1].ErrorCode, kerr.UnknownTopicOrPartition)
	if b.topics.get("a") != nil || b.topics.getID(a.id) != nil {
		t.Error("a still registered")
	}
	if _, ok := storedTopic(t, b, a.id); ok {
		t.Error("a still stored")
	}
	select {
	case <-w.ch:
	default:
		t.Error("fetch waiter not woken")
	}
	if _, err := b.fs.Stat(filepath.Join(b.dataDir, "a-0")); err == nil {
		t.Error("a-0 directory still exists")
	}
	// Re-created under the same name: a fresh, empty topic.
	a2 := mustCreateTopic(t, b, "a", 1, nil)
	if a2.id == a.id || a2.partition(0).log.EndOffset() != 0 {
		t.Error("re-created topic is not fresh")
	}

	// v6: by id, by name, and the request errors.
	c := mustCreateTopic(t, b, "c", 1, nil)
	d := mustCreateTopic(t, b, "d", 1, nil)
	req = kmsg.NewPtrDeleteTopicsRequest()
	byID := func(id [16]byte) kmsg.DeleteTopicsRequestTopic {
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.TopicID = id
		return rt
	}
	byName := func(name string) kmsg.DeleteTopicsRequestTopic {
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		return rt
	}
	both := byName("a")
	both.TopicID = a2.id
	req.Topics = []kmsg.DeleteTopicsRequestTopic{byID(c.id), byName("d"), byID([16]byte{9}), byName("x"), byName("x"), both, {}}
	resp = do[*kmsg.DeleteTopicsResponse](t, b, 6, req)
	if len(resp.Topics) != 6 {
		t.Fatalf("got %d topics: %+v", len(resp.Topics), resp.Topics)
	}
	if r := resp.Topics[0]; r.ErrorCode != 0 || r.Topic == nil || *r.Topic != "c" || r.TopicID != c.id {
		t.Errorf("delete by id: %+v", r)
	}
	if r := resp.Topics[1]; r.ErrorCode != 0 || r.TopicID != d.id {
		t.Errorf("delete by name: %+v", r)
	}
	wantCode(t, "unknown id", resp.Topics[2].ErrorCode, kerr.UnknownTopicID)
	wantCode(t, "duplicate name", resp.Topics[3].ErrorCode, kerr.InvalidRequest)
	wantCode(t, "name and id", resp.Topics[4].ErrorCode, kerr.InvalidRequest)
	wantCode(t, "neither", resp.Topics[5].ErrorCode, kerr.InvalidRequest)
	if resp.Topics[3].ErrorMessage == nil {
		t.Error("v6: no error message")
	}
	if b.topics.get("c") != nil || b.topics.get("d") != nil || b.topics.get("a") == nil {
		t.Error("wrong topics deleted")
	}
}

func TestDeleteTopicsDisabled(t *testing.T) {
	b := newAdminBroker(t, func(c *config.Config) { c.DeleteTopicEnable = false })
	mustCreateTopic(t, b, "a", 1, nil)
	for _, tc := range []struct {
		version int16
		want    *kerr.Error
	}{{0, kerr.InvalidRequest}, {2, kerr.InvalidRequest}, {3, kerr.TopicDeletionDisabled}, {5, kerr.TopicDeletionDisabled}} {
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.TopicNames = []string{"a"}
		resp := do[*kmsg.DeleteTopicsResponse](t, b, tc.version, req)
		wantCode(t, "disabled", resp.Topics[0].ErrorCode, tc.want)
	}
	if b.topics.get("a") == nil {
		t.Error("topic deleted although deletion is disabled")
	}
}

func TestDeleteTopicCrashRecovery(t *testing.T) {
	// A record left marked Deleting is finished by the next start.
	b := newAdminBroker(t)
	a := mustCreateTopic(t, b, "a", 1, nil)
	rec := a.record()
	rec.Deleting = true
	if err := b.meta.putTopic(rec); err != nil {
		t.Fatal(err)
	}
	b.topics = newTopicRegistry(newBrokerMetrics(nil, nil))
	if err := b.loadTopics(); err != nil {
		t.Fatal(err)
	}
	if b.topics.get("a") != nil {
		t.Error("topic marked Deleting was loaded")
	}
	if _, ok := storedTopic(t, b, a.id); ok {
		t.Error("record of deleted topic kept")
	}
}

func TestDeleteRecords(t *testing.T) {
	b := newAdminBroker(t)
	tp := mustCreateTopic(t, b, "t", 1, nil)
	appendRecords(t, tp.partition(0), 3, 2) // offsets 0..5
	mustCreateTopic(t, b, "compacted", 1, map[string]*string{"cleanup.policy": kmsg.StringPtr("compact")})

	part := func(p int32, off int64) kmsg.DeleteRecordsRequestTopicPartition {
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Partition, rp.Offset = p, off
		return rp
	}
	topicReq := func(name string, ps ...kmsg.DeleteRecordsRequestTopicPartition) kmsg.DeleteRecordsRequestTopic {
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic, rt.Partitions = name, ps
		return rt
	}
	for _, v := range []int16{0, 2} {
		req := kmsg.NewPtrDeleteRecordsRequest()
		req.Topics = []kmsg.DeleteRecordsRequestTopic{
			topicReq("t", part(0, 2), part(1, 0)),
			topicReq("nope", part(0, 0)),
			topicReq("compacted", part(0, 0)),
		}
		resp := do[*kmsg.DeleteRecordsResponse](t, b, v, req)
		got := resp.Topics[0].Partitions
		wantCode(t, "delete before 2", got[0].ErrorCode, nil)
		if got[0].LowWatermark != 2 {
			t.Errorf("v%d: low watermark %d, want 2", v, got[0].LowWatermark)
		}
		wantCode(t, "unknown partition", got[1].ErrorCode, kerr.UnknownTopicOrPartition)
		wantCode(t, "unknown topic", resp.Topics[1].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)
		wantCode(t, "compacted", resp.Topics[2].Partitions[0].ErrorCode, kerr.PolicyViolation)
		if got[1].LowWatermark != -1 {
			t.Errorf("error low watermark %d, want -1", got[1].LowWatermark)
		}
	}
	// Below the log start: no change. Out of range. Then -1: the high watermark.
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.Topics = []kmsg.DeleteRecordsRequestTopic{topicReq("t", part(0, 1), part(0, 7), part(0, -2), part(0, -1))}
	resp := do[*kmsg.DeleteRecordsResponse](t, b, 1, req)
	got := resp.Topics[0].Partitions
	if got[0].ErrorCode != 0 || got[0].LowWatermark != 2 {
		t.Errorf("below log start: %+v", got[0])
	}
	wantCode(t, "above high watermark", got[1].ErrorCode, kerr.OffsetOutOfRange)
	wantCode(t, "below -1", got[2].ErrorCode, kerr.OffsetOutOfRange)
	if got[3].ErrorCode != 0 || got[3].LowWatermark != 6 {
		t.Errorf("-1: %+v", got[3])
	}
	if s := tp.partition(0).log.LogStartOffset(); s != 6 {
		t.Errorf("log start %d, want 6", s)
	}
}

func TestOffsetForLeaderEpoch(t *testing.T) {
	b := newAdminBroker(t)
	tp := mustCreateTopic(t, b, "t", 1, nil)
	appendRecords(t, tp.partition(0), 2, 3) // end offset 6

	part := func(p, current, epoch int32) kmsg.OffsetForLeaderEpochRequestTopicPartition {
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = p, current, epoch
		return rp
	}
	build := func(ps ...kmsg.OffsetForLeaderEpochRequestTopicPartition) *kmsg.OffsetForLeaderEpochRequest {
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic, rt.Partitions = "t", ps
		unknown := kmsg.NewOffsetForLeaderEpochRequestTopic()
		unknown.Topic, unknown.Partitions = "nope", []kmsg.OffsetForLeaderEpochRequestTopicPartition{part(0, -1, 0)}
		req.Topics = []kmsg.OffsetForLeaderEpochRequestTopic{rt, unknown}
		return req
	}

	// v0: no current epoch, no epoch in the answer.
	resp := do[*kmsg.OffsetForLeaderEpochResponse](t, b, 0, build(part(0, 5, 0), part(3, -1, 0)))
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.EndOffset != 6 {
		t.Errorf("v0 epoch 0: %+v", p)
	}
	wantCode(t, "v0 unknown partition", resp.Topics[0].Partitions[1].ErrorCode, kerr.UnknownTopicOrPartition)
	wantCode(t, "v0 unknown topic", resp.Topics[1].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)

	// v4: epochs and fencing.
	req := build(part(0, 0, 0), part(0, -1, 1), part(0, 1, 0), part(0, -1, -1))
	req.ReplicaID = -1
	resp = do[*kmsg.OffsetForLeaderEpochResponse](t, b, 4, req)
	ps := resp.Topics[0].Partitions
	if p := ps[0]; p.ErrorCode != 0 || p.LeaderEpoch != 0 || p.EndOffset != 6 {
		t.Errorf("v4 epoch 0: %+v", p)
	}
	if p := ps[1]; p.ErrorCode != 0 || p.LeaderEpoch != -1 || p.EndOffset != -1 {
		t.Errorf("v4 epoch 1 (unknown, later): %+v", p)
	}
	wantCode(t, "current epoch ahead", ps[2].ErrorCode, kerr.UnknownLeaderEpoch)
	if p := ps[3]; p.ErrorCode != 0 || p.LeaderEpoch != -1 || p.EndOffset != -1 {
		t.Errorf("v4 epoch -1: %+v", p)
	}
	wantCode(t, "v4 unknown topic", resp.Topics[1].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)

	// An epoch below every known one: that epoch and the log start (the
	// earliest entry's start moves up with it, as in Kafka's cache).
	if err := tp.partition(0).log.DeleteRecordsBefore(4); err != nil {
		t.Fatal(err)
	}
	resp = do[*kmsg.OffsetForLeaderEpochResponse](t, b, 4, build(part(0, -1, -3), part(0, -1, 0)))
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.LeaderEpoch != -3 || p.EndOffset != 4 {
		t.Errorf("v4 epoch -3 after the log start moved to 4: %+v", p)
	}
	if p := resp.Topics[0].Partitions[1]; p.ErrorCode != 0 || p.LeaderEpoch != 0 || p.EndOffset != 6 {
		t.Errorf("v4 epoch 0 after the log start moved to 4: %+v", p)
	}

	// An empty partition: the leader's epoch is cached from the start, so
	// epoch 0 ends at the log end (0), as on Kafka.
	mustCreateTopic(t, b, "empty", 1, nil)
	req = kmsg.NewPtrOffsetForLeaderEpochRequest()
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic, rt.Partitions = "empty", []kmsg.OffsetForLeaderEpochRequestTopicPartition{part(0, 0, 0), part(0, -1, 1)}
	req.Topics = []kmsg.OffsetForLeaderEpochRequestTopic{rt}
	resp = do[*kmsg.OffsetForLeaderEpochResponse](t, b, 4, req)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.LeaderEpoch != 0 || p.EndOffset != 0 {
		t.Errorf("empty partition, epoch 0: %+v", p)
	}
	if p := resp.Topics[0].Partitions[1]; p.ErrorCode != 0 || p.LeaderEpoch != -1 || p.EndOffset != -1 {
		t.Errorf("empty partition, epoch 1: %+v", p)
	}
}

func describeConfigsReq(typ kmsg.ConfigResourceType, name string, keys ...string) *kmsg.DescribeConfigsRequest {
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.ConfigNames = typ, name, keys
	req.Resources = append(req.Resources, rr)
	return req
}

func findConfig(cs []kmsg.DescribeConfigsResponseResourceConfig, name string) *kmsg.DescribeConfigsResponseResourceConfig {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

func TestDescribeConfigsTopic(t *testing.T) {
	b := newAdminBroker(t)
	mustCreateTopic(t, b, "t", 1, map[string]*string{"retention.ms": kmsg.StringPtr("1000")})

	// v0: all configs, IsDefault.
	resp := do[*kmsg.DescribeConfigsResponse](t, b, 0, describeConfigsReq(kmsg.ConfigResourceTypeTopic, "t"))
	r := resp.Resources[0]
	wantCode(t, "v0 topic", r.ErrorCode, nil)
	if len(r.Configs) < 20 {
		t.Errorf("v0: only %d configs", len(r.Configs))
	}
	if c := findConfig(r.Configs, "retention.ms"); c == nil || c.Value == nil || *c.Value != "1000" || c.IsDefault {
		t.Errorf("v0 retention.ms: %+v", c)
	}
	if c := findConfig(r.Configs, "segment.bytes"); c == nil || !c.IsDefault {
		t.Errorf("v0 segment.bytes: %+v", c)
	}

	// v4: filtered, with synonyms, documentation and types.
	req := describeConfigsReq(kmsg.ConfigResourceTypeTopic, "t", "retention.ms", "cleanup.policy")
	req.IncludeSynonyms, req.IncludeDocumentation = true, true
	resp = do[*kmsg.DescribeConfigsResponse](t, b, 4, req)
	r = resp.Resources[0]
	if len(r.Configs) != 2 {
		t.Fatalf("v4 filter: %d configs", len(r.Configs))
	}
	c := findConfig(r.Configs, "retention.ms")
	if c == nil || c.Source != kmsg.ConfigSourceDynamicTopicConfig || c.ConfigType != kmsg.ConfigTypeLong || c.Documentation == nil {
		t.Fatalf("v4 retention.ms: %+v", c)
	}
	// Only the override: Kafka lists no log.retention.hours default
	// (config.brokerSynonyms).
	if len(c.ConfigSynonyms) != 1 || c.ConfigSynonyms[0].Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Errorf("v4 retention.ms synonyms: %+v", c.ConfigSynonyms)
	}
	if c := findConfig(r.Configs, "cleanup.policy"); c == nil || c.Source != kmsg.ConfigSourceDefaultConfig || c.ConfigType != kmsg.ConfigTypeList {
		t.Errorf("v4 cleanup.policy: %+v", c)
	}

	// Errors.
	for _, tc := range []struct {
		name string
		want *kerr.Error
	}{{"nope", kerr.UnknownTopicOrPartition}, {"bad/name", kerr.InvalidTopicException}} {
		resp = do[*kmsg.DescribeConfigsResponse](t, b, 1, describeConfigsReq(kmsg.ConfigResourceTypeTopic, tc.name))
		wantCode(t, tc.name, resp.Resources[0].ErrorCode, tc.want)
	}
}

func TestDescribeConfigsBroker(t *testing.T) {
	b := newAdminBroker(t)
	resp := do[*kmsg.DescribeConfigsResponse](t, b, 4, describeConfigsReq(kmsg.ConfigResourceTypeBroker, "0"))
	r := resp.Resources[0]
	wantCode(t, "broker 0", r.ErrorCode, nil)
	if c := findConfig(r.Configs, "num.partitions"); c == nil || c.Value == nil || *c.Value != "1" || !c.ReadOnly || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("num.partitions: %+v", c)
	}

	resp = do[*kmsg.DescribeConfigsResponse](t, b, 1, describeConfigsReq(kmsg.ConfigResourceTypeBroker, ""))
	if r := resp.Resources[0]; r.ErrorCode != 0 || len(r.Configs) != 0 {
		t.Errorf("cluster default: %+v", r)
	}
	resp = do[*kmsg.DescribeConfigsResponse](t, b, 2, describeConfigsReq(kmsg.ConfigResourceTypeBrokerLogger, "0"))
	if r := resp.Resources[0]; r.ErrorCode != 0 || len(r.Configs) != 1 || r.Configs[0].Name != "root" || *r.Configs[0].Value != "INFO" {
		t.Errorf("broker logger: %+v", r)
	}
	for _, tc := range []struct {
		typ  kmsg.ConfigResourceType
		name string
	}{
		{kmsg.ConfigResourceTypeBroker, "7"},
		{kmsg.ConfigResourceTypeBroker, "x"},
		{kmsg.ConfigResourceTypeBrokerLogger, ""},
		{kmsg.ConfigResourceTypeGroupConfig, ""},
		{kmsg.ConfigResourceTypeClientMetrics, ""},
		{kmsg.ConfigResourceType(99), "?"},
	} {
		resp = do[*kmsg.DescribeConfigsResponse](t, b, 4, describeConfigsReq(tc.typ, tc.name))
		r := resp.Resources[0]
		wantCode(t, tc.typ.String()+" "+tc.name, r.ErrorCode, kerr.InvalidRequest)
		if r.ErrorMessage == nil || r.ResourceName != tc.name || r.ResourceType != tc.typ {
			t.Errorf("%v %q: %+v", tc.typ, tc.name, r)
		}
	}
}

func alterReq(typ kmsg.ConfigResourceType, name string, kv ...*string) *kmsg.AlterConfigsRequest {
	req := kmsg.NewPtrAlterConfigsRequest()
	rr := kmsg.NewAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = typ, name
	for i := 0; i+1 < len(kv); i += 2 {
		c := kmsg.NewAlterConfigsRequestResourceConfig()
		c.Name, c.Value = *kv[i], kv[i+1]
		rr.Configs = append(rr.Configs, c)
	}
	req.Resources = append(req.Resources, rr)
	return req
}

func TestAlterConfigs(t *testing.T) {
	b := newAdminBroker(t)
	tp := mustCreateTopic(t, b, "t", 2, map[string]*string{"retention.ms": kmsg.StringPtr("1000")})
	s := kmsg.StringPtr

	// v0: replace the whole set; retention.ms returns to its default.
	resp := do[*kmsg.AlterConfigsResponse](t, b, 0, alterReq(kmsg.ConfigResourceTypeTopic, "t", s("segment.ms"), s("60000"), s("cleanup.policy"), s("compact")))
	wantCode(t, "v0 alter", resp.Resources[0].ErrorCode, nil)
	st := tp.settings()
	if st.SegmentMs != 60000 || !st.Compact || st.Delete || st.RetentionMs != config.Default().LogRetentionMs {
		t.Errorf("settings after alter: %+v", st)
	}
	if rec, _ := storedTopic(t, b, tp.id); len(rec.Configs) != 2 || rec.Configs["segment.ms"] != "60000" {
		t.Errorf("stored configs %v", rec.Configs)
	}

	// ValidateOnly changes nothing.
	req := alterReq(kmsg.ConfigResourceTypeTopic, "t", s("retention.ms"), s("5"))
	req.ValidateOnly = true
	resp = do[*kmsg.AlterConfigsResponse](t, b, 2, req)
	wantCode(t, "validate only", resp.Resources[0].ErrorCode, nil)
	if tp.settings().RetentionMs == 5 {
		t.Error("validate only applied")
	}

	for _, tc := range []struct {
		what string
		req  *kmsg.AlterConfigsRequest
		want *kerr.Error
	}{
		{"unknown key", alterReq(kmsg.ConfigResourceTypeTopic, "t", s("no.such.config"), s("1")), kerr.InvalidConfig},
		{"bad value", alterReq(kmsg.ConfigResourceTypeTopic, "t", s("retention.ms"), s("soon")), kerr.InvalidConfig},
		{"min > max compaction lag", alterReq(kmsg.ConfigResourceTypeTopic, "t", s("min.compaction.lag.ms"), s("10"), s("max.compaction.lag.ms"), s("5")), kerr.InvalidConfig},
		{"null value", alterReq(kmsg.ConfigResourceTypeTopic, "t", s("retention.ms"), nil), kerr.InvalidRequest},
		{"duplicate key", alterReq(kmsg.ConfigResourceTypeTopic, "t", s("retention.ms"), s("1"), s("retention.ms"), s("2")), kerr.InvalidRequest},
		{"unknown topic", alterReq(kmsg.ConfigResourceTypeTopic, "nope", s("retention.ms"), s("1")), kerr.UnknownTopicOrPartition},
		{"broker set", alterReq(kmsg.ConfigResourceTypeBroker, "0", s("num.partitions"), s("3")), kerr.InvalidRequest},
		{"other broker", alterReq(kmsg.ConfigResourceTypeBroker, "1"), kerr.InvalidRequest},
		{"broker empty set", alterReq(kmsg.ConfigResourceTypeBroker, "0"), nil},
		{"broker logger", alterReq(kmsg.ConfigResourceTypeBrokerLogger, "0", s("root"), s("DEBUG")), kerr.InvalidRequest},
	} {
		resp = do[*kmsg.AlterConfigsResponse](t, b, 1, tc.req)
		wantCode(t, tc.what, resp.Resources[0].ErrorCode, tc.want)
		if tc.want != nil && resp.Resources[0].ErrorMessage == nil {
			t.Errorf("%s: no error message", tc.what)
		}
	}
	if st := tp.settings(); st.SegmentMs != 60000 || !st.Compact {
		t.Errorf("failed alters changed settings: %+v", st)
	}

	// A resource listed twice.
	req = alterReq(kmsg.ConfigResourceTypeTopic, "t")
	req.Resources = append(req.Resources, req.Resources[0])
	resp = do[*kmsg.AlterConfigsResponse](t, b, 2, req)
	wantCode(t, "duplicate resource 0", resp.Resources[0].ErrorCode, kerr.InvalidRequest)
	wantCode(t, "duplicate resource 1", resp.Resources[1].ErrorCode, kerr.InvalidRequest)
}

func incReq(typ kmsg.ConfigResourceType, name string, ops ...kmsg.IncrementalAlterConfigsRequestResourceConfig) *kmsg.IncrementalAlterConfigsRequest {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.Configs = typ, name, ops
	req.Resources = append(req.Resources, rr)
	return req
}

func op(o kmsg.IncrementalAlterConfigOp, name string, value *string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Op, c.Name, c.Value = o, name, value
	return c
}

func TestIncrementalAlterConfigs(t *testing.T) {
	b := newAdminBroker(t)
	tp := mustCreateTopic(t, b, "t", 1, map[string]*string{"segment.ms": kmsg.StringPtr("60000")})
	s := kmsg.StringPtr
	const (
		set      = kmsg.IncrementalAlterConfigOpSet
		del      = kmsg.IncrementalAlterConfigOpDelete
		appendOp = kmsg.IncrementalAlterConfigOpAppend
		subtract = kmsg.IncrementalAlterConfigOpSubtract
	)
	overrides := func() map[string]string { return tp.state.Load().overrides }

	// v0: SET keeps the other overrides; APPEND starts from the default.
	resp := do[*kmsg.IncrementalAlterConfigsResponse](t, b, 0, incReq(kmsg.ConfigResourceTypeTopic, "t",
		op(set, "retention.ms", s("1000")), op(appendOp, "cleanup.policy", s("compact"))))
	wantCode(t, "set+append", resp.Resources[0].ErrorCode, nil)
	if o := overrides(); o["segment.ms"] != "60000" || o["retention.ms"] != "1000" || o["cleanup.policy"] != "delete,compact" {
		t.Errorf("overrides %v", o)
	}
	if st := tp.settings(); !st.Compact || !st.Delete || st.RetentionMs != 1000 {
		t.Errorf("settings %+v", st)
	}

	// v1: SUBTRACT and DELETE.
	resp = do[*kmsg.IncrementalAlterConfigsResponse](t, b, 1, incReq(kmsg.ConfigResourceTypeTopic, "t",
		op(subtract, "cleanup.policy", s("delete")), op(del, "retention.ms", nil)))
	wantCode(t, "subtract+delete", resp.Resources[0].ErrorCode, nil)
	if o := overrides(); o["cleanup.policy"] != "compact" || len(o) != 2 {
		t.Errorf("overrides %v", o)
	}
	if rec, _ := storedTopic(t, b, tp.id); rec.Configs["cleanup.policy"] != "compact" || len(rec.Configs) != 2 {
		t.Errorf("stored configs %v", rec.Configs)
	}

	// ValidateOnly.
	req := incReq(kmsg.ConfigResourceTypeTopic, "t", op(set, "retention.ms", s("5")))
	req.ValidateOnly = true
	resp = do[*kmsg.IncrementalAlterConfigsResponse](t, b, 1, req)
	wantCode(t, "validate only", resp.Resources[0].ErrorCode, nil)
	if _, ok := overrides()["retention.ms"]; ok {
		t.Error("validate only applied")
	}

	for _, tc := range []struct {
		what string
		req  *kmsg.IncrementalAlterConfigsRequest
		want *kerr.Error
	}{
		{"append to non-list", incReq(kmsg.ConfigResourceTypeTopic, "t", op(appendOp, "retention.ms", s("1"))), kerr.InvalidConfig},
		{"append bad element", incReq(kmsg.ConfigResourceTypeTopic, "t", op(appendOp, "cleanup.policy", s("shred"))), kerr.InvalidConfig},
		{"unknown key", incReq(kmsg.ConfigResourceTypeTopic, "t", op(set, "no.such", s("1"))), kerr.InvalidConfig},
		{"bad value", incReq(kmsg.ConfigResourceTypeTopic, "t", op(set, "segment.bytes", s("12"))), kerr.InvalidConfig},
		{"null set", incReq(kmsg.ConfigResourceTypeTopic, "t", op(set, "retention.ms", nil)), kerr.InvalidRequest},
		{"duplicate key", incReq(kmsg.ConfigResourceTypeTopic, "t", op(set, "retention.ms", s("1")), op(del, "retention.ms", nil)), kerr.InvalidRequest},
		{"unknown op", incReq(kmsg.ConfigResourceTypeTopic, "t", op(7, "retention.ms", s("1"))), kerr.InvalidRequest},
		{"unknown topic", incReq(kmsg.ConfigResourceTypeTopic, "nope", op(set, "retention.ms", s("1"))), kerr.UnknownTopicOrPartition},
		{"broker set", incReq(kmsg.ConfigResourceTypeBroker, "0", op(set, "num.partitions", s("3"))), kerr.InvalidRequest},
		{"broker delete", incReq(kmsg.ConfigResourceTypeBroker, "", op(del, "num.partitions", nil)), nil},
		{"group", incReq(kmsg.ConfigResourceTypeGroupConfig, "g", op(set, "consumer.session.timeout.ms", s("45000"))), nil},
		{"default group", incReq(kmsg.ConfigResourceTypeGroupConfig, "", op(set, "consumer.session.timeout.ms", s("45000"))), kerr.InvalidRequest},
		{"group bound", incReq(kmsg.ConfigResourceTypeGroupConfig, "g", op(set, "consumer.session.timeout.ms", s("1000"))), kerr.InvalidConfig},
	} {
		resp = do[*kmsg.IncrementalAlterConfigsResponse](t, b, 1, tc.req)
		wantCode(t, tc.what, resp.Resources[0].ErrorCode, tc.want)
	}
	if o := overrides(); o["cleanup.policy"] != "compact" || len(o) != 2 {
		t.Errorf("failed alters changed overrides: %v", o)
	}
}

func createPartitionsReq(validateOnly bool, topics ...kmsg.CreatePartitionsRequestTopic) *kmsg.CreatePartitionsRequest {
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.Topics, req.ValidateOnly = topics, validateOnly
	return req
}

func cpTopic(name string, count int32, assignment ...[]int32) kmsg.CreatePartitionsRequestTopic {
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = name, count
	for _, a := range assignment {
		ra := kmsg.NewCreatePartitionsRequestTopicAssignment()
		ra.Replicas = a
		rt.Assignment = append(rt.Assignment, ra)
	}
	return rt
}

func TestCreatePartitions(t *testing.T) {
	b := newAdminBroker(t)
	tp := mustCreateTopic(t, b, "t", 1, map[string]*string{"segment.ms": kmsg.StringPtr("60000")})

	// A stale directory of an earlier "t" where partition 1 will be.
	stale, _, err := plog.Open(b.fs, filepath.Join(b.dataDir, "t-1"), plog.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stale.Append(adminBatch(2), 1000); err != nil {
		t.Fatal(err)
	}
	if err := stale.Close(); err != nil {
		t.Fatal(err)
	}

	resp := do[*kmsg.CreatePartitionsResponse](t, b, 0, createPartitionsReq(false, cpTopic("t", 3)))
	wantCode(t, "v0 grow", resp.Topics[0].ErrorCode, nil)
	if n := len(tp.partitionList()); n != 3 {
		t.Fatalf("%d partitions, want 3", n)
	}
	if rec, _ := storedTopic(t, b, tp.id); rec.Partitions != 3 {
		t.Errorf("stored %d partitions", rec.Partitions)
	}
	p1 := tp.partition(1)
	if p1.log.EndOffset() != 0 {
		t.Error("stale data leaked into the new partition")
	}
	appendRecords(t, p1, 1, 1)
	if p1.log.EndOffset() != 1 || p1.index != 1 || p1.topic != tp {
		t.Error("new partition not usable")
	}

	// v3: a valid assignment, validate only, and the errors.
	resp = do[*kmsg.CreatePartitionsResponse](t, b, 3, createPartitionsReq(false,
		cpTopic("t", 4, []int32{0}),
		cpTopic("nope", 2),
		cpTopic("dup", 2), cpTopic("dup", 3),
	))
	if len(resp.Topics) != 3 {
		t.Fatalf("%d answers, want 3 (a duplicate is answered once)", len(resp.Topics))
	}
	wantCode(t, "with assignment", resp.Topics[0].ErrorCode, nil)
	wantCode(t, "unknown", resp.Topics[1].ErrorCode, kerr.UnknownTopicOrPartition)
	wantCode(t, "duplicate", resp.Topics[2].ErrorCode, kerr.InvalidRequest)

	resp = do[*kmsg.CreatePartitionsResponse](t, b, 3, createPartitionsReq(true, cpTopic("t", 10)))
	wantCode(t, "validate only", resp.Topics[0].ErrorCode, nil)

	for _, tc := range []struct {
		what string
		rt   kmsg.CreatePartitionsRequestTopic
		want *kerr.Error
	}{
		{"same count", cpTopic("t", 4), kerr.InvalidPartitions},
		{"fewer", cpTopic("t", 2), kerr.InvalidPartitions},
		{"too many", cpTopic("t", maxPartitionsPerTopic+1), kerr.InvalidPartitions},
		{"assignment count", cpTopic("t", 6, []int32{0}), kerr.InvalidReplicaAssignment},
		{"assignment other broker", cpTopic("t", 5, []int32{3}), kerr.InvalidReplicaAssignment},
		{"assignment two replicas", cpTopic("t", 5, []int32{0, 0}), kerr.InvalidReplicaAssignment},
		{"assignment empty", cpTopic("t", 5, []int32{}), kerr.InvalidReplicaAssignment},
	} {
		resp = do[*kmsg.CreatePartitionsResponse](t, b, 1, createPartitionsReq(false, tc.rt))
		wantCode(t, tc.what, resp.Topics[0].ErrorCode, tc.want)
		if resp.Topics[0].ErrorMessage == nil {
			t.Errorf("%s: no message", tc.what)
		}
	}
	if n := len(tp.partitionList()); n != 4 {
		t.Errorf("%d partitions, want 4", n)
	}
	// New partitions get the topic's log settings.
	if tp.partition(3).log == nil {
		t.Error("partition 3 has no log")
	}
}

func TestDescribeCluster(t *testing.T) {
	b := newAdminBroker(t, func(c *config.Config) { c.NodeID = 3 })
	resp := do[*kmsg.DescribeClusterResponse](t, b, 0, kmsg.NewPtrDescribeClusterRequest())
	if resp.ErrorCode != 0 || resp.ClusterID != b.meta.clusterID() || resp.ControllerID != 3 ||
		len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 3 || resp.ClusterAuthorizedOperations != opsNotAsked {
		t.Errorf("v0: %+v", resp)
	}
	req := kmsg.NewPtrDescribeClusterRequest()
	req.IncludeClusterAuthorizedOperations, req.EndpointType, req.IncludeFencedBrokers = true, 2, true
	resp = do[*kmsg.DescribeClusterResponse](t, b, 2, req)
	if resp.ErrorCode != 0 || resp.EndpointType != 2 || resp.ClusterAuthorizedOperations != allClusterOps ||
		len(resp.Brokers) != 1 || resp.Brokers[0].IsFenced {
		t.Errorf("v2 controllers: %+v", resp)
	}
	req.EndpointType = 5
	resp = do[*kmsg.DescribeClusterResponse](t, b, 1, req)
	wantCode(t, "endpoint 5", resp.ErrorCode, kerr.UnsupportedEndpointType)
}

func TestDescribeTopicPartitions(t *testing.T) {
	b := newAdminBroker(t)
	a := mustCreateTopic(t, b, "a", 3, nil)
	mustCreateTopic(t, b, "b", 2, nil)
	mustCreateTopic(t, b, "c", 1, nil)

	type pos struct {
		topic string
		part  int32
	}
	flatten := func(resp *kmsg.DescribeTopicPartitionsResponse) []pos {
		var out []pos
		for _, tp := range resp.Topics {
			for _, p := range tp.Partitions {
				out = append(out, pos{*tp.Topic, p.Partition})
			}
		}
		return out
	}
	req := func(limit int32, cursor *pos, topics ...string) *kmsg.DescribeTopicPartitionsRequest {
		r := kmsg.NewPtrDescribeTopicPartitionsRequest()
		r.ResponsePartitionLimit = limit
		for _, name := range topics {
			rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
			rt.Topic = name
			r.Topics = append(r.Topics, rt)
		}
		if cursor != nil {
			c := kmsg.NewDescribeTopicPartitionsRequestCursor()
			c.Topic, c.Partition = cursor.topic, cursor.part
			r.Cursor = &c
		}
		return r
	}

	// All topics, four at a time.
	resp := do[*kmsg.DescribeTopicPartitionsResponse](t, b, 0, req(4, nil))
	if got, want := flatten(resp), []pos{{"a", 0}, {"a", 1}, {"a", 2}, {"b", 0}}; !slices.Equal(got, want) {
		t.Fatalf("page 1: %v, want %v", got, want)
	}
	if nc := resp.NextCursor; nc == nil || nc.Topic != "b" || nc.Partition != 1 {
		t.Fatalf("page 1 cursor: %+v", nc)
	}
	top := resp.Topics[0]
	if top.TopicID != a.id || top.AuthorizedOperations != allTopicOps || top.IsInternal {
		t.Errorf("topic a: %+v", top)
	}
	p := top.Partitions[0]
	if p.LeaderID != 0 || p.LeaderEpoch != 0 || !slices.Equal(p.Replicas, []int32{0}) || !slices.Equal(p.ISR, []int32{0}) ||
		len(p.EligibleLeaderReplicas) != 0 || len(p.OfflineReplicas) != 0 {
		t.Errorf("partition a-0: %+v", p)
	}
	resp = do[*kmsg.DescribeTopicPartitionsResponse](t, b, 0, req(4, &pos{"b", 1}))
	if got, want := flatten(resp), []pos{{"b", 1}, {"c", 0}}; !slices.Equal(got, want) || resp.NextCursor != nil {
		t.Fatalf("page 2: %v (cursor %+v), want %v", got, resp.NextCursor, want)
	}

	// A page that ends exactly at a topic's end points at the next topic.
	resp = do[*kmsg.DescribeTopicPartitionsResponse](t, b, 0, req(3, nil))
	if nc := resp.NextCursor; nc == nil || nc.Topic != "b" || nc.Partition != 0 || len(resp.Topics) != 1 {
		t.Errorf("exact page: topics %d, cursor %+v", len(resp.Topics), nc)
	}

	// Named topics, sorted, with an unknown one.
	resp = do[*kmsg.DescribeTopicPartitionsResponse](t, b, 0, req(2000, nil, "c", "zz", "a", "c"))
	var names []string
	for _, tp := range resp.Topics {
		names = append(names, *tp.Topic)
	}
	if !slices.Equal(names, []string{"a", "c", "zz"}) {
		t.Fatalf("named: %v", names)
	}
	wantCode(t, "zz", resp.Topics[2].ErrorCode, kerr.UnknownTopicOrPartition)

	// A cursor outside the named topics.
	resp = do[*kmsg.DescribeTopicPartitionsResponse](t, b, 0, req(10, &pos{"b", 0}, "a"))
	if len(resp.Topics) != 1 {
		t.Fatalf("bad cursor: %+v", resp.Topics)
	}
	wantCode(t, "bad cursor", resp.Topics[0].ErrorCode, kerr.InvalidRequest)
}

func TestKafkaVersionCapsApiVersions(t *testing.T) {
	cfg := config.Default()
	cfg.Memory = true
	cfg.KafkaVersion = "2.8"
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1"
	resp := b.Handle(context.Background(), &protocol.Request{Key: 18, Version: 3, Body: req, Parsed: true, Conn: &protocol.ConnInfo{}}).Resp.(*kmsg.ApiVersionsResponse)
	got := map[int16]int16{}
	for _, k := range resp.ApiKeys {
		got[k.ApiKey] = k.MaxVersion
	}
	// Kafka 2.8 served Produce v9, Fetch v12, Metadata v11 and no
	// DescribeTopicPartitions.
	if got[0] != 9 || got[1] != 12 || got[3] != 11 {
		t.Fatalf("capped versions: produce %d fetch %d metadata %d", got[0], got[1], got[3])
	}
	if _, ok := got[75]; ok {
		t.Fatal("DescribeTopicPartitions advertised for Kafka 2.8")
	}
	if b.Supported(0, 10) {
		t.Fatal("Produce v10 accepted under a 2.8 cap")
	}
	cfg.KafkaVersion = "9.9"
	if _, err := New(cfg); err == nil {
		t.Fatal("unknown Kafka version accepted")
	}
}
