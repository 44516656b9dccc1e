package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/goleak"

	"github.com/moldau/moldau/broker/console"
	"github.com/moldau/moldau/broker/serde"
	"github.com/moldau/moldau/broker/webclient"
	"github.com/moldau/moldau/embed"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture is a broker with its schema registry, and a console over it.
type fixture struct {
	t    *testing.T
	b    *embed.Broker
	srv  *httptest.Server
	adm  *kadm.Client
	kcl  *kgo.Client
	reg  *prometheus.Registry
	ctx  context.Context
	user *webclient.Credentials // Basic credentials every request carries
}

func newFixture(t *testing.T, opts ...embed.Option) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	reg := prometheus.NewRegistry()
	b, err := embed.Start(ctx, append([]embed.Option{embed.WithSchemaRegistry(), embed.WithRegisterer(reg)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	srcl, err := sr.NewClient(sr.URLs(b.SchemaRegistryURL()))
	if err != nil {
		t.Fatal(err)
	}
	pool := webclient.New(webclient.Config{Opts: []kgo.Opt{kgo.SeedBrokers(b.Addr())}})
	t.Cleanup(pool.Close)
	return startConsole(t, ctx, b, reg, console.Config{Clients: pool, Serde: serde.New(srcl), Registry: srcl,
		Gatherer: reg, Version: "v-test"})
}

func startConsole(t *testing.T, ctx context.Context, b *embed.Broker, reg *prometheus.Registry, cfg console.Config) *fixture {
	t.Helper()
	s, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	kcl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kcl.Close)
	return &fixture{t: t, b: b, srv: srv, adm: kadm.NewClient(kcl), kcl: kcl, reg: reg, ctx: ctx}
}

// do sends a request with a JSON body (nil: none; a string: sent as is)
// and returns the status, headers and body.
func (f *fixture) do(method, path string, body any) (int, http.Header, []byte) {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequestWithContext(f.ctx, method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if f.user != nil {
		req.SetBasicAuth(f.user.User, f.user.Password)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, out
}

// call expects status and decodes the answer into into (unless nil).
func (f *fixture) call(method, path string, body any, status int, into any) []byte {
	f.t.Helper()
	got, h, out := f.do(method, path, body)
	if got != status {
		f.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, status, out)
	}
	if len(out) > 0 && !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		f.t.Fatalf("%s %s: Content-Type %q", method, path, h.Get("Content-Type"))
	}
	if status >= 400 {
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(out, &e); err != nil || e.Error == "" {
			f.t.Fatalf("%s %s: error answer %s is not {\"error\": text}", method, path, out)
		}
	}
	if into != nil {
		if err := json.Unmarshal(out, into); err != nil {
			f.t.Fatalf("%s %s: %v in %s", method, path, err, out)
		}
	}
	return out
}

func (f *fixture) createTopic(name string, partitions int) {
	f.t.Helper()
	f.call("POST", "/api/topics", map[string]any{"name": name, "partitions": partitions, "replication_factor": 1}, 201, nil)
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type topicRow struct {
	Name              string  `json:"name"`
	Internal          bool    `json:"internal"`
	Partitions        int     `json:"partitions"`
	ReplicationFactor int     `json:"replication_factor"`
	SizeBytes         int64   `json:"size_bytes"`
	Messages          int64   `json:"messages"`
	UnderReplicated   int     `json:"under_replicated"`
	BytesInPerSec     float64 `json:"bytes_in_per_sec"`
}

type topicDetail struct {
	Name       string `json:"name"`
	Messages   int64  `json:"messages"`
	SizeBytes  int64  `json:"size_bytes"`
	Partitions []struct {
		Partition     int32   `json:"partition"`
		Leader        int32   `json:"leader"`
		Replicas      []int32 `json:"replicas"`
		ISR           []int32 `json:"isr"`
		LogStart      int64   `json:"log_start"`
		HighWatermark int64   `json:"high_watermark"`
		SizeBytes     int64   `json:"size_bytes"`
	} `json:"partitions"`
	Configs []struct {
		Name     string  `json:"name"`
		Value    *string `json:"value"`
		Source   string  `json:"source"`
		ReadOnly bool    `json:"read_only"`
		Default  bool    `json:"default"`
	} `json:"configs"`
}

func (d topicDetail) config(name string) (value, source string, ok bool) {
	for _, c := range d.Configs {
		if c.Name == name {
			if c.Value != nil {
				value = *c.Value
			}
			return value, c.Source, true
		}
	}
	return "", "", false
}

func TestTopics(t *testing.T) {
	f := newFixture(t)
	var created topicRow
	f.call("POST", "/api/topics", map[string]any{"name": "orders", "partitions": 3, "replication_factor": 1,
		"configs": map[string]string{"retention.ms": "600000"}}, 201, &created)
	if created.Name != "orders" || created.Partitions != 3 || created.ReplicationFactor != 1 {
		t.Fatalf("created %+v", created)
	}
	f.call("POST", "/api/topics", map[string]any{"name": "orders", "partitions": 1}, 409, nil)
	f.call("POST", "/api/topics", map[string]any{"name": "bad name!"}, 400, nil)
	f.call("POST", "/api/topics", map[string]any{"name": "x", "partitions": -5}, 400, nil)
	f.call("POST", "/api/topics", `{"name": `, 400, nil)
	f.call("POST", "/api/topics", "", 400, nil)
	f.call("POST", "/api/topics", map[string]any{"name": "x", "configs": map[string]string{"no.such.config": "1"}}, 400, nil)
	big := `{"name":"` + strings.Repeat("a", 2<<20) + `"}`
	f.call("POST", "/api/topics", big, 413, nil)

	// Produce 5 records to learn sizes and counts.
	for i := range 5 {
		f.call("POST", "/api/topics/orders/messages", map[string]any{"partition": 1, "value": fmt.Sprint("v", i)}, 200, nil)
	}
	var list []topicRow
	f.call("GET", "/api/topics", nil, 200, &list)
	var found bool
	for _, r := range list {
		if r.Name == "orders" {
			found = true
			if r.Partitions != 3 || r.Messages != 5 || r.ReplicationFactor != 1 || r.Internal || r.UnderReplicated != 0 {
				t.Fatalf("listed %+v", r)
			}
			if r.SizeBytes <= 0 {
				t.Fatalf("size_bytes %d after producing", r.SizeBytes)
			}
		}
	}
	if !found {
		t.Fatalf("orders not listed: %+v", list)
	}

	var d topicDetail
	f.call("GET", "/api/topics/orders", nil, 200, &d)
	if d.Name != "orders" || len(d.Partitions) != 3 || d.Messages != 5 {
		t.Fatalf("detail %+v", d)
	}
	for i, p := range d.Partitions {
		wantHW := int64(0)
		if i == 1 {
			wantHW = 5
		}
		if p.Partition != int32(i) || p.HighWatermark != wantHW || p.LogStart != 0 || p.Leader < 0 || len(p.Replicas) != 1 || len(p.ISR) != 1 {
			t.Fatalf("partition %d: %+v", i, p)
		}
	}
	if v, src, ok := d.config("retention.ms"); !ok || v != "600000" || src != "DYNAMIC_TOPIC_CONFIG" {
		t.Fatalf("retention.ms = %q from %s (%v)", v, src, ok)
	}
	if _, src, ok := d.config("cleanup.policy"); !ok || src != "DEFAULT_CONFIG" {
		t.Fatalf("cleanup.policy from %s (%v)", src, ok)
	}

	// Alter and delete an override.
	f.call("PUT", "/api/topics/orders/configs", map[string]any{"retention.ms": nil, "cleanup.policy": "compact"}, 204, nil)
	f.call("GET", "/api/topics/orders", nil, 200, &d)
	if v, src, _ := d.config("cleanup.policy"); v != "compact" || src != "DYNAMIC_TOPIC_CONFIG" {
		t.Fatalf("cleanup.policy = %q from %s", v, src)
	}
	if _, src, _ := d.config("retention.ms"); src == "DYNAMIC_TOPIC_CONFIG" {
		t.Fatal("retention.ms override survived its deletion")
	}
	f.call("PUT", "/api/topics/orders/configs", map[string]any{}, 400, nil)
	f.call("PUT", "/api/topics/orders/configs", map[string]any{"cleanup.policy": "bogus"}, 400, nil)
	f.call("PUT", "/api/topics/nope/configs", map[string]any{"cleanup.policy": "compact"}, 404, nil)

	f.call("GET", "/api/topics/nope", nil, 404, nil)
	f.call("DELETE", "/api/topics/orders", nil, 204, nil)
	waitFor(t, "orders to be gone", func() bool {
		code, _, _ := f.do("GET", "/api/topics/orders", nil)
		return code == 404
	})
	f.call("DELETE", "/api/topics/orders", nil, 404, nil)
}

func TestOverview(t *testing.T) {
	f := newFixture(t)
	f.createTopic("a", 2)
	f.createTopic("b", 3)
	var o struct {
		ClusterID    string `json:"cluster_id"`
		ControllerID int32  `json:"controller_id"`
		Version      string `json:"version"`
		Brokers      []struct {
			ID         int32 `json:"id"`
			Host       string
			Port       int32
			Controller bool
			Leaders    int
			Replicas   int
		} `json:"brokers"`
		Topics          int            `json:"topics"`
		Partitions      int            `json:"partitions"`
		UnderReplicated int            `json:"under_replicated"`
		Offline         int            `json:"offline"`
		LeadersByBroker map[string]int `json:"leaders_by_broker"`
		SchemaRegistry  bool           `json:"schema_registry"`
		SASL            bool           `json:"sasl"`
		Authorizer      bool           `json:"authorizer"`
	}
	f.call("GET", "/api/overview", nil, 200, &o)
	if o.ClusterID == "" || o.Version != "v-test" || len(o.Brokers) != 1 || o.Topics != 2 || !o.SchemaRegistry || o.SASL || o.Authorizer {
		t.Fatalf("overview %+v", o)
	}
	br := o.Brokers[0]
	// Internal topics (the registry's _schemas, offsets) add partitions.
	if o.Partitions < 5 || br.Leaders != o.Partitions || br.Replicas != o.Partitions || o.UnderReplicated != 0 || o.Offline != 0 {
		t.Fatalf("overview counts %+v", o)
	}
	if o.LeadersByBroker[fmt.Sprint(br.ID)] != o.Partitions || br.Controller != (br.ID == o.ControllerID) || br.Port == 0 {
		t.Fatalf("leaders by broker %v, broker %+v", o.LeadersByBroker, br)
	}
}
