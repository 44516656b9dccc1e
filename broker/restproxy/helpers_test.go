package restproxy_test

// Shared helpers for the REST Proxy's v2 and v3 tests: a real embedded
// broker, the proxy over it on an httptest server, curl-style requests and
// a Kafka client to check what the proxy did.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/goleak"

	"github.com/moldau/moldau/broker/restproxy"
	"github.com/moldau/moldau/broker/serde"
	"github.com/moldau/moldau/broker/webclient"
	"github.com/moldau/moldau/embed"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// proxy is a broker with the REST Proxy in front of it.
type proxy struct {
	Broker *embed.Broker
	Pool   *webclient.Pool
	Server *restproxy.Server
	HTTP   *httptest.Server
	// URL is the proxy's base URL, "http://127.0.0.1:port".
	URL string
	// Registry is a client of the broker's schema registry
	// (withSchemaRegistry), nil without.
	Registry *sr.Client
	client   *http.Client
}

// proxyOption adjusts newProxy.
type proxyOption struct {
	embed []embed.Option
	pool  func(*webclient.Config, *embed.Broker)
	sr    bool
	cfg   func(*restproxy.Config)
	hs    func(*http.Server)
}

// withConfig adjusts the proxy's configuration.
func withConfig(f func(*restproxy.Config)) func(*proxyOption) {
	return func(o *proxyOption) { o.cfg = f }
}

// withHTTPServer adjusts the httptest server before it starts (its
// timeouts, as broker/http_wiring.go sets them).
func withHTTPServer(f func(*http.Server)) func(*proxyOption) {
	return func(o *proxyOption) { o.hs = f }
}

// withEmbed passes options to embed.Start.
func withEmbed(opts ...embed.Option) func(*proxyOption) {
	return func(o *proxyOption) { o.embed = append(o.embed, opts...) }
}

// withSchemaRegistry starts the broker's schema registry and gives the
// proxy a Serde over it.
func withSchemaRegistry() func(*proxyOption) {
	return func(o *proxyOption) { o.sr = true; o.embed = append(o.embed, embed.WithSchemaRegistry()) }
}

// withPool adjusts the webclient pool's configuration (seed brokers are
// already set to the broker's PLAINTEXT listener, and restproxy's
// partitioner).
func withPool(f func(*webclient.Config, *embed.Broker)) func(*proxyOption) {
	return func(o *proxyOption) { o.pool = f }
}

// newProxy starts a broker and the proxy; both end with the test.
func newProxy(t *testing.T, opts ...func(*proxyOption)) *proxy {
	t.Helper()
	var o proxyOption
	for _, f := range opts {
		f(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := embed.Start(ctx, o.embed...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	pcfg := webclient.Config{Opts: []kgo.Opt{kgo.SeedBrokers(b.Addr()), kgo.RecordPartitioner(restproxy.Partitioner())}}
	if o.pool != nil {
		o.pool(&pcfg, b)
	}
	pool := webclient.New(pcfg)
	t.Cleanup(pool.Close)
	cfg := restproxy.Config{Clients: pool}
	if o.sr {
		reg, err := sr.NewClient(sr.URLs(b.SchemaRegistryURL()))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Serde, cfg.Registry = serde.New(reg), reg
	}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	s, err := restproxy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	hs := httptest.NewUnstartedServer(s.Handler())
	if o.hs != nil {
		o.hs(hs.Config)
	}
	hs.Start()
	t.Cleanup(hs.Close)
	cl := &http.Client{Timeout: 60 * time.Second}
	t.Cleanup(cl.CloseIdleConnections)
	return &proxy{Broker: b, Pool: pool, Server: s, HTTP: hs, URL: hs.URL, Registry: cfg.Registry, client: cl}
}

// response is an HTTP answer, read whole.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value (map, slice...).
func (r response) JSON(t *testing.T) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, r.Body)
	}
	return v
}

// Object decodes the body as a JSON object.
func (r response) Object(t *testing.T) map[string]any {
	t.Helper()
	m, ok := r.JSON(t).(map[string]any)
	if !ok {
		t.Fatalf("body is not a JSON object: %s", r.Body)
	}
	return m
}

// do sends one request, curl-style: path is relative to the proxy's URL,
// body is sent as is when a string or []byte and JSON-encoded otherwise
// (nil: no body), with Content-Type application/json unless header says
// otherwise. header holds extra headers as "Name", "value" pairs.
func (p *proxy) do(t *testing.T, method, path string, body any, header ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, p.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// wantStatus fails the test when r's status is not want.
func wantStatus(t *testing.T, r response, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d; body: %s", r.Status, want, r.Body)
	}
}

// wantError checks a Confluent error answer: status and error_code.
func wantError(t *testing.T, r response, status, code int) map[string]any {
	t.Helper()
	wantStatus(t, r, status)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q", ct)
	}
	m := r.Object(t)
	if got, _ := m["error_code"].(float64); int(got) != code {
		t.Errorf("error_code %v, want %d; body: %s", m["error_code"], code, r.Body)
	}
	if msg, _ := m["message"].(string); msg == "" {
		t.Errorf("error without a message: %s", r.Body)
	}
	return m
}

// kafka returns a Kafka client of the broker (closed with the test) and
// its admin view.
func (p *proxy) kafka(t *testing.T, opts ...kgo.Opt) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(p.Broker.Addr())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

// createTopic creates a topic with Kafka's admin API.
func (p *proxy) createTopic(t *testing.T, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	_, adm := p.kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
}

// consume reads n records of topic from the start.
func (p *proxy) consume(t *testing.T, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, _ := p.kafka(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records of %s: %v", len(out), n, topic, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("consuming %s: %v", topic, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// field walks a decoded JSON value along keys (object keys, or decimal
// indexes into arrays) and returns what it finds (nil when absent).
func field(v any, keys ...string) any {
	for _, k := range keys {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i := 0
			for _, c := range k {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// jsonDecode decodes and closes resp's body.
func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
