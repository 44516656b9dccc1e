package broker

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/moldau/moldau/broker/acl"
	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/broker/telemetry"
	"github.com/moldau/moldau/log/records"
	"github.com/moldau/moldau/protocol"
)

// telemetryBroker is a broker with a registry and a clock the test moves.
type telemetryBroker struct {
	*Broker
	reg  *prometheus.Registry
	now  atomic.Int64 // ms
	conn *protocol.ConnInfo
}

func newTelemetryBroker(t *testing.T, dataDir string, mut ...func(*config.Config)) *telemetryBroker {
	t.Helper()
	cfg := config.Default()
	for _, m := range mut {
		m(&cfg)
	}
	if dataDir == "" {
		cfg.Memory = true
	} else {
		cfg.DataDir = dataDir
	}
	tb := &telemetryBroker{reg: prometheus.NewRegistry(),
		conn: &protocol.ConnInfo{Remote: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 40001}}}
	tb.now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	b, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), WithRegisterer(tb.reg),
		WithClock(func() time.Time { return time.UnixMilli(tb.now.Load()) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	tb.Broker = b
	return tb
}

// call sends req as client "app" (software apache-kafka-java 4.4.0, told
// by an ApiVersions v3 on the same connection first).
func (tb *telemetryBroker) call(t *testing.T, req kmsg.Request) kmsg.Response {
	t.Helper()
	reply := tb.Handle(context.Background(), &protocol.Request{Key: req.Key(), Version: req.GetVersion(), Body: req,
		Parsed: true, ClientID: "app", Conn: tb.conn})
	if reply.Resp == nil {
		t.Fatalf("key %d: no response", req.Key())
	}
	return reply.Resp
}

func (tb *telemetryBroker) hello(t *testing.T) {
	av := kmsg.NewPtrApiVersionsRequest()
	av.SetVersion(3)
	av.ClientSoftwareName, av.ClientSoftwareVersion = "apache-kafka-java", "4.4.0"
	tb.call(t, av)
}

func incrementalClientMetrics(name string, ops ...any) *kmsg.IncrementalAlterConfigsRequest {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeClientMetrics, name
	for i := 0; i+2 < len(ops)+1; i += 3 {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op = ops[i].(string), ops[i+1].(kmsg.IncrementalAlterConfigOp)
		if v, ok := ops[i+2].(string); ok {
			c.Value = &v
		}
		rr.Configs = append(rr.Configs, c)
	}
	req.Resources = append(req.Resources, rr)
	return req
}

func describeClientMetricsConfigs(t *testing.T, b *Broker, name string) map[string]string {
	t.Helper()
	resp := do[*kmsg.DescribeConfigsResponse](t, b, 4, describeConfigsReq(kmsg.ConfigResourceTypeClientMetrics, name))
	r := resp.Resources[0]
	if r.ErrorCode != 0 {
		t.Fatalf("describe %s: %v", name, kerr.ErrorForCode(r.ErrorCode))
	}
	out := map[string]string{}
	for _, c := range r.Configs {
		if c.Source != kmsg.ConfigSourceClientMetricsConfig {
			t.Errorf("%s source %v", c.Name, c.Source)
		}
		out[c.Name] = *c.Value
	}
	return out
}

func alterCode(t *testing.T, b *Broker, req *kmsg.IncrementalAlterConfigsRequest) int16 {
	t.Helper()
	return do[*kmsg.IncrementalAlterConfigsResponse](t, b, 1, req).Resources[0].ErrorCode
}

func TestClientMetricsResources(t *testing.T) {
	dir := t.TempDir()
	tb := newTelemetryBroker(t, dir)
	set, del := kmsg.IncrementalAlterConfigOpSet, kmsg.IncrementalAlterConfigOpDelete
	app := kmsg.IncrementalAlterConfigOpAppend
	if c := alterCode(t, tb.Broker, incrementalClientMetrics("sub", "metrics", set, "org.apache.kafka.producer.",
		"interval.ms", set, "1000", "match", set, "client_id=app.*")); c != 0 {
		t.Fatalf("set: %v", kerr.ErrorForCode(c))
	}
	if c := alterCode(t, tb.Broker, incrementalClientMetrics("sub", "metrics", app, "org.apache.kafka.consumer.")); c != 0 {
		t.Fatalf("append: %v", kerr.ErrorForCode(c))
	}
	for _, tc := range []struct {
		req  *kmsg.IncrementalAlterConfigsRequest
		want *kerr.Error
	}{
		{incrementalClientMetrics("sub", "interval.ms", set, "50"), kerr.InvalidRequest},
		{incrementalClientMetrics("sub", "bogus", set, "1"), kerr.InvalidRequest},
		{incrementalClientMetrics("sub", "match", set, "client_rack=a"), kerr.InvalidConfig},
		{incrementalClientMetrics("sub", "interval.ms", app, "5"), kerr.InvalidConfig},
		{incrementalClientMetrics("sub", "bogus", app, "5"), kerr.InvalidRequest},
		{incrementalClientMetrics("", "metrics", set, "*"), kerr.InvalidRequest},
	} {
		if c := alterCode(t, tb.Broker, tc.req); c != tc.want.Code {
			t.Errorf("%+v: %v, want %v", tc.req.Resources[0].Configs, kerr.ErrorForCode(c), tc.want)
		}
	}
	want := map[string]string{"metrics": "org.apache.kafka.producer.,org.apache.kafka.consumer.", "interval.ms": "1000", "match": "client_id=app.*"}
	if got := describeClientMetricsConfigs(t, tb.Broker, "sub"); !mapsEqual(got, want) {
		t.Errorf("describe: %v, want %v", got, want)
	}
	if got := describeClientMetricsConfigs(t, tb.Broker, "other"); len(got) != 0 {
		t.Errorf("unknown subscription: %v", got)
	}
	// AlterConfigs replaces the whole set.
	s := kmsg.StringPtr
	if r := do[*kmsg.AlterConfigsResponse](t, tb.Broker, 2, alterReq(kmsg.ConfigResourceTypeClientMetrics, "sub2", s("metrics"), s("*"))).Resources[0]; r.ErrorCode != 0 {
		t.Fatalf("alter: %+v", r)
	}
	if got := tb.clientMetricsResources(); strings.Join(got, ",") != "sub,sub2" {
		t.Errorf("resources: %v", got)
	}
	// Durable: a restart keeps them.
	_ = tb.Close(context.Background())
	tb = newTelemetryBroker(t, dir)
	if got := describeClientMetricsConfigs(t, tb.Broker, "sub"); !mapsEqual(got, want) {
		t.Errorf("after restart: %v, want %v", got, want)
	}
	// Deleting every config deletes the subscription.
	if c := alterCode(t, tb.Broker, incrementalClientMetrics("sub2", "metrics", del, nil)); c != 0 {
		t.Fatalf("delete: %v", kerr.ErrorForCode(c))
	}
	if got := tb.clientMetricsResources(); strings.Join(got, ",") != "sub" {
		t.Errorf("resources after delete: %v", got)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestClientMetricsEntityFormat(t *testing.T) {
	in := map[string]string{"metrics": "a,b", "interval.ms": "100", "match": ""}
	out, err := decodeClientMetrics(encodeClientMetrics(in))
	if err != nil || !mapsEqual(in, out) {
		t.Fatalf("round trip: %v %v", out, err)
	}
	enc := encodeClientMetrics(in)
	for _, bad := range [][]byte{nil, {1}, enc[:len(enc)-1], append(append([]byte{}, enc...), 0)} {
		if _, err := decodeClientMetrics(bad); err == nil {
			t.Errorf("%x decoded", bad)
		}
	}
}

func otlpPayload(t *testing.T, value float64) []byte {
	t.Helper()
	md := &metricspb.MetricsData{ResourceMetrics: []*metricspb.ResourceMetrics{{ScopeMetrics: []*metricspb.ScopeMetrics{{
		Metrics: []*metricspb.Metric{
			{Name: "org.apache.kafka.producer.record.queue.time.avg", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{
				DataPoints: []*metricspb.NumberDataPoint{{Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: value}}}}}},
			{Name: "org.apache.kafka.producer.topic.record.send.total", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
				IsMonotonic: true, AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
				DataPoints: []*metricspb.NumberDataPoint{{Value: &metricspb.NumberDataPoint_AsInt{AsInt: 5},
					Attributes: []*commonpb.KeyValue{{Key: "topic", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "orders"}}}}}}}}},
			{Name: "org.apache.kafka.consumer.fetch.total", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{
				DataPoints: []*metricspb.NumberDataPoint{{Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 1}}}}}},
		}}}}}}
	raw, err := proto.Marshal(md)
	if err != nil {
		t.Fatal(err)
	}
	z, err := records.Compress(records.CodecZstd, nil, raw, false)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// gathered returns the value of the series name whose labels include want.
func gathered(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metrics
				}
			}
			return metricValue(m), true
		}
	}
	return 0, false
}

func metricValue(m *dto.Metric) float64 {
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

func TestTelemetryPushFlow(t *testing.T) {
	tb := newTelemetryBroker(t, "")
	tb.hello(t)
	set := kmsg.IncrementalAlterConfigOpSet
	if c := alterCode(t, tb.Broker, incrementalClientMetrics("sub", "metrics", set, "org.apache.kafka.producer.",
		"interval.ms", set, "1000", "match", set, "client_software_name=apache-kafka-java,client_source_address=10\\.1\\..*")); c != 0 {
		t.Fatalf("set: %v", kerr.ErrorForCode(c))
	}
	get := kmsg.NewPtrGetTelemetrySubscriptionsRequest()
	g := tb.call(t, get).(*kmsg.GetTelemetrySubscriptionsResponse)
	if g.ErrorCode != 0 || g.ClientInstanceID == ([16]byte{}) || g.PushIntervalMillis != 1000 || !g.DeltaTemporality ||
		g.TelemetryMaxBytes != 1<<20 || len(g.RequestedMetrics) != 1 || g.RequestedMetrics[0] != "org.apache.kafka.producer." ||
		len(g.AcceptedCompressionTypes) != 4 {
		t.Fatalf("get: %+v", g)
	}
	instance := g.ClientInstanceID
	get.ClientInstanceID = instance
	if g2 := tb.call(t, get).(*kmsg.GetTelemetrySubscriptionsResponse); g2.ErrorCode != kerr.ThrottlingQuotaExceeded.Code {
		t.Errorf("second get at once: %v", kerr.ErrorForCode(g2.ErrorCode))
	}
	pushCode := func(subID int32, codec int8, metrics []byte, terminating bool) int16 {
		p := kmsg.NewPtrPushTelemetryRequest()
		p.ClientInstanceID, p.SubscriptionID, p.CompressionType, p.Metrics, p.Terminating = instance, subID, codec, metrics, terminating
		return tb.call(t, p).(*kmsg.PushTelemetryResponse).ErrorCode
	}
	if c := pushCode(g.SubscriptionID, 4, otlpPayload(t, 2.5), false); c != 0 {
		t.Fatalf("push: %v", kerr.ErrorForCode(c))
	}
	labels := map[string]string{"client_id": "app", "client_instance_id": telemetry.UUIDString(instance)}
	if v, ok := gathered(t, tb.reg, "kafka_client_producer_record_queue_time_avg", labels); !ok || v != 2.5 {
		t.Errorf("gauge: %v %v", v, ok)
	}
	labels["topic"] = "orders"
	if v, ok := gathered(t, tb.reg, "kafka_client_producer_topic_record_send_total", labels); !ok || v != 5 {
		t.Errorf("counter: %v %v", v, ok)
	}
	if _, ok := gathered(t, tb.reg, "kafka_client_consumer_fetch_total", nil); ok {
		t.Error("an unsubscribed metric is exposed")
	}
	if c := pushCode(g.SubscriptionID, 4, otlpPayload(t, 3), false); c != kerr.ThrottlingQuotaExceeded.Code {
		t.Errorf("early push: %v", kerr.ErrorForCode(c))
	}
	tb.now.Add(1000)
	if c := pushCode(g.SubscriptionID, 4, otlpPayload(t, 3), false); c != 0 {
		t.Fatalf("second push: %v", kerr.ErrorForCode(c))
	}
	if v, _ := gathered(t, tb.reg, "kafka_client_producer_topic_record_send_total", labels); v != 10 {
		t.Errorf("delta counter after two pushes: %v", v)
	}
	for _, tc := range []struct {
		subID   int32
		codec   int8
		metrics []byte
		want    *kerr.Error
	}{
		{g.SubscriptionID + 1, 0, nil, kerr.UnknownSubscriptionID},
		{g.SubscriptionID, 9, []byte{1}, kerr.UnsupportedCompressionType},
		{g.SubscriptionID, 0, make([]byte, 1<<20+1), kerr.TelemetryTooLarge},
		{g.SubscriptionID, 0, []byte{0xff, 0xff, 0xff}, kerr.InvalidRecord},
		{g.SubscriptionID, 1, []byte("not gzip"), kerr.InvalidRecord},
	} {
		tb.now.Add(1000)
		if c := pushCode(tc.subID, tc.codec, tc.metrics, false); c != tc.want.Code {
			t.Errorf("push codec %d sub %d len %d: %v, want %v", tc.codec, tc.subID, len(tc.metrics), kerr.ErrorForCode(c), tc.want)
		}
	}
	// A terminating push drops the client's series; later pushes are refused.
	if c := pushCode(g.SubscriptionID, 0, nil, true); c != 0 {
		t.Fatalf("terminating push: %v", kerr.ErrorForCode(c))
	}
	if _, ok := gathered(t, tb.reg, "kafka_client_producer_record_queue_time_avg", nil); ok {
		t.Error("series kept after the terminating push")
	}
	tb.now.Add(5000)
	if c := pushCode(g.SubscriptionID, 0, nil, false); c != kerr.InvalidRequest.Code {
		t.Errorf("push after terminating: %v", kerr.ErrorForCode(c))
	}
	if v, _ := gathered(t, tb.reg, "moldau_client_telemetry_pushes_total", map[string]string{"result": "ok"}); v != 3 {
		t.Errorf("pushes ok: %v", v)
	}
	// A client the subscription does not match gets no metrics and the
	// default interval.
	tb.conn = &protocol.ConnInfo{Remote: &net.TCPAddr{IP: net.IPv4(10, 9, 9, 9), Port: 1}}
	if g := tb.call(t, kmsg.NewPtrGetTelemetrySubscriptionsRequest()).(*kmsg.GetTelemetrySubscriptionsResponse); g.ErrorCode != 0 ||
		len(g.RequestedMetrics) != 0 || g.PushIntervalMillis != 300000 {
		t.Errorf("unmatched client: %+v", g)
	}
}

// FuzzClientMetricsEntity: any stored value decodes or fails, and what
// decodes encodes back to the same bytes (the encoding is canonical).
func FuzzClientMetricsEntity(f *testing.F) {
	f.Add(encodeClientMetrics(map[string]string{"metrics": "*", "interval.ms": "1000"}))
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeClientMetrics(b)
		if err != nil {
			return
		}
		if got := encodeClientMetrics(m); !bytes.Equal(got, b) {
			t.Fatalf("%x -> %v -> %x", b, m, got)
		}
	})
}

func TestTelemetryMaxBytesProperty(t *testing.T) {
	tb := newTelemetryBroker(t, "", func(c *config.Config) { c.Properties["telemetry.max.bytes"] = "100" })
	set := kmsg.IncrementalAlterConfigOpSet
	if c := alterCode(t, tb.Broker, incrementalClientMetrics("sub", "metrics", set, "*")); c != 0 {
		t.Fatalf("set: %v", kerr.ErrorForCode(c))
	}
	g := tb.call(t, kmsg.NewPtrGetTelemetrySubscriptionsRequest()).(*kmsg.GetTelemetrySubscriptionsResponse)
	if g.ErrorCode != 0 || g.TelemetryMaxBytes != 100 {
		t.Fatalf("get: %+v", g)
	}
	p := kmsg.NewPtrPushTelemetryRequest()
	p.ClientInstanceID, p.SubscriptionID, p.Metrics = g.ClientInstanceID, g.SubscriptionID, make([]byte, 101)
	if c := tb.call(t, p).(*kmsg.PushTelemetryResponse).ErrorCode; c != kerr.TelemetryTooLarge.Code {
		t.Errorf("101 bytes: %v", kerr.ErrorForCode(c))
	}
}

// TestTelemetryACLs: CLIENT_METRICS resources need ALTER_CONFIGS and
// DESCRIBE_CONFIGS on the cluster, as Kafka; GetTelemetrySubscriptions and
// PushTelemetry need no ACL.
func TestTelemetryACLs(t *testing.T) {
	_, addr := newACLBroker(t)
	ctx := context.Background()
	admin := newPrincipalClient(t, addr, "admin")
	createACLs(t, admin, clusterGrant(acl.OpAlterConfigs).binding("User:carol"), clusterGrant(acl.OpDescribeConfigs).binding("User:carol"))
	alter := func(user string) int16 {
		resp, err := incrementalClientMetrics("sub", "metrics", kmsg.IncrementalAlterConfigOpSet, "*").RequestWith(ctx, newPrincipalClient(t, addr, user))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Resources[0].ErrorCode
	}
	describe := func(user string) int16 {
		resp, err := describeConfigsReq(kmsg.ConfigResourceTypeClientMetrics, "sub").RequestWith(ctx, newPrincipalClient(t, addr, user))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Resources[0].ErrorCode
	}
	if c := alter("stranger"); c != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("alter without ALTER_CONFIGS: %v", kerr.ErrorForCode(c))
	}
	if c := describe("stranger"); c != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("describe without DESCRIBE_CONFIGS: %v", kerr.ErrorForCode(c))
	}
	if c := alter("carol"); c != 0 {
		t.Errorf("alter with ALTER_CONFIGS: %v", kerr.ErrorForCode(c))
	}
	if c := describe("carol"); c != 0 {
		t.Errorf("describe with DESCRIBE_CONFIGS: %v", kerr.ErrorForCode(c))
	}
	stranger := newPrincipalClient(t, addr, "stranger")
	g, err := kmsg.NewPtrGetTelemetrySubscriptionsRequest().RequestWith(ctx, stranger)
	if err != nil || g.ErrorCode != 0 || len(g.RequestedMetrics) != 1 {
		t.Fatalf("get without ACLs: %v %+v", err, g)
	}
	p := kmsg.NewPtrPushTelemetryRequest()
	p.ClientInstanceID, p.SubscriptionID = g.ClientInstanceID, g.SubscriptionID
	if r, err := p.RequestWith(ctx, stranger); err != nil || r.ErrorCode != 0 {
		t.Fatalf("push without ACLs: %v %+v", err, r)
	}
}

// emptyAttributesOTLP is an OTLP MetricsData of one gauge point with n
// empty attributes (2 bytes each on the wire), zstd-compressed.
func emptyAttributesOTLP(t *testing.T, n int) []byte {
	t.Helper()
	msg := func(num protowire.Number, body []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), body)
	}
	point := make([]byte, 0, 2*n)
	for range n {
		point = protowire.AppendVarint(protowire.AppendTag(point, 7, protowire.BytesType), 0)
	}
	metric := append(msg(1, []byte("org.apache.kafka.producer.x")), msg(5, msg(1, point))...)
	z, err := records.Compress(records.CodecZstd, nil, msg(1, msg(2, msg(2, metric))), false)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// TestPushTelemetryBounds: a payload that decompresses past 2 MiB is
// TELEMETRY_TOO_LARGE, one with too many elements INVALID_RECORD (both a
// few KiB of zstd, under telemetry.max.bytes), and a push finding both
// decode slots taken for 500 ms THROTTLING_QUOTA_EXCEEDED.
func TestPushTelemetryBounds(t *testing.T) {
	tb := newTelemetryBroker(t, "")
	tb.hello(t)
	if c := alterCode(t, tb.Broker, incrementalClientMetrics("sub", "metrics", kmsg.IncrementalAlterConfigOpSet, "*",
		"interval.ms", kmsg.IncrementalAlterConfigOpSet, "1000")); c != 0 {
		t.Fatalf("set: %v", kerr.ErrorForCode(c))
	}
	g := tb.call(t, kmsg.NewPtrGetTelemetrySubscriptionsRequest()).(*kmsg.GetTelemetrySubscriptionsResponse)
	if g.ErrorCode != 0 {
		t.Fatalf("get: %v", kerr.ErrorForCode(g.ErrorCode))
	}
	push := func(metrics []byte) int16 {
		tb.now.Add(1000)
		p := kmsg.NewPtrPushTelemetryRequest()
		p.ClientInstanceID, p.SubscriptionID, p.CompressionType, p.Metrics = g.ClientInstanceID, g.SubscriptionID, 4, metrics
		return tb.call(t, p).(*kmsg.PushTelemetryResponse).ErrorCode
	}
	for _, tc := range []struct {
		attrs int
		want  int16
	}{
		{4 << 20, kerr.TelemetryTooLarge.Code},                      // 8 MiB
		{telemetry.MaxDecompressed/2 - 64, kerr.InvalidRecord.Code}, // just under 2 MiB
	} {
		z := emptyAttributesOTLP(t, tc.attrs)
		if len(z) > 1<<20 {
			t.Fatalf("%d attributes: %d bytes of zstd", tc.attrs, len(z))
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c := push(z)
		runtime.ReadMemStats(&after)
		if c != tc.want {
			t.Errorf("%d empty attributes: %v, want %v", tc.attrs, kerr.ErrorForCode(c), kerr.ErrorForCode(tc.want))
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
			t.Errorf("%d empty attributes: the push allocated %d bytes", tc.attrs, alloc)
		}
	}
	for range cap(telemetryDecodes) {
		telemetryDecodes <- struct{}{}
	}
	c := push(otlpPayload(t, 1))
	for range cap(telemetryDecodes) {
		<-telemetryDecodes
	}
	if c != kerr.ThrottlingQuotaExceeded.Code {
		t.Errorf("push with no decode slot: %v", kerr.ErrorForCode(c))
	}
	if c := push(otlpPayload(t, 1)); c != 0 {
		t.Errorf("push: %v", kerr.ErrorForCode(c))
	}
}
