package telemetry

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"
)

// Kind is how a decoded sample is exposed.
type Kind uint8

const (
	KindGauge   Kind = iota // the latest value
	KindCounter             // a monotonic total
)

// Label is one attribute of a sample: a Prometheus label name (already
// sanitised) and its value.
type Label struct{ Name, Value string }

// Sample is one decoded OTLP data point (or one part of a histogram or
// summary: its count or sum).
type Sample struct {
	Metric string // the OTLP metric name, with ".count"/".sum" for histograms and summaries
	Kind   Kind
	Delta  bool    // Value is an increment since the previous push (delta temporality)
	Value  float64 // never NaN
	Labels []Label // sorted by name, unique
}

// MaxPoints bounds the samples one push may decode to; the rest are
// dropped (and counted by the caller).
const MaxPoints = 20000

// Decode parses an OTLP MetricsData message (what a KIP-714 client pushes,
// after decompression) into samples: gauges as gauges; monotonic sums as
// counters and non-monotonic ones as gauges, with their temporality;
// histograms, exponential histograms and summaries as a ".count" and a
// ".sum" counter. Data point attributes become labels (keys sanitised;
// resource and scope attributes are not used). At most MaxPoints samples
// are returned; dropped is how many more there were.
//
// Before unmarshalling, the payload is walked (CheckElements) and refused
// with more than MaxElements elements, bounding what Unmarshal allocates.
// A metric whose name, or a point with an attribute key, longer than
// MaxName bytes is dropped (each of its points counted in dropped).
func Decode(b []byte) (samples []Sample, dropped int, err error) {
	if err := CheckElements(b, MaxElements); err != nil {
		return nil, 0, err
	}
	var md metricspb.MetricsData
	if err := proto.Unmarshal(b, &md); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrInvalidMetrics, err)
	}
	add := func(s Sample) {
		if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
			dropped++
			return
		}
		if len(samples) >= MaxPoints {
			dropped++
			return
		}
		samples = append(samples, s)
	}
	for _, rm := range md.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				name := m.GetName()
				if name == "" {
					dropped++
					continue
				}
				if len(name) > MaxName {
					dropped += points(m)
					continue
				}
				switch d := m.GetData().(type) {
				case *metricspb.Metric_Gauge:
					for _, p := range d.Gauge.GetDataPoints() {
						ls, ok := labels(p.GetAttributes())
						if !ok {
							dropped++
							continue
						}
						add(Sample{Metric: name, Kind: KindGauge, Value: numberValue(p), Labels: ls})
					}
				case *metricspb.Metric_Sum:
					kind := KindGauge
					if d.Sum.GetIsMonotonic() {
						kind = KindCounter
					}
					delta := d.Sum.GetAggregationTemporality() == metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
					for _, p := range d.Sum.GetDataPoints() {
						ls, ok := labels(p.GetAttributes())
						if !ok {
							dropped++
							continue
						}
						add(Sample{Metric: name, Kind: kind, Delta: delta, Value: numberValue(p), Labels: ls})
					}
				case *metricspb.Metric_Histogram:
					delta := d.Histogram.GetAggregationTemporality() == metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
					for _, p := range d.Histogram.GetDataPoints() {
						ls, ok := labels(p.GetAttributes())
						if !ok {
							dropped++
							continue
						}
						add(Sample{Metric: name + ".count", Kind: KindCounter, Delta: delta, Value: float64(p.GetCount()), Labels: ls})
						add(Sample{Metric: name + ".sum", Kind: KindCounter, Delta: delta, Value: p.GetSum(), Labels: ls})
					}
				case *metricspb.Metric_ExponentialHistogram:
					delta := d.ExponentialHistogram.GetAggregationTemporality() == metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
					for _, p := range d.ExponentialHistogram.GetDataPoints() {
						ls, ok := labels(p.GetAttributes())
						if !ok {
							dropped++
							continue
						}
						add(Sample{Metric: name + ".count", Kind: KindCounter, Delta: delta, Value: float64(p.GetCount()), Labels: ls})
						add(Sample{Metric: name + ".sum", Kind: KindCounter, Delta: delta, Value: p.GetSum(), Labels: ls})
					}
				case *metricspb.Metric_Summary:
					for _, p := range d.Summary.GetDataPoints() {
						ls, ok := labels(p.GetAttributes())
						if !ok {
							dropped++
							continue
						}
						add(Sample{Metric: name + ".count", Kind: KindCounter, Value: float64(p.GetCount()), Labels: ls})
						add(Sample{Metric: name + ".sum", Kind: KindCounter, Value: p.GetSum(), Labels: ls})
					}
				default:
					dropped++
				}
			}
		}
	}
	return samples, dropped, nil
}

func numberValue(p *metricspb.NumberDataPoint) float64 {
	switch v := p.GetValue().(type) {
	case *metricspb.NumberDataPoint_AsDouble:
		return v.AsDouble
	case *metricspb.NumberDataPoint_AsInt:
		return float64(v.AsInt)
	}
	return math.NaN()
}

// reservedLabels are set by the broker; attributes of the same name are
// dropped.
var reservedLabels = []string{"client_id", "client_instance_id"}

// MaxLabels bounds the attributes kept per sample (the first ones by
// name); MaxLabelValue bounds a value's length (longer ones are cut);
// MaxName bounds a metric name's and an attribute key's length (a point
// with a longer one is dropped).
const (
	MaxLabels     = 16
	MaxLabelValue = 256
	MaxName       = 256
)

// labels is a point's attributes as labels; ok is false if a key is longer
// than MaxName (the point is dropped).
func labels(kvs []*commonpb.KeyValue) (_ []Label, ok bool) {
	if len(kvs) == 0 {
		return nil, true
	}
	for _, kv := range kvs {
		if len(kv.GetKey()) > MaxName {
			return nil, false
		}
	}
	out := make([]Label, 0, len(kvs))
	for _, kv := range kvs {
		name := SanitizeName(kv.GetKey())
		if name == "" || strings.HasPrefix(name, "__") || slices.Contains(reservedLabels, name) {
			continue
		}
		v := anyValue(kv.GetValue())
		if len(v) > MaxLabelValue {
			v = v[:MaxLabelValue]
		}
		out = append(out, Label{name, v})
	}
	slices.SortStableFunc(out, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	out = slices.CompactFunc(out, func(a, b Label) bool { return a.Name == b.Name })
	if len(out) > MaxLabels {
		out = out[:MaxLabels]
	}
	return out, true
}

// points is how many data points metric m has.
func points(m *metricspb.Metric) int {
	switch d := m.GetData().(type) {
	case *metricspb.Metric_Gauge:
		return len(d.Gauge.GetDataPoints())
	case *metricspb.Metric_Sum:
		return len(d.Sum.GetDataPoints())
	case *metricspb.Metric_Histogram:
		return len(d.Histogram.GetDataPoints())
	case *metricspb.Metric_ExponentialHistogram:
		return len(d.ExponentialHistogram.GetDataPoints())
	case *metricspb.Metric_Summary:
		return len(d.Summary.GetDataPoints())
	}
	return 1
}

func anyValue(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	}
	return ""
}

// SanitizeName turns an OTLP name into a Prometheus one: every character
// other than [a-zA-Z0-9_] becomes '_', and a leading digit gets a '_'.
func SanitizeName(s string) string {
	if s == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(s) + 1)
	if s[0] >= '0' && s[0] <= '9' {
		b.WriteByte('_')
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// MetricPrefix starts every exposed client metric's name.
const MetricPrefix = "kafka_client_"

// PromName is the Prometheus name of an OTLP client metric: "kafka_client_"
// and the sanitised name, Kafka's "org.apache.kafka." prefix dropped
// (org.apache.kafka.producer.record.queue.time.avg becomes
// kafka_client_producer_record_queue_time_avg).
func PromName(otlp string) string {
	return MetricPrefix + SanitizeName(strings.TrimPrefix(otlp, "org.apache.kafka."))
}
