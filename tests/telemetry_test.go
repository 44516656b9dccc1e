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

func TestClientTelemetryJava(t *testing.T) {
	reg := prometheus.NewRegistry()
	addr := newBroker(t, withMetrics(reg))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	scrape := func() string {
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
	dreq := kmsg.NewPtrDescribeConfigsRequest()
	dres := kmsg.NewDescribeConfigsRequestResource()
	dres.ResourceType, dres.ResourceName = kmsg.ConfigResourceTypeClientMetrics, "producers"
	dreq.Resources = append(dreq.Resources, dres)
	dresp, err := dreq.RequestWith(context.Background(), cl)
	if err != nil || len(dresp.Resources) != 1 || dresp.Resources[0].ErrorCode != 0 {
		t.Fatalf("describe: %v %+v", err, dresp)
	}
	got := map[string]string{}
	for _, c := range dresp.Resources[0].Configs {
		got[c.Name] = *c.Value
	}
	if got["metrics"] != "org.apache.kafka.producer." || got["interval.ms"] != "1000" || got["match"] != "client_software_name=apache-kafka-java" {
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
	var pout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &pout, &pout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start producer: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	series := regexp.MustCompile(`(?m)^kafka_client_producer_[a-z_]+\{[^}]*client_id="telemetry-producer"[^}]*\} [0-9.e+-]+$`)
	var exited bool
	var perr error
	var text string
	testenv.WaitFor(t, 60*time.Second, "producer series on /metrics", func() bool {
		select {
		case perr = <-done:
			exited = true
		default:
		}
		text = scrape()
		return series.MatchString(text) || exited
	})
	if !series.MatchString(text) {
		t.Fatalf("the producer exited (%v) before its metrics showed on /metrics:\n%s\n%s", perr, pout.String(), text)
	}
	found := series.FindAllString(text, -1)
	t.Logf("%d producer series, e.g. %s", len(found), found[0])
	if !strings.Contains(text, `client_instance_id="`) {
		t.Error("series without client_instance_id")
	}
	if !exited {
		select {
		case perr = <-done:
		case <-ctx.Done():
			t.Fatalf("producer did not finish:\n%s", pout.String())
		}
	}
	if perr != nil {
		t.Fatalf("producer: %v\n%s", perr, pout.String())
	}
	// Closing, the producer sends a terminating push: its series go.
	testenv.WaitFor(t, 20*time.Second, "the producer's series to leave /metrics after its terminating push", func() bool {
		return !series.MatchString(scrape())
	})
	if v := metricValue(t, reg, "moldau_client_telemetry_pushes_total", "result", "ok"); v < 2 {
		t.Errorf("accepted pushes: %v, want at least a push and the terminating one", v)
	}
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
	ireq := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeClientMetrics, "all"
	for _, kv := range [][2]string{{"metrics", "org.apache.kafka.consumer."}, {"interval.ms", "2000"}} {
		cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		cfg.Name, cfg.Op, cfg.Value = kv[0], kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(kv[1])
		res.Configs = append(res.Configs, cfg)
	}
	ireq.Resources = append(ireq.Resources, res)
	iresp, err := ireq.RequestWith(ctxT(t), cl)
	if err != nil || iresp.Resources[0].ErrorCode != 0 {
		t.Fatalf("alter: %v %+v", err, iresp)
	}
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
