package tests

// Client telemetry (KIP-714) with a real client: Kafka's
// kafka-client-metrics tool creates a subscription (IncrementalAlterConfigs
// on a CLIENT_METRICS resource), DescribeConfigs reads it back, a Java producer 4.4
// (enable.metrics.push is on by default) asks for its subscription and
// pushes OTLP metrics, and Moldau's /metrics shows them as kafka_client_*
// series labelled with the producer's client id, until its terminating
// push on close removes them.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/internal/testenv"
)

// telemetryScraper serves reg as /metrics over HTTP and returns a scrape.
func telemetryScraper(t *testing.T, reg *prometheus.Registry) func() string {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return func() string {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("scrape: %s\n%s", resp.Status, body)
		}
		return string(body)
	}
}

// watchPushingClient runs cmd (a client that produces for several seconds,
// then closes), polls /metrics until a line matches series while it runs,
// waits for it to exit cleanly, then polls until its series are gone (its
// terminating push). It returns the matching lines.
func watchPushingClient(t *testing.T, cmd *exec.Cmd, scrape func() string, series *regexp.Regexp) []string {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var exited bool
	var err error
	var text string
	testenv.WaitFor(t, 60*time.Second, "the client's series on /metrics", func() bool {
		select {
		case err = <-done:
			exited = true
		default:
		}
		text = scrape()
		return series.MatchString(text) || exited
	})
	if !series.MatchString(text) {
		t.Fatalf("the client exited (%v) before its metrics showed on /metrics:\n%s\n%s", err, out.String(), text)
	}
	found := series.FindAllString(text, -1)
	t.Logf("%d series, e.g. %s", len(found), found[0])
	if !exited {
		select {
		case err = <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("the client did not finish:\n%s", out.String())
		}
	}
	if err != nil {
		t.Fatalf("client: %v\n%s", err, out.String())
	}
	testenv.WaitFor(t, 20*time.Second, "the client's series to leave /metrics after its terminating push", func() bool {
		return !series.MatchString(scrape())
	})
	return found
}

func TestClientTelemetryJava(t *testing.T) {
	reg := prometheus.NewRegistry()
	addr := newBroker(t, withMetrics(reg))
	scrape := telemetryScraper(t, reg)

	out, err := kafkaTool(t, "org.apache.kafka.tools.ClientMetricsCommand", "--bootstrap-server", addr,
		"--alter", "--name", "producers", "--metrics", "org.apache.kafka.producer.", "--interval", "1000",
		"--match", "client_software_name=apache-kafka-java")
	if err != nil {
		t.Fatalf("kafka-client-metrics --alter: %v\n%s", err, out)
	}
	// The subscription as DescribeConfigs reports it. (kafka-client-metrics
	// --describe lists the resources first, with ListConfigResources.)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if got := describeClientMetrics(t, cl, "producers"); got["metrics"] != "org.apache.kafka.producer." ||
		got["interval.ms"] != "1000" || got["match"] != "client_software_name=apache-kafka-java" {
		t.Fatalf("described configs: %v", got)
	}

	createTopic(t, addr, "telemetry", 1, nil)
	libs := filepath.Join(compatCache(), "kafka-4.4.0", "libs", "*")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// 800 records at 100/s: about 8 s of producing, several 1 s pushes.
	cmd := exec.CommandContext(ctx, "java", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Dlog4j2.level=off",
		"-cp", libs, "org.apache.kafka.tools.ProducerPerformance", "--topic", "telemetry", "--num-records", "800",
		"--throughput", "100", "--record-size", "100", "--producer-props", "bootstrap.servers="+addr,
		"client.id=telemetry-producer", "linger.ms=5")
	series := regexp.MustCompile(`(?m)^kafka_client_producer_[a-z_]+\{[^}]*client_id="telemetry-producer"[^}]*\} [0-9.e+-]+$`)
	found := watchPushingClient(t, cmd, scrape, series)
	if !strings.Contains(strings.Join(found, "\n"), `client_instance_id="`) {
		t.Error("series without client_instance_id")
	}
	if v := metricValue(t, reg, "moldau_client_telemetry_pushes_total", "result", "ok"); v < 2 {
		t.Errorf("accepted pushes: %v, want at least a push and the terminating one", v)
	}
}

func describeClientMetrics(t *testing.T, cl *kgo.Client, name string) map[string]string {
	t.Helper()
	dreq := kmsg.NewPtrDescribeConfigsRequest()
	dres := kmsg.NewDescribeConfigsRequestResource()
	dres.ResourceType, dres.ResourceName = kmsg.ConfigResourceTypeClientMetrics, name
	dreq.Resources = append(dreq.Resources, dres)
	dresp, err := dreq.RequestWith(context.Background(), cl)
	if err != nil || len(dresp.Resources) != 1 || dresp.Resources[0].ErrorCode != 0 {
		t.Fatalf("describe: %v %+v", err, dresp)
	}
	got := map[string]string{}
	for _, c := range dresp.Resources[0].Configs {
		got[c.Name] = *c.Value
	}
	return got
}

// setClientMetrics sets a subscription with IncrementalAlterConfigs.
func setClientMetrics(t *testing.T, cl *kgo.Client, name string, kv ...string) {
	t.Helper()
	ireq := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeClientMetrics, name
	for i := 0; i+1 < len(kv); i += 2 {
		cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		cfg.Name, cfg.Op, cfg.Value = kv[i], kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(kv[i+1])
		res.Configs = append(res.Configs, cfg)
	}
	ireq.Resources = append(ireq.Resources, res)
	iresp, err := ireq.RequestWith(ctxT(t), cl)
	if err != nil || iresp.Resources[0].ErrorCode != 0 {
		t.Fatalf("alter client metrics %s: %v %+v", name, err, iresp)
	}
}

// rdkafkaTelemetryProducer produces for about 6 s with librdkafka
// (confluent-kafka), whose KIP-714 support is on by default
// (enable.metrics.push), then closes.
const rdkafkaTelemetryProducer = `
import sys, time
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "client.id": "telemetry-rdkafka", "linger.ms": 5})
end = time.time() + 6
while time.time() < end:
    p.produce("telemetry", b"x" * 100)
    p.poll(0.02)
if p.flush(30) != 0:
    sys.exit("unflushed messages")
`

func TestClientTelemetryLibrdkafka(t *testing.T) {
	compatClients(t, "python3")
	python := filepath.Join(compatCache(), "venv", "bin", "python")
	reg := prometheus.NewRegistry()
	addr := newBroker(t, withMetrics(reg))
	scrape := telemetryScraper(t, reg)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	setClientMetrics(t, cl, "rdkafka", "metrics", "*", "interval.ms", "1000", "match", "client_id=telemetry-rdkafka")
	createTopic(t, addr, "telemetry", 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-c", rdkafkaTelemetryProducer, addr)
	series := regexp.MustCompile(`(?m)^kafka_client_[a-z_]+\{[^}]*client_id="telemetry-rdkafka"[^}]*\} [0-9.e+-]+$`)
	watchPushingClient(t, cmd, scrape, series)
}

// TestClusterClientMetricsSubscriptions: in a three-node cluster a
// subscription set through one node (a metadata-log entity) reaches every
// node's GetTelemetrySubscriptions, survives a kill -9 of a node, and a
// push to another node is accepted.
func TestClusterClientMetricsSubscriptions(t *testing.T) {
	testenv.SkipIfShort(t, "starts a three-node cluster")
	c := startProcCluster(t)
	cl := c.client()
	defer cl.Close()
	setClientMetrics(t, cl, "all", "metrics", "org.apache.kafka.consumer.", "interval.ms", "2000")
	subscribed := func(id int32) (*kmsg.GetTelemetrySubscriptionsResponse, bool) {
		g, err := kmsg.NewPtrGetTelemetrySubscriptionsRequest().RequestWith(ctxT(t), cl.Broker(int(id)))
		return g, err == nil && g.ErrorCode == 0 && g.PushIntervalMillis == 2000 &&
			len(g.RequestedMetrics) == 1 && g.RequestedMetrics[0] == "org.apache.kafka.consumer."
	}
	for _, n := range c.nodes {
		c.waitFor(30*time.Second, fmt.Sprintf("node %d to serve the subscription", n.id), func() bool {
			_, ok := subscribed(int32(n.id))
			return ok
		})
	}
	c.nodes[1].kill9()
	c.nodes[1].start()
	var g *kmsg.GetTelemetrySubscriptionsResponse
	c.waitFor(60*time.Second, "the restarted node to serve the subscription", func() bool {
		var ok bool
		g, ok = subscribed(int32(c.nodes[1].id))
		return ok
	})
	push := kmsg.NewPtrPushTelemetryRequest()
	push.ClientInstanceID, push.SubscriptionID = g.ClientInstanceID, g.SubscriptionID
	presp, err := push.RequestWith(ctxT(t), cl.Broker(c.nodes[2].id))
	if err != nil || presp.ErrorCode != 0 {
		t.Fatalf("push to another node: %v %+v", err, presp)
	}
}
