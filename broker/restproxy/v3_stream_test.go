package restproxy_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestV3ProduceStreamOutlivesServerTimeouts: a streaming produce lasts as
// long as the client keeps sending records, though the HTTP server's
// ReadTimeout and WriteTimeout (60 s and 2 min in broker/http_wiring.go,
// 300 ms here) pass: each record read and each answer written extends
// the connection's deadlines.
func TestV3ProduceStreamOutlivesServerTimeouts(t *testing.T) {
	p := newProxy(t, withHTTPServer(func(s *http.Server) {
		s.ReadTimeout = 300 * time.Millisecond
		s.WriteTimeout = 300 * time.Millisecond
	}))
	cid := clusterID(t, p)
	p.createTopic(t, "long-stream", 1, nil)

	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequest("POST", p.URL+"/v3/clusters/"+cid+"/topics/long-stream/records", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	type answer struct {
		resp *http.Response
		err  error
	}
	ans := make(chan answer, 1)
	go func() {
		resp, err := p.client.Do(req)
		ans <- answer{resp, err}
	}()
	send := func(i int) {
		t.Helper()
		if _, err := fmt.Fprintf(pw, `{"value":{"type":"STRING","data":"slow-%d"}}`, i); err != nil {
			t.Fatalf("sending record %d: %v", i, err)
		}
	}
	send(0)
	a := <-ans
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer a.resp.Body.Close()
	wantStatus(t, response{Status: a.resp.StatusCode}, http.StatusOK)
	rd := bufio.NewReader(a.resp.Body)
	const n = 6 // 6 × 150 ms: three times the server's timeouts
	for i := range n {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("answer %d after %v: %v", i, time.Duration(i)*150*time.Millisecond, err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["error_code"] != 200.0 || m["offset"] != float64(i) {
			t.Fatalf("answer %d: %q %v", i, line, err)
		}
		if i < n-1 {
			time.Sleep(150 * time.Millisecond)
			send(i + 1)
		}
	}
	pw.Close()
	if rest, err := io.ReadAll(rd); err != nil || len(rest) != 0 {
		t.Errorf("after the stream: %q %v", rest, err)
	}
}

// TestV3ProduceRecordTooLarge: one record's JSON is bounded (8 MiB); a
// larger one ends the stream with a 413 answer after the records before
// it, instead of being buffered whole.
func TestV3ProduceRecordTooLarge(t *testing.T) {
	p := newProxy(t)
	cid := clusterID(t, p)
	p.createTopic(t, "big", 1, nil)
	big := strings.Repeat("x", 9<<20)
	body := `{"value":{"type":"STRING","data":"small"}}` +
		`{"value":{"type":"STRING","data":"` + big + `"}}` +
		`{"value":{"type":"STRING","data":"after"}}`
	r := p.do(t, "POST", "/v3/clusters/"+cid+"/topics/big/records", body)
	wantStatus(t, r, http.StatusOK)
	res := produceResults(t, r.Body)
	if len(res) != 2 || res[0]["error_code"] != 200.0 || res[1]["error_code"] != 413.0 {
		t.Fatalf("answers: %.300s", r.Body)
	}
	if got := p.consume(t, "big", 1); string(got[0].Value) != "small" {
		t.Errorf("record %q", got[0].Value)
	}
}

// TestV3ProduceStreamConnectionLost: when the connection of a stream
// breaks (here closed by the server side, as a proxy or a network might),
// the handler returns rather than answering the broken body's error for
// ever (httptest's Close waits for every handler).
func TestV3ProduceStreamConnectionLost(t *testing.T) {
	p := newProxy(t)
	cid := clusterID(t, p)
	p.createTopic(t, "gone", 1, nil)
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequest("POST", p.URL+"/v3/clusters/"+cid+"/topics/gone/records", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	go func() { _, _ = io.WriteString(pw, `{"value":{"type":"STRING","data":"one"}}`) }()
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, `"error_code":200`) {
		t.Fatalf("first answer %q %v", line, err)
	}
	p.HTTP.CloseClientConnections()
	closed := make(chan struct{})
	go func() { p.HTTP.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the produce handler still runs 10 s after its connection broke")
	}
}
