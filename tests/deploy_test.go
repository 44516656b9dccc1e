package tests

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/embed"
)

// dashboardPath is the Grafana dashboard shipped under deploy/.
var dashboardPath = filepath.Join("..", "deploy", "grafana", "moldau-dashboard.json")

// TestDeployDashboardMetricsExist checks deploy/grafana/moldau-dashboard.json
// against a real scrape: every metric name a query uses is exposed by a
// broker (registered the way cmd/moldau registers it: broker metrics plus the
// Go and process collectors) after traffic that makes every labelled series
// appear, and every "by (...)" label exists on the metrics of its query.
func TestDeployDashboardMetricsExist(t *testing.T) {
	t.Parallel()
	queries := deployDashboardQueries(t)
	if len(queries) == 0 {
		t.Fatal("dashboard has no queries")
	}
	families := deployScrapeAfterTraffic(t)

	metricName := regexp.MustCompile(`\b(?:moldau|go|process)_[a-zA-Z0-9_]+\b`)
	byClause := regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	used := map[string]bool{}
	for _, q := range queries {
		names := metricName.FindAllString(q, -1)
		labels := map[string]bool{"le": true, "instance": true, "job": true}
		for _, name := range names {
			family, ok := deployFamilyFor(families, name)
			if !ok {
				t.Errorf("dashboard query uses %s, which the broker does not expose:\n  %s", name, q)
				continue
			}
			used[family.GetName()] = true
			for _, m := range family.GetMetric() {
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = true
				}
			}
		}
		for _, m := range byClause.FindAllStringSubmatch(q, -1) {
			for _, l := range strings.Split(m[1], ",") {
				if l = strings.TrimSpace(l); l != "" && !labels[l] {
					t.Errorf("dashboard query groups by %q, a label none of its metrics has:\n  %s", l, q)
				}
			}
		}
	}
	// The metrics the issue names must be on the dashboard.
	for _, want := range []string{
		"moldau_topic_bytes_in_total", "moldau_topic_records_in_total", "moldau_topic_bytes_out_total",
		"moldau_produce_errors_total", "moldau_fetch_long_polls_total", "moldau_partitions",
		"moldau_log_size_bytes", "moldau_log_segments", "moldau_topics", "moldau_requests_waiting", "moldau_connections_active",
		"moldau_connections_accepted_total", "moldau_request_duration_seconds",
	} {
		if !used[want] {
			t.Errorf("dashboard does not chart %s", want)
		}
	}
}

// deployFamilyFor finds the family a query's series name belongs to: the
// name itself, or a histogram's or summary's _bucket, _count or _sum.
func deployFamilyFor(families map[string]*dto.MetricFamily, name string) (*dto.MetricFamily, bool) {
	if f, ok := families[name]; ok {
		return f, true
	}
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		f, ok := families[base]
		if !ok {
			continue
		}
		if f.GetType() == dto.MetricType_HISTOGRAM || (f.GetType() == dto.MetricType_SUMMARY && suffix != "_bucket") {
			return f, true
		}
	}
	return nil, false
}

// deployDashboardQueries returns every PromQL string in the dashboard (panel
// targets and templating queries), after checking the JSON's shape.
func deployDashboardQueries(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID        string `json:"uid"`
		Title      string `json:"title"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			ID         int    `json:"id"`
			Type       string `json:"type"`
			Title      string `json:"title"`
			Datasource *struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Errorf("dashboard needs a uid and a title")
	}
	var queries []string
	for _, v := range dash.Templating.List {
		if v.Definition != "" {
			queries = append(queries, v.Definition)
		}
	}
	ids := map[int]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource should be the ${datasource} variable", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q has an empty query", p.Title)
			}
			queries = append(queries, tg.Expr)
		}
	}
	return queries
}

// deployScrapeAfterTraffic runs an in-process broker, makes every labelled
// series exist (produce, fetch, a fetch that long-polls, a rejected produce,
// a committed group offset), and returns the parsed /metrics exposition.
func deployScrapeAfterTraffic(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	b, err := embed.Start(ctx, embed.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })

	const topic = "deploy-dashboard"
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic(topic),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	created, err := adm.CreateTopic(ctx, 1, 1, nil, topic)
	if err == nil {
		err = created.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	for range 5 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("dashboard")}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	for got := 0; got < 5; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consume: %v", err)
		}
		got += fs.NumRecords()
	}
	// A fetch past the end waits for data: the long-poll counter.
	fetchCtx, fetchCancel := context.WithTimeout(ctx, time.Second)
	cl.PollFetches(fetchCtx)
	fetchCancel()

	// A batch that is not a RecordBatch: answered with an error, counted by code.
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic        // up to v12
	rt.TopicID = created.ID // v13 on
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = []byte("not a record batch")
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	produced, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("raw produce: %v", err)
	}
	if len(produced.Topics) != 1 || len(produced.Topics[0].Partitions) != 1 || produced.Topics[0].Partitions[0].ErrorCode == 0 {
		t.Fatalf("produce of a garbage batch: want one partition with an error, got %+v", produced.Topics)
	}

	// A committed group offset: the consumer-lag series.
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: topic, Partition: 0, At: 2, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, "deploy-dashboard-group", offsets); err != nil {
		t.Fatalf("commit: %v", err)
	}

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	return families
}
