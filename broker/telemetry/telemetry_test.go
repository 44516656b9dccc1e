package telemetry

import (
	"errors"
	"hash/crc32"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/moldau/moldau/log/records"
)

func mustParse(t *testing.T, name string, kv ...string) Subscription {
	t.Helper()
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	s, err := Parse(name, m)
	if err != nil {
		t.Fatalf("Parse %s %v: %v", name, kv, err)
	}
	return s
}

func TestParseValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		kv   map[string]string
		want error
	}{
		{"", map[string]string{}, ErrInvalidSubscription},
		{"s", map[string]string{"bogus": "1"}, ErrInvalidSubscription},
		{"s", map[string]string{KeyInterval: "99"}, ErrInvalidSubscription},
		{"s", map[string]string{KeyInterval: "3600001"}, ErrInvalidSubscription},
		{"s", map[string]string{KeyInterval: "ten"}, ErrInvalidConfig},
		{"s", map[string]string{KeyMatch: "client_id"}, ErrInvalidConfig},
		{"s", map[string]string{KeyMatch: "client_id=a=b"}, ErrInvalidConfig},
		{"s", map[string]string{KeyMatch: "client_rack=x"}, ErrInvalidConfig},
		{"s", map[string]string{KeyMatch: "client_id=a("}, ErrInvalidConfig},
		{"s", map[string]string{KeyInterval: "100", KeyMatch: "client_id=a.*, client_software_name=apache-kafka-java", KeyMetrics: "org.apache.kafka.producer., *"}, nil},
		{"s", map[string]string{KeyInterval: "3600000"}, nil},
	} {
		_, err := Parse(tc.name, tc.kv)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("Parse(%q, %v) = %v, want %v", tc.name, tc.kv, err, tc.want)
		}
	}
	s := mustParse(t, "s")
	if s.IntervalMs != DefaultIntervalMs || len(s.Metrics) != 0 || len(s.Match) != 0 {
		t.Errorf("defaults: %+v", s)
	}
}

func TestSelectors(t *testing.T) {
	id := [16]byte{1, 2, 3}
	c := ClientInfo{InstanceID: id, ClientID: "app-1", SoftwareName: "apache-kafka-java", SoftwareVersion: "4.4.0",
		SourceAddress: "10.0.0.7", SourcePort: "51234"}
	for _, tc := range []struct {
		match string
		want  bool
	}{
		{"", true},
		{"client_id=app-.*", true},
		{"client_id=app", false}, // the whole value must match
		{"client_id=pp-1", false},
		{"client_id=app-1|other", true},
		{"client_software_name=apache-kafka-java,client_software_version=4\\..*", true},
		{"client_software_name=apache-kafka-java,client_software_version=3\\..*", false},
		{"client_source_address=10\\.0\\.0\\.[0-9]+", true},
		{"client_source_port=51234", true},
		{"client_source_port=5123", false},
		{"client_instance_id=" + UUIDString(id), true},
		{"client_instance_id=" + UUIDString([16]byte{9}), false},
	} {
		s := mustParse(t, "s", KeyMatch, tc.match)
		if got := s.Matches(&c); got != tc.want {
			t.Errorf("match %q: %v, want %v", tc.match, got, tc.want)
		}
	}
}

func TestResolveAndSubscriptionID(t *testing.T) {
	id := [16]byte{15: 2}
	id[7] = 1 // high bits 1, low bits 2: Java's hashCode is 1^2 = 3
	c := ClientInfo{InstanceID: id, ClientID: "app"}
	subs := []Subscription{
		mustParse(t, "a", KeyMetrics, "org.apache.kafka.producer.", KeyInterval, "5000"),
		mustParse(t, "b", KeyMetrics, "org.apache.kafka.consumer.,org.apache.kafka.producer.", KeyInterval, "2000", KeyMatch, "client_id=app"),
		mustParse(t, "c", KeyMetrics, "*", KeyInterval, "100", KeyMatch, "client_id=other"),
	}
	p := Resolve(subs, &c)
	if !slices.Equal(p.Metrics, []string{"org.apache.kafka.consumer.", "org.apache.kafka.producer."}) || p.IntervalMs != 2000 {
		t.Fatalf("plan %+v", p)
	}
	crc := crc32.Checksum([]byte("[org.apache.kafka.consumer., org.apache.kafka.producer.]2000"), crc32.MakeTable(crc32.Castagnoli))
	if want := int32(crc) ^ 3; p.SubscriptionID != want {
		t.Errorf("subscription id %d, want %d", p.SubscriptionID, want)
	}
	c.ClientID = "other"
	if p := Resolve(subs, &c); !slices.Equal(p.Metrics, []string{"*"}) || p.IntervalMs != 100 {
		t.Errorf("all metrics: %+v", p)
	}
	c.ClientID = "none"
	none := Resolve(subs[1:], &c)
	if len(none.Metrics) != 0 || none.IntervalMs != DefaultIntervalMs {
		t.Errorf("no match: %+v", none)
	}
	if other := Resolve(subs[1:], &ClientInfo{InstanceID: [16]byte{5}, ClientID: "none"}); other.SubscriptionID == none.SubscriptionID {
		t.Error("subscription id does not depend on the instance")
	}
	if !Selected([]string{"org.apache.kafka.producer."}, "org.apache.kafka.producer.record.queue.time.avg") ||
		Selected([]string{"org.apache.kafka.producer."}, "org.apache.kafka.consumer.x") || !Selected([]string{"*"}, "x") || Selected(nil, "x") {
		t.Error("Selected")
	}
}

func TestInstanceRules(t *testing.T) {
	in := NewInstances(0, 0)
	in.SetSubscriptions([]Subscription{mustParse(t, "s", KeyMetrics, "*", KeyInterval, "1000")})
	info := ClientInfo{ClientID: "app"}
	now := int64(1_000_000)

	a, err := in.Get([16]byte{}, info, now)
	if err != nil || a.InstanceID == ([16]byte{}) || a.Plan.IntervalMs != 1000 {
		t.Fatalf("first get: %+v %v", a, err)
	}
	id := a.InstanceID
	if _, err := in.Get(id, info, now+500); !errors.Is(err, ErrThrottled) {
		t.Errorf("get within the interval: %v", err)
	}
	push := Push{InstanceID: id, SubscriptionID: a.Plan.SubscriptionID, Codec: CodecZstd, Size: 10}
	// The first push after a get is accepted whatever the time.
	if _, _, err := in.Push(push, info, 100, now+600); err != nil {
		t.Fatalf("push after get: %v", err)
	}
	if _, _, err := in.Push(push, info, 100, now+1500); !errors.Is(err, ErrThrottled) {
		t.Errorf("push 900 ms after the last: %v", err)
	}
	if _, _, err := in.Push(push, info, 100, now+2700); err != nil {
		t.Errorf("push an interval after the last: %v", err)
	}
	bad := push
	bad.SubscriptionID++
	if _, _, err := in.Push(bad, info, 100, now+3800); !errors.Is(err, ErrUnknownSubscription) {
		t.Errorf("stale subscription id: %v", err)
	}
	// After UNKNOWN_SUBSCRIPTION_ID the client may fetch again at once.
	if _, err := in.Get(id, info, now+3801); err != nil {
		t.Errorf("get after unknown subscription: %v", err)
	}
	codec := push
	codec.Codec = 7
	if _, _, err := in.Push(codec, info, 100, now+3900); !errors.Is(err, ErrUnsupportedCodec) {
		t.Errorf("codec 7: %v", err)
	}
	if _, err := in.Get(id, info, now+3901); err != nil {
		t.Errorf("get after unsupported compression: %v", err)
	}
	big := push
	big.Size = 101
	if _, _, err := in.Push(big, info, 100, now+4000); !errors.Is(err, ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
	term := push
	term.Terminating = true
	if _, _, err := in.Push(term, info, 100, now+4001); err != nil { // early, but terminating
		t.Errorf("terminating push: %v", err)
	}
	if _, _, err := in.Push(push, info, 100, now+9000); !errors.Is(err, ErrTerminated) {
		t.Errorf("push after terminating: %v", err)
	}
	if _, _, err := in.Push(Push{}, info, 100, now); !errors.Is(err, ErrInvalidInstance) {
		t.Errorf("zero instance id: %v", err)
	}

	// A subscription change re-resolves the plan and resets the timers.
	b, err := in.Get([16]byte{}, info, now)
	if err != nil {
		t.Fatal(err)
	}
	in.SetSubscriptions([]Subscription{mustParse(t, "s", KeyMetrics, "org.apache.kafka.producer.", KeyInterval, "5000")})
	c, err := in.Get(b.InstanceID, info, now+10)
	if err != nil || c.Plan.IntervalMs != 5000 || c.Plan.SubscriptionID == b.Plan.SubscriptionID {
		t.Errorf("after a subscription change: %+v %v", c, err)
	}
	if _, _, err := in.Push(Push{InstanceID: b.InstanceID, SubscriptionID: b.Plan.SubscriptionID}, info, 100, now+20); !errors.Is(err, ErrUnknownSubscription) {
		t.Errorf("push with the old subscription id: %v", err)
	}
}

func TestInstanceExpiryAndCap(t *testing.T) {
	in := NewInstances(2, 1000)
	for i := range 3 {
		if _, err := in.Get([16]byte{}, ClientInfo{}, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if in.Len() != 2 {
		t.Errorf("cap 2: %d instances", in.Len())
	}
	// The default interval is 300000 ms: an instance lives 3 of them.
	if _, err := in.Get([16]byte{}, ClientInfo{}, 900_003); err != nil || in.Len() != 1 {
		t.Errorf("after expiry: %d instances, %v", in.Len(), err)
	}
}

func kv(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func testMetricsData() []byte {
	md := &metricspb.MetricsData{ResourceMetrics: []*metricspb.ResourceMetrics{{
		ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{
			{Name: "org.apache.kafka.producer.record.queue.time.avg", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{
				DataPoints: []*metricspb.NumberDataPoint{{Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 1.5},
					Attributes: []*commonpb.KeyValue{kv("client_id", "spoof"), kv("node.id", "1")}}}}}},
			{Name: "org.apache.kafka.producer.topic.record.send.total", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
				IsMonotonic: true, AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
				DataPoints: []*metricspb.NumberDataPoint{{Value: &metricspb.NumberDataPoint_AsInt{AsInt: 7},
					Attributes: []*commonpb.KeyValue{kv("topic", "t"), kv("partition", "0")}}}}}},
			{Name: "org.apache.kafka.consumer.fetch.latency", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
				AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
				DataPoints:             []*metricspb.HistogramDataPoint{{Count: 4, Sum: proto.Float64(10)}}}}},
		}}},
	}}}
	b, err := proto.Marshal(md)
	if err != nil {
		panic(err)
	}
	return b
}

func TestDecode(t *testing.T) {
	samples, dropped, err := Decode(testMetricsData())
	if err != nil || dropped != 0 {
		t.Fatalf("Decode: %v, %d dropped", err, dropped)
	}
	want := []Sample{
		{Metric: "org.apache.kafka.producer.record.queue.time.avg", Kind: KindGauge, Value: 1.5, Labels: []Label{{"node_id", "1"}}},
		{Metric: "org.apache.kafka.producer.topic.record.send.total", Kind: KindCounter, Delta: true, Value: 7,
			Labels: []Label{{"partition", "0"}, {"topic", "t"}}},
		{Metric: "org.apache.kafka.consumer.fetch.latency.count", Kind: KindCounter, Value: 4},
		{Metric: "org.apache.kafka.consumer.fetch.latency.sum", Kind: KindCounter, Value: 10},
	}
	if len(samples) != len(want) {
		t.Fatalf("samples %+v", samples)
	}
	for i := range want {
		g, w := samples[i], want[i]
		if g.Metric != w.Metric || g.Kind != w.Kind || g.Delta != w.Delta || g.Value != w.Value || !slices.Equal(g.Labels, w.Labels) {
			t.Errorf("sample %d: %+v, want %+v", i, g, w)
		}
	}
	if _, _, err := Decode([]byte{0xff, 0xff, 0xff}); !errors.Is(err, ErrInvalidMetrics) {
		t.Errorf("garbage: %v", err)
	}
	if PromName("org.apache.kafka.producer.record.queue.time.avg") != "kafka_client_producer_record_queue_time_avg" ||
		PromName("librdkafka.x-y") != "kafka_client_librdkafka_x_y" || SanitizeName("1a") != "_1a" {
		t.Error("PromName")
	}
}

func TestStore(t *testing.T) {
	s := NewStore(3, 5)
	all := Plan{Metrics: []string{"*"}, IntervalMs: 1000}
	a := ClientInfo{InstanceID: [16]byte{1}, ClientID: "a"}
	cnt := func(v float64, delta bool) Sample {
		return Sample{Metric: "m.total", Kind: KindCounter, Delta: delta, Value: v}
	}
	s.Update(a, all, []Sample{cnt(2, true)}, false, 0)
	s.Update(a, all, []Sample{cnt(3, true)}, false, 1000)
	snap := s.Snapshot(1000)
	if len(snap) != 1 || snap[0].Value != 5 || snap[0].Name != "kafka_client_m_total" || snap[0].ClientID != "a" || snap[0].Instance != UUIDString(a.InstanceID) {
		t.Fatalf("delta sums: %+v", snap)
	}
	s.Update(a, all, []Sample{cnt(4, false)}, false, 1100)
	if snap := s.Snapshot(1100); snap[0].Value != 4 {
		t.Errorf("cumulative replaces: %+v", snap)
	}
	// A gauge under a counter's name is dropped; the per-client cap holds.
	s.Update(a, all, []Sample{{Metric: "m.total", Kind: KindGauge, Value: 1, Labels: []Label{{"x", "1"}}},
		{Metric: "g", Value: 1}, {Metric: "h", Value: 1}, {Metric: "i", Value: 1}}, false, 1200)
	if st := s.Stats(); st.Series != 3 || st.DroppedSamples != 2 {
		t.Errorf("caps: %+v", st)
	}
	// Unselected samples are dropped.
	prod := Plan{Metrics: []string{"org.apache.kafka.producer."}, IntervalMs: 1000}
	b := ClientInfo{InstanceID: [16]byte{2}, ClientID: "b"}
	s.Update(b, prod, []Sample{{Metric: "org.apache.kafka.consumer.x", Value: 1}, {Metric: "org.apache.kafka.producer.x", Value: 1},
		{Metric: "org.apache.kafka.producer.y", Value: 1}}, false, 1300)
	if st := s.Stats(); st.Series != 5 || st.DroppedSamples != 3 {
		t.Errorf("unselected: %+v", st)
	}
	// Over the total cap: the client that pushed least recently goes.
	c := ClientInfo{InstanceID: [16]byte{3}, ClientID: "c"}
	s.Update(c, all, []Sample{{Metric: "z", Value: 1}}, false, 1400)
	if st := s.Stats(); st.Clients != 2 || st.Series != 3 || st.EvictedClients != 1 {
		t.Errorf("total cap: %+v", st)
	}
	for _, ser := range s.Snapshot(1400) {
		if ser.ClientID == "a" {
			t.Errorf("oldest client kept: %+v", ser)
		}
	}
	// 3 intervals without a push: expired.
	if snap := s.Snapshot(1300 + 3000 + 1); len(snap) != 1 || snap[0].ClientID != "c" {
		t.Errorf("expiry: %+v", snap)
	}
	// A terminating push drops the client.
	s.Update(c, all, nil, true, 1500)
	if st := s.Stats(); st.Clients != 0 || st.Series != 0 {
		t.Errorf("terminating: %+v", st)
	}
}

// FuzzDecode: any payload decodes or fails with ErrInvalidMetrics, never
// panics, and never yields more than MaxPoints samples or a NaN.
func FuzzDecode(f *testing.F) {
	f.Add(testMetricsData())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		samples, _, err := Decode(b)
		if err != nil && !errors.Is(err, ErrInvalidMetrics) {
			t.Fatal(err)
		}
		if len(samples) > MaxPoints {
			t.Fatalf("%d samples", len(samples))
		}
		for _, s := range samples {
			if s.Value != s.Value || len(s.Labels) > MaxLabels {
				t.Fatalf("sample %+v", s)
			}
		}
	})
}

// emptyAttributes is an OTLP MetricsData of one gauge point (1) with n empty
// attributes (2 bytes each on the wire), built by hand.
func emptyAttributes(n int) []byte {
	msg := func(num protowire.Number, body []byte) []byte {
		b := protowire.AppendTag(nil, num, protowire.BytesType)
		return protowire.AppendBytes(b, body)
	}
	point := protowire.AppendTag(make([]byte, 0, 2*n+9), 6, protowire.Fixed64Type) // as_int
	point = protowire.AppendFixed64(point, 1)
	for range n {
		point = protowire.AppendTag(point, 7, protowire.BytesType)
		point = protowire.AppendVarint(point, 0)
	}
	metric := append(msg(1, []byte("m")), msg(5, msg(1, point))...)
	return msg(1, msg(2, msg(2, metric)))
}

func TestDecodeBoundsAllocation(t *testing.T) {
	raw := emptyAttributes(4 << 20) // ~8 MiB
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	z := enc.EncodeAll(raw, nil)
	enc.Close()
	if len(z) > 1<<20 {
		t.Fatalf("zstd: %d bytes, want under telemetry.max.bytes", len(z))
	}
	// The broker refuses it while decompressing.
	if _, err := records.Decompress(records.CodecZstd, nil, z, MaxDecompressed); !errors.Is(err, records.ErrTooLarge) {
		t.Fatalf("decompress %d bytes: %v", len(raw), err)
	}
	// Decode itself refuses it (and one just under MaxDecompressed) before
	// unmarshalling: it allocates little.
	for _, p := range [][]byte{raw, emptyAttributes(MaxDecompressed/2 - 64)} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, err := Decode(p)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrInvalidMetrics) {
			t.Fatalf("Decode(%d bytes): %v", len(p), err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
			t.Errorf("Decode(%d bytes) allocated %d bytes", len(p), alloc)
		} else {
			t.Logf("Decode(%d bytes) refused, allocated %d bytes", len(p), alloc)
		}
	}
	// Under the element cap it decodes.
	if s, _, err := Decode(emptyAttributes(1000)); err != nil || len(s) != 1 {
		t.Fatalf("1000 attributes: %v, %+v", err, s)
	}
}

func TestDecodeNameCaps(t *testing.T) {
	long := strings.Repeat("x", MaxName+1)
	gauge := func(name string, attrs ...*commonpb.KeyValue) *metricspb.Metric {
		return &metricspb.Metric{Name: name, Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{
			DataPoints: []*metricspb.NumberDataPoint{{Value: &metricspb.NumberDataPoint_AsInt{AsInt: 1}, Attributes: attrs}}}}}
	}
	md := &metricspb.MetricsData{ResourceMetrics: []*metricspb.ResourceMetrics{{
		ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{
			gauge(long), gauge("ok.label", kv(long, "v")), gauge("ok", kv("a", "v")),
		}}}}}}
	b, err := proto.Marshal(md)
	if err != nil {
		t.Fatal(err)
	}
	s, dropped, err := Decode(b)
	if err != nil || dropped != 2 || len(s) != 1 || s[0].Metric != "ok" {
		t.Fatalf("Decode: %v, %d dropped, %+v", err, dropped, s)
	}
}
