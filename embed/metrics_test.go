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

// TestMetricsRequestsWaiting: a long-poll fetch on an empty topic shows in
// moldau_requests_waiting{api="Fetch"} while it waits, and leaves it after.
func TestMetricsRequestsWaiting(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := prometheus.NewRegistry()
	b, err := embed.Start(ctx, embed.WithRegisterer(reg), embed.WithProperty("auto.create.topics.enable", "true"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	waiting := func() float64 {
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			if f.GetName() != "moldau_requests_waiting" {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "api" && l.GetValue() == "Fetch" {
						return m.GetGauge().GetValue()
					}
				}
			}
		}
		t.Fatal(`moldau_requests_waiting{api="Fetch"} missing`)
		return 0
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.AllowAutoTopicCreation(), kgo.ConsumeTopics("empty"),
		kgo.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	go cl.PollFetches(ctx)
	for waiting() < 1 {
		if ctx.Err() != nil {
			t.Fatal("no fetch was ever counted as waiting")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cl.Close() // the waiting fetch's connection closes: its Wait ends
	for waiting() != 0 {
		if ctx.Err() != nil {
			t.Fatalf("fetch still counted as waiting after the client closed: %v", waiting())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
