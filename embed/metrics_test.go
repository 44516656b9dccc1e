package embed_test

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/embed"
)

// TestMetricsScrapeAndMove: the exposition parses, and the per-topic and
// per-API metrics move when records flow.
func TestMetricsScrapeAndMove(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := prometheus.NewRegistry()
	b, err := embed.Start(ctx, embed.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic("m"),
		kgo.ConsumeTopics("m"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("0123456789")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for got := 0; got < 10; {
		got += cl.PollFetches(ctx).NumRecords()
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var text bytes.Buffer
	enc := expfmt.NewEncoder(&text, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(strings.NewReader(text.String()))
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	value := func(name, label string) float64 {
		f, ok := parsed[name]
		if !ok {
			t.Fatalf("metric %s missing", name)
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					if c := m.GetCounter(); c != nil {
						return c.GetValue()
					}
					if g := m.GetGauge(); g != nil {
						return g.GetValue()
					}
					if h := m.GetHistogram(); h != nil {
						return float64(h.GetSampleCount())
					}
				}
			}
		}
		t.Fatalf("metric %s has no series labelled %q", name, label)
		return 0
	}
	if v := value("moldau_topic_records_in_total", "m"); v != 10 {
		t.Errorf("records in = %v, want 10", v)
	}
	if v := value("moldau_topic_bytes_out_total", "m"); v <= 0 {
		t.Errorf("bytes out = %v", v)
	}
	if v := value("moldau_partitions", "m"); v != 1 {
		t.Errorf("partitions = %v", v)
	}
	if v := value("moldau_request_duration_seconds", "0"); v < 10 {
		t.Errorf("produce requests observed = %v", v)
	}
	if v := value("moldau_log_segments", "m"); v != 1 {
		t.Errorf("segments = %v", v)
	}
	if v := value("moldau_build_info", runtime.Version()); v != 1 {
		t.Errorf("build_info = %v", v)
	}
}
