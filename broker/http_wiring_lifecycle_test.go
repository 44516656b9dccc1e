package broker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moldau/moldau/broker/webclient"
)

// TestHTTPFrontEndsCloseWithRequestsInFlight: requests that would outlive
// the shutdown budget on both front ends at once (a REST Proxy v3
// streaming produce whose client keeps the body open, a v2 long poll of
// consumer.request.timeout.ms 60 s, a console client that sent its
// headers but not its body) do not hold Close beyond frontEndShutdown:
// the two servers shut down in parallel, and at the budget their
// connections are closed and their handlers' contexts canceled. Every
// handler has returned before the front ends and their Kafka clients are
// closed.
func TestHTTPFrontEndsCloseWithRequestsInFlight(t *testing.T) {
	b, logs := startFrontEnds(t)
	if err := poolClient(t, b, webclient.Credentials{}); err != nil {
		t.Fatal(err)
	}
	topic := fmt.Sprintf("front-end-%d", topicSeq.Load())
	proxy, console := "http://"+b.HTTPProxyAddr(), "http://"+b.ConsoleAddr()
	var clusters struct {
		Data []struct {
			ClusterID string `json:"cluster_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(httpGet(t, proxy+"/v3/clusters", "application/json")), &clusters); err != nil || len(clusters.Data) != 1 {
		t.Fatalf("/v3/clusters: %v %+v", err, clusters)
	}

	// A streaming produce: one record answered, the body left open.
	body, bodyW := io.Pipe()
	defer bodyW.Close()
	req, _ := http.NewRequest("POST", proxy+"/v3/clusters/"+clusters.Data[0].ClusterID+"/topics/"+topic+"/records", body)
	req.Header.Set("Content-Type", "application/json")
	streamed := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("streaming produce: %v", err)
			close(streamed)
			return
		}
		streamed <- resp
	}()
	if _, err := bodyW.Write([]byte(`{"value":{"type":"JSON","data":1}}` + "\n")); err != nil {
		t.Fatal(err)
	}
	resp, ok := <-streamed
	if !ok {
		t.FailNow()
	}
	defer resp.Body.Close()
	lines := bufio.NewReader(resp.Body)
	first, err := lines.ReadString('\n')
	if err != nil || !strings.Contains(first, `"offset":0`) {
		t.Fatalf("streaming produce: first answer %q, %v", first, err)
	}

	// A v2 long poll that would wait 60 s.
	const v2JSON = "application/vnd.kafka.v2+json"
	post := func(path, body string) {
		t.Helper()
		r, err := http.Post(proxy+path, v2JSON, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %s %s", path, r.Status, out)
		}
	}
	post("/consumers/lifecycle", `{"name":"i","format":"json","auto.offset.reset":"latest","fetch.min.bytes":"1000000","consumer.request.timeout.ms":60000}`)
	post("/consumers/lifecycle/instances/i/subscription", `{"topics":["`+topic+`"]}`)
	polled := make(chan error, 1)
	go func() {
		r, _ := http.NewRequest("GET", proxy+"/consumers/lifecycle/instances/i/records", nil)
		r.Header.Set("Accept", "application/vnd.kafka.json.v2+json")
		resp, err := http.DefaultClient.Do(r)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		polled <- err
	}()

	// A console client that sends its headers and not its body.
	slow, err := net.Dial("tcp", b.ConsoleAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /api/topics HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", b.ConsoleAddr())
	_ = console

	// Everything is in flight once both servers count their handlers.
	deadline := time.Now().Add(10 * time.Second)
	for b.frontEnds.proxy.inFlight.running() < 2 || b.frontEnds.console.inFlight.running() < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("in flight: proxy %d console %d", b.frontEnds.proxy.inFlight.running(), b.frontEnds.console.inFlight.running())
		}
		time.Sleep(20 * time.Millisecond)
	}

	start := time.Now()
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if took > frontEndShutdown+time.Second {
		t.Errorf("Close took %v with requests in flight, want at most the %v budget", took, frontEndShutdown)
	}
	if took < frontEndShutdown-frontEndForceGrace-time.Second {
		t.Errorf("Close took %v: the requests in flight got no grace period", took)
	}
	for _, f := range []*httpFrontEnd{b.frontEnds.console, b.frontEnds.proxy} {
		if n := f.inFlight.running(); n != 0 {
			t.Errorf("%s: %d handlers still running after Close", f.name, n)
		}
	}
	select {
	case <-polled:
	case <-time.After(5 * time.Second):
		t.Error("the v2 long poll is still waiting after Close")
	}
	if strings.Contains(logs.String(), "closing under them") {
		t.Errorf("handlers did not return within the budget:\n%s", logs.String())
	}
}
