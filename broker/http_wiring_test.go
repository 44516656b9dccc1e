package broker

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/broker/webclient"
	"github.com/moldau/moldau/internal/testcerts"
)

// startFrontEnds starts a broker from command-line args (config.Load, as
// the binary) with the console and the HTTP proxy on free loopback ports
// and the schema registry off unless args say otherwise.
func startFrontEnds(t *testing.T, args ...string) (*Broker, *logBuffer) {
	t.Helper()
	base := []string{"--memory", "--admin-addr", "", "--schema-registry-addr", "", "--addr", "127.0.0.1:0",
		"--console-addr", "127.0.0.1:0", "--http-proxy-addr", "127.0.0.1:0"}
	cfg, err := config.Load(append(base, args...), func(string) string { return "" }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	b, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		WithRegisterer(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	return b, logs
}

// poolClient asks the front ends' pool for cred's client and creates and
// lists a topic with it, as a front end's request would.
func poolClient(t *testing.T, b *Broker, cred webclient.Credentials) error {
	t.Helper()
	if b.frontEnds == nil || b.frontEnds.clients == nil {
		t.Fatal("the front ends have no client pool")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := b.frontEnds.clients.ClientFor(ctx, cred)
	if err != nil {
		return err
	}
	// CreateTopics goes to the controller at its advertised address (not
	// the seed connection): the dialer's redirection is exercised.
	topic := fmt.Sprintf("front-end-%d", topicSeq.Add(1))
	if _, err := c.Admin.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		return err
	}
	_, err = c.Admin.ListTopics(ctx, topic)
	return err
}

var topicSeq atomic.Int64

// TestHTTPFrontEndsServeAndClose: the web console (its page and its
// overview, which needs its Kafka client and the registry) and the REST
// Proxy API serve on their own ports, the shared Kafka clients reach the
// broker's PLAINTEXT listener without
// credentials, the registry client follows the built-in registry and the
// console gets the binary's metrics registry; Close stops serving.
func TestHTTPFrontEndsServeAndClose(t *testing.T) {
	b, logs := startFrontEnds(t, "--schema-registry-addr", "127.0.0.1:0",
		"--listeners", "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0")
	addr := b.HTTPProxyAddr()
	if addr == "" || addr == b.ConsoleAddr() || addr == b.Addr() {
		t.Fatalf("http proxy address %q (console %q, kafka %q)", addr, b.ConsoleAddr(), b.Addr())
	}
	if !strings.Contains(logs.String(), "http proxy listening") || !strings.Contains(logs.String(), addr) {
		t.Errorf("no 'http proxy listening' line with %s in the log:\n%s", addr, logs.String())
	}
	if b.frontEnds.clients.AuthRequired() {
		t.Error("the pool needs credentials though the broker has a PLAINTEXT listener")
	}
	if b.frontEnds.gatherer == nil {
		t.Error("the console gets no gatherer though the registerer is a prometheus.Registry")
	}
	console := b.ConsoleAddr()
	if console == "" || !strings.Contains(logs.String(), "console listening") {
		t.Fatalf("console address %q, log:\n%s", console, logs.String())
	}
	page := httpGet(t, "http://"+console+"/", "")
	if !strings.Contains(page, "<html") && !strings.Contains(page, "<!doctype html") && !strings.Contains(page, "<!DOCTYPE html") {
		t.Errorf("console / is not an HTML page: %.200q", page)
	}
	// The overview is the console's Kafka client at work: this broker, and
	// the registry it serves.
	overview := httpGet(t, "http://"+console+"/api/overview", "application/json")
	if !strings.Contains(overview, `"schema_registry":true`) || !strings.Contains(overview, `"brokers":[{`) {
		t.Errorf("console /api/overview: %s", overview)
	}
	resp, err := http.Get("http://" + addr + "/v3/clusters")
	if err != nil {
		t.Fatalf("the http proxy does not answer: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err := poolClient(t, b, webclient.Credentials{User: "ignored", Password: "x"}); err != nil {
		t.Fatalf("the pool's client on PLAINTEXT: %v", err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{addr, console} {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts after Close", a)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := b.frontEnds.clients.ClientFor(ctx, webclient.Credentials{}); !errors.Is(err, webclient.ErrClosed) {
		t.Errorf("the pool after Close: %v, want ErrClosed", err)
	}
}

// TestHTTPFrontEndsSASL: on a broker whose only listener is
// SASL_PLAINTEXT, the pool needs credentials, and a user of each kind
// authenticates with its own mechanism: PLAIN (JAAS), SCRAM-SHA-512,
// SCRAM-SHA-256; no or wrong credentials are ErrUnauthorized.
func TestHTTPFrontEndsSASL(t *testing.T) {
	b, logs := startFrontEnds(t, "--listeners", "SASL_PLAINTEXT://127.0.0.1:0",
		"--set", `sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret";`,
		"--add-scram", "SCRAM-SHA-512=[name=alice,password=alice-secret]",
		"--add-scram", "SCRAM-SHA-256=[name=bob,password=bob-secret]")
	if b.HTTPProxyAddr() == "" || !b.frontEnds.clients.AuthRequired() {
		t.Fatalf("http proxy %q, auth required %v", b.HTTPProxyAddr(), b.frontEnds.clients.AuthRequired())
	}
	for _, c := range []struct {
		cred webclient.Credentials
		mech string
	}{
		{webclient.Credentials{User: "admin", Password: "admin-secret"}, "PLAIN"},
		{webclient.Credentials{User: "alice", Password: "alice-secret"}, "SCRAM-SHA-512"},
		{webclient.Credentials{User: "bob", Password: "bob-secret"}, "SCRAM-SHA-256"},
	} {
		if err := poolClient(t, b, c.cred); err != nil {
			t.Errorf("%s: %v\n%s", c.cred.User, err, logs.String())
		}
		if m := b.webMechanism("SASL_PLAINTEXT", []string{"PLAIN", "SCRAM-SHA-512", "SCRAM-SHA-256"})(c.cred).Name(); m != c.mech {
			t.Errorf("%s authenticates with %s, want %s", c.cred.User, m, c.mech)
		}
	}
	noAuth, _ := http.NewRequest("GET", "http://"+b.HTTPProxyAddr()+"/v3/clusters", nil)
	if _, err := b.frontEnds.clients.Client(noAuth); !errors.Is(err, webclient.ErrUnauthorized) {
		t.Errorf("a request without credentials: %v, want ErrUnauthorized", err)
	}
	for _, cred := range []webclient.Credentials{{User: "alice", Password: "wrong"}, {User: "admin", Password: "alice-secret"}, {User: "nobody", Password: "x"}} {
		if err := poolClient(t, b, cred); !errors.Is(err, webclient.ErrUnauthorized) {
			t.Errorf("%+v: %v, want ErrUnauthorized", cred, err)
		}
	}
}

// TestHTTPFrontEndsTLS: on an SSL-only broker whose certificate names
// neither 127.0.0.1 nor the advertised host, and whose advertised host
// does not resolve, the pool's clients still reach the listener: they dial
// the bound address and trust the listener's own certificate. A listener
// that requires client certificates is not used.
func TestHTTPFrontEndsTLS(t *testing.T) {
	ca := testcerts.NewCA(t, "front-ends-ca")
	leaf := ca.Issue(t, pkix.Name{CommonName: "broker"}, "broker.elsewhere.example")
	tlsArgs := []string{"--set", "ssl.keystore.type=PEM",
		"--set", "ssl.keystore.certificate.chain=" + string(leaf.CertPEM), "--set", "ssl.keystore.key=" + string(leaf.KeyPEM)}
	b, logs := startFrontEnds(t, append([]string{"--listeners", "SSL://127.0.0.1:0",
		"--set", "advertised.listeners=SSL://moldau.invalid:19093"}, tlsArgs...)...)
	if b.HTTPProxyAddr() == "" {
		t.Fatalf("no http proxy:\n%s", logs.String())
	}
	if err := poolClient(t, b, webclient.Credentials{}); err != nil {
		t.Fatalf("the pool's client on SSL: %v", err)
	}

	b2, logs2 := startFrontEnds(t, append([]string{"--listeners", "SSL://127.0.0.1:0", "--set", "ssl.client.auth=required",
		"--set", "ssl.truststore.type=PEM", "--set", "ssl.truststore.certificates=" + string(ca.CertPEM)}, tlsArgs...)...)
	if b2.HTTPProxyAddr() != "" || b2.ConsoleAddr() != "" || !strings.Contains(logs2.String(), "no client listener they can use") {
		t.Errorf("with client certificates required: http proxy %q console %q, log:\n%s", b2.HTTPProxyAddr(), b2.ConsoleAddr(), logs2.String())
	}
}

// TestHTTPFrontEndsOff: Default() leaves both off; an address already in
// use is logged and the broker serves Kafka without that front end.
func TestHTTPFrontEndsOff(t *testing.T) {
	b := newAdminBroker(t, func(c *config.Config) { c.Addr = "127.0.0.1:0" })
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if b.ConsoleAddr() != "" || b.HTTPProxyAddr() != "" || b.frontEnds != nil {
		t.Errorf("Default(): console %q http proxy %q", b.ConsoleAddr(), b.HTTPProxyAddr())
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	b2, logs := startFrontEnds(t, "--console-addr", busy.Addr().String(), "--http-proxy-addr", busy.Addr().String())
	if b2.ConsoleAddr() != "" || b2.HTTPProxyAddr() != "" || b2.frontEnds != nil {
		t.Errorf("busy port: console %q http proxy %q", b2.ConsoleAddr(), b2.HTTPProxyAddr())
	}
	if !strings.Contains(logs.String(), "console disabled") || !strings.Contains(logs.String(), "http proxy disabled") {
		t.Errorf("log:\n%s", logs.String())
	}
	if !b2.Ready() {
		t.Error("the broker is not serving Kafka")
	}
}

func TestDialAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:8080": "127.0.0.1:8080", "[::]:9092": "127.0.0.1:9092", ":9092": "127.0.0.1:9092",
		"127.0.0.1:1": "127.0.0.1:1", "[::1]:5": "[::1]:5", "10.1.2.3:9": "10.1.2.3:9",
	} {
		if got := dialAddr(in); got != want {
			t.Errorf("dialAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

// httpGet GETs url, wants 200 and (unless "") a Content-Type starting with
// contentType, and returns the body.
func httpGet(t *testing.T, url, contentType string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), contentType) {
		t.Errorf("GET %s: %s (%s): %.300s", url, resp.Status, resp.Header.Get("Content-Type"), body)
	}
	return string(body)
}

// TestHTTPFrontEndsProxyRegistry: with the built-in schema registry on,
// the REST proxy gets its client, so a v3 produce naming a schema by
// schema_id or "latest" without a "type" learns the format from the
// registry, as kafka-rest does.
func TestHTTPFrontEndsProxyRegistry(t *testing.T) {
	b, _ := startFrontEnds(t, "--schema-registry-addr", "127.0.0.1:0")
	if err := poolClient(t, b, webclient.Credentials{}); err != nil {
		t.Fatal(err)
	}
	topic := fmt.Sprintf("front-end-%d", topicSeq.Load())
	sch := `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`
	reg, _ := json.Marshal(map[string]string{"schema": sch})
	resp, err := http.Post("http://"+b.SchemaRegistryAddr()+"/subjects/"+topic+"-value/versions", "application/vnd.schemaregistry.v1+json", bytes.NewReader(reg))
	if err != nil {
		t.Fatal(err)
	}
	var id struct{ ID int }
	if err := json.NewDecoder(resp.Body).Decode(&id); err != nil || id.ID == 0 {
		t.Fatalf("registering: %s %v", resp.Status, err)
	}
	resp.Body.Close()
	var clusters struct {
		Data []struct {
			ClusterID string `json:"cluster_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(httpGet(t, "http://"+b.HTTPProxyAddr()+"/v3/clusters", "application/json")), &clusters); err != nil || len(clusters.Data) != 1 {
		t.Fatalf("/v3/clusters: %v %+v", err, clusters)
	}
	url := "http://" + b.HTTPProxyAddr() + "/v3/clusters/" + clusters.Data[0].ClusterID + "/topics/" + topic + "/records"
	for _, value := range []string{
		fmt.Sprintf(`{"schema_id":%d,"data":{"a":1}}`, id.ID),
		`{"data":{"a":2}}`, // the subject's latest version
	} {
		resp, err := http.Post(url, "application/json", strings.NewReader(`{"value":`+value+`}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"type":"AVRO"`) || strings.Contains(string(body), `"error_code":4`) {
			t.Errorf("produce %s: %s %s", value, resp.Status, body)
		}
	}
}

// TestHTTPFrontEndsProxyPartitionID: the pool's clients carry the REST
// proxy's partitioner, so a v3 produce's partition_id is honoured (the
// proxy refuses it with 500 when its clients lack the partitioner).
func TestHTTPFrontEndsProxyPartitionID(t *testing.T) {
	b, _ := startFrontEnds(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := b.frontEnds.clients.ClientFor(ctx, webclient.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	topic := fmt.Sprintf("front-end-parts-%d", topicSeq.Add(1))
	if _, err := c.Admin.CreateTopic(ctx, 4, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	var clusters struct {
		Data []struct {
			ClusterID string `json:"cluster_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(httpGet(t, "http://"+b.HTTPProxyAddr()+"/v3/clusters", "application/json")), &clusters); err != nil || len(clusters.Data) != 1 {
		t.Fatalf("/v3/clusters: %v %+v", err, clusters)
	}
	url := "http://" + b.HTTPProxyAddr() + "/v3/clusters/" + clusters.Data[0].ClusterID + "/topics/" + topic + "/records"
	for _, p := range []int{3, 1, 2, 0} {
		resp, err := http.Post(url, "application/json", strings.NewReader(fmt.Sprintf(`{"partition_id":%d,"value":{"type":"STRING","data":"x"}}`, p)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), fmt.Sprintf(`"partition_id":%d,`, p)) || !strings.Contains(string(body), `"error_code":200`) {
			t.Errorf("produce to partition %d: %s %s", p, resp.Status, body)
		}
	}
}

// TestHTTPFrontEndsConsoleRebinding: the console as wired (bound to
// loopback, behind the request tracker and the server's base context)
// refuses a request whose Host names another site, as a DNS-rebinding
// page's would (console/guard.go decides by the connection's local
// address, which the server still puts in every request's context), and
// answers localhost and its own address.
func TestHTTPFrontEndsConsoleRebinding(t *testing.T) {
	b, _ := startFrontEnds(t)
	_, port, _ := net.SplitHostPort(b.ConsoleAddr())
	for host, want := range map[string]int{
		"attacker.example":         http.StatusForbidden,
		"attacker.example:" + port: http.StatusForbidden,
		"localhost:" + port:        http.StatusOK,
		b.ConsoleAddr():            http.StatusOK,
	} {
		req, _ := http.NewRequest("GET", "http://"+b.ConsoleAddr()+"/api/overview", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %s, want %d", host, resp.Status, want)
		}
	}
}
