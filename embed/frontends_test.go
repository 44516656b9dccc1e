package embed_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moldau/moldau/embed"
)

// getJSON GETs url, wants 200, and decodes the answer into out.
func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}

// TestFrontEndsOption: WithConsole and WithHTTPProxy serve both on their
// own loopback ports (off without them), as Kafka clients of the broker.
func TestFrontEndsOption(t *testing.T) {
	b, err := embed.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.ConsoleURL() != "" || b.HTTPProxyURL() != "" {
		t.Errorf("without the options: console %q http proxy %q", b.ConsoleURL(), b.HTTPProxyURL())
	}
	b2, err := embed.Start(context.Background(), embed.WithConsole(), embed.WithHTTPProxy())
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if !strings.HasPrefix(b2.ConsoleURL(), "http://127.0.0.1:") || !strings.HasPrefix(b2.HTTPProxyURL(), "http://127.0.0.1:") || b2.ConsoleURL() == b2.HTTPProxyURL() {
		t.Fatalf("console %q http proxy %q", b2.ConsoleURL(), b2.HTTPProxyURL())
	}
	var ov struct {
		Brokers []struct {
			Port int `json:"port"`
		} `json:"brokers"`
	}
	getJSON(t, b2.ConsoleURL()+"/api/overview", &ov)
	if len(ov.Brokers) != 1 || !strings.HasSuffix(b2.Addr(), ":"+strconv.Itoa(ov.Brokers[0].Port)) {
		t.Errorf("console overview brokers %+v, want this broker (%s)", ov.Brokers, b2.Addr())
	}
	var clusters struct {
		Data []struct {
			ClusterID string `json:"cluster_id"`
		} `json:"data"`
	}
	getJSON(t, b2.HTTPProxyURL()+"/v3/clusters", &clusters)
	if len(clusters.Data) != 1 || clusters.Data[0].ClusterID == "" {
		t.Errorf("/v3/clusters: %+v", clusters)
	}
}

// TestClusterFrontEnds: every node of a cluster serves its own console and
// HTTP proxy, and each sees every node (its clients reach the other nodes
// at their advertised addresses).
func TestClusterFrontEnds(t *testing.T) {
	c := newCluster(t, 3, embed.WithConsole(), embed.WithHTTPProxy())
	for i := range 3 {
		if c.ConsoleURL(i) == "" || c.HTTPProxyURL(i) == "" {
			t.Fatalf("node %d: console %q http proxy %q", i, c.ConsoleURL(i), c.HTTPProxyURL(i))
		}
		var brokers struct {
			Data []struct {
				BrokerID int `json:"broker_id"`
			} `json:"data"`
		}
		var clusters struct {
			Data []struct {
				ClusterID string `json:"cluster_id"`
			} `json:"data"`
		}
		getJSON(t, c.HTTPProxyURL(i)+"/v3/clusters", &clusters)
		if len(clusters.Data) != 1 {
			t.Fatalf("node %d /v3/clusters: %+v", i, clusters)
		}
		getJSON(t, c.HTTPProxyURL(i)+"/v3/clusters/"+clusters.Data[0].ClusterID+"/brokers", &brokers)
		if len(brokers.Data) != 3 {
			t.Errorf("node %d's http proxy lists brokers %+v, want 3", i, brokers.Data)
		}
		var ov struct {
			Brokers []json.RawMessage `json:"brokers"`
		}
		getJSON(t, c.ConsoleURL(i)+"/api/overview", &ov)
		if len(ov.Brokers) != 3 {
			t.Errorf("node %d's console overview: %d brokers, want 3", i, len(ov.Brokers))
		}
	}
}

// TestClusterFrontEndsRestart: a stopped node's console and HTTP proxy stop
// answering (their URLs are ""), the others keep serving, and RestartNode
// serves them again on the same ports, the old server's sockets released
// by the graceful stop.
func TestClusterFrontEndsRestart(t *testing.T) {
	c := newCluster(t, 3, embed.WithConsole(), embed.WithHTTPProxy())
	console, proxy := c.ConsoleURL(1), c.HTTPProxyURL(1)
	if err := c.StopNode(1); err != nil {
		t.Fatal(err)
	}
	if c.ConsoleURL(1) != "" || c.HTTPProxyURL(1) != "" {
		t.Errorf("stopped node: console %q http proxy %q", c.ConsoleURL(1), c.HTTPProxyURL(1))
	}
	client := &http.Client{Timeout: 2 * time.Second}
	for _, url := range []string{console + "/api/overview", proxy + "/v3/clusters"} {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			t.Errorf("stopped node still answers %s: %s", url, resp.Status)
		}
	}
	var ov struct {
		Brokers []json.RawMessage `json:"brokers"`
	}
	getJSON(t, c.ConsoleURL(0)+"/api/overview", &ov)
	if len(ov.Brokers) == 0 {
		t.Error("node 0's console lists no broker with node 1 stopped")
	}
	if err := c.RestartNode(1); err != nil {
		t.Fatal(err)
	}
	if c.ConsoleURL(1) != console || c.HTTPProxyURL(1) != proxy {
		t.Fatalf("restarted node: console %q http proxy %q, want %q %q", c.ConsoleURL(1), c.HTTPProxyURL(1), console, proxy)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	getJSON(t, console+"/api/overview", &ov)
	if len(ov.Brokers) != 3 {
		t.Errorf("restarted node's console lists %d brokers, want 3", len(ov.Brokers))
	}
	var clusters struct {
		Data []json.RawMessage `json:"data"`
	}
	getJSON(t, proxy+"/v3/clusters", &clusters)
}
