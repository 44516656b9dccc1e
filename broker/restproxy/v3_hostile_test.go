package restproxy_test

// Hostile but well-formed requests to the v3 API through the real handlers
// and a real broker: each answers Confluent's error shape with a sensible
// status (Kafka's own error where Kafka judges), quickly, and a long
// streaming produce holds bounded memory.

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// deepJSON is n nested JSON arrays: beyond encoding/json's nesting limit
// (10000) it is refused as it is scanned, in time and memory linear in n.
func deepJSON(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// noLeak fails when an error message shows Go's internals.
func noLeak(t *testing.T, r response) {
	t.Helper()
	for _, leak := range []string{"Go struct", "Go value", "restproxy.", "goroutine", "panic"} {
		if strings.Contains(string(r.Body), leak) {
			t.Errorf("answer names Go internals (%q): %s", leak, r.Body)
		}
	}
}

func TestV3HostileCreateTopic(t *testing.T) {
	p := newProxy(t)
	cid := clusterID(t, p)
	path := "/v3/clusters/" + cid + "/topics"
	for _, tc := range []struct {
		name         string
		body         string
		status, code int
	}{
		// Kafka's limits: the broker refuses (InvalidPartitions,
		// InvalidReplicationFactor), kafka-rest maps to 400 40002.
		{"partitions_count max int32", `{"topic_name":"p-huge","partitions_count":2147483647}`, 400, 40002},
		{"partitions_count 0", `{"topic_name":"p-zero","partitions_count":0}`, 400, 40002},
		{"partitions_count -2", `{"topic_name":"p-neg","partitions_count":-2}`, 400, 40002},
		{"replication_factor 0", `{"topic_name":"rf-zero","replication_factor":0}`, 400, 40002},
		{"replication_factor 32767", `{"topic_name":"rf-max","replication_factor":32767}`, 400, 40002},
		{"replication_factor -1 is the default", `{"topic_name":"rf-default","replication_factor":-1,"partitions_count":1}`, 201, 0},
		{"assignment with a count", `{"topic_name":"a-both","partitions_count":1,"replicas_assignments":{"0":[1]}}`, 400, 40002},
		// Numbers beyond the field's type: a JSON shape error.
		{"partitions_count beyond int32", `{"topic_name":"p-int64","partitions_count":2147483648}`, 400, 400},
		{"partitions_count beyond int64", `{"topic_name":"p-big","partitions_count":123456789012345678901234567890}`, 400, 400},
		{"replication_factor beyond int16", `{"topic_name":"rf-big","replication_factor":32768}`, 400, 400},
		// Kafka's topic name rules (kafka-rest: 422 42206).
		{"name with slash", `{"topic_name":"a/b"}`, 422, 42206},
		{"name ..", `{"topic_name":".."}`, 422, 42206},
		{"name %2F", `{"topic_name":"a%2Fb"}`, 422, 42206},
		{"name 250 chars", `{"topic_name":"` + strings.Repeat("n", 250) + `"}`, 422, 42206},
		{"name 249 chars", `{"topic_name":"` + strings.Repeat("n", 249) + `","partitions_count":1}`, 201, 0},
		{"name unicode", `{"topic_name":"tópico"}`, 422, 42206},
		{"name empty", `{"topic_name":""}`, 422, 42206},
		// Malformed.
		{"deep JSON in configs", `{"topic_name":"deep","configs":` + deepJSON(100000) + `}`, 400, 400},
		{"empty body", ``, 422, 42206},
		{"not an object", `[1]`, 400, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := p.do(t, "POST", path, tc.body)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("answered in %v", d)
			}
			if tc.code == 0 {
				wantStatus(t, r, tc.status)
				return
			}
			wantError(t, r, tc.status, tc.code)
			noLeak(t, r)
		})
	}
}

func TestV3HostileTopicPaths(t *testing.T) {
	p := newProxy(t)
	cid := clusterID(t, p)
	for _, name := range []string{"a%2Fb", "%2E%2E", "a%252Fb", strings.Repeat("n", 250), "t%C3%B3pico", "%00"} {
		t.Run(name, func(t *testing.T) {
			r := p.do(t, "GET", "/v3/clusters/"+cid+"/topics/"+name, nil)
			if r.Status >= 500 {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			if r.Status >= 400 {
				wantError(t, r, r.Status, int(r.Object(t)["error_code"].(float64)))
			}
			r = p.do(t, "POST", "/v3/clusters/"+cid+"/topics/"+name+"/records", `{"value":{"type":"STRING","data":"x"}}`)
			if r.Status >= 500 {
				t.Fatalf("produce: status %d: %s", r.Status, r.Body)
			}
		})
	}
}

func TestV3HostileAlterConfigs(t *testing.T) {
	p := newProxy(t)
	cid := clusterID(t, p)
	p.createTopic(t, "cfg", 1, nil)
	path := "/v3/clusters/" + cid + "/topics/cfg/configs:alter"
	for _, tc := range []struct {
		name         string
		body         string
		status, code int
	}{
		{"unknown operation", `{"data":[{"name":"retention.ms","value":"1","operation":"APPEND"}]}`, 400, 400},
		{"unknown config", `{"data":[{"name":"no.such.config","value":"1"}]}`, 400, 40002},
		{"value out of range", `{"data":[{"name":"retention.ms","value":"99999999999999999999999"}]}`, 400, 40002},
		{"data not a list", `{"data":{"name":"retention.ms"}}`, 400, 400},
		{"deep JSON", `{"data":` + deepJSON(100000) + `}`, 400, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := p.do(t, "POST", path, tc.body)
			wantError(t, r, tc.status, tc.code)
			noLeak(t, r)
		})
	}
}

// produceLines posts body as a streaming produce and returns its answers.
func produceLines(t *testing.T, p *proxy, cid, topic, body string) []map[string]any {
	t.Helper()
	r := p.do(t, "POST", "/v3/clusters/"+cid+"/topics/"+topic+"/records", body)
	wantStatus(t, r, http.StatusOK)
	var out []map[string]any
	dec := json.NewDecoder(strings.NewReader(string(r.Body)))
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("answer %d: %v\n%s", len(out), err, r.Body)
		}
		out = append(out, m)
	}
}

func TestV3HostileProduce(t *testing.T) {
	p := newProxy(t)
	cid := clusterID(t, p)
	p.createTopic(t, "hostile", 2, nil)
	code := func(m map[string]any) int { c, _ := m["error_code"].(float64); return int(c) }
	for _, tc := range []struct {
		name  string
		body  string
		codes []int // each record's error_code, in order
	}{
		{"base64 with a line break", `{"value":{"type":"BINARY","data":"Zm9v\nYmFy"}}`, []int{200}},
		{"base64 URL alphabet", `{"value":{"type":"BINARY","data":"-_-_"}}`, []int{400}},
		{"partition_id beyond int64, then a good record",
			`{"partition_id":123456789012345678901234567890}{"value":{"type":"STRING","data":"after"}}`, []int{400, 200}},
		{"partition_id out of range", `{"partition_id":2}{"partition_id":-1}`, []int{40402, 40402}},
		{"bad timestamp, then a good record", `{"timestamp":"yesterday"}{"value":{"type":"STRING","data":"after"}}`, []int{400, 200}},
		{"header not base64, then a good record", `{"headers":[{"name":"h","value":"!"}]}{"value":{"type":"STRING","data":"after"}}`, []int{400, 200}},
		{"null record", `null{"value":{"type":"STRING","data":"after"}}`, []int{400, 200}},
		{"deep JSON value ends the stream", `{"value":{"type":"STRING","data":"first"}}{"value":{"type":"JSON","data":` + deepJSON(100000) + `}}`, []int{200, 400}},
		{"JSON number beyond int64 kept as written", `{"value":{"type":"JSON","data":123456789012345678901234567890}}`, []int{200}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			got := produceLines(t, p, cid, "hostile", tc.body)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("answered in %v", d)
			}
			if len(got) != len(tc.codes) {
				t.Fatalf("%d answers, want %d: %v", len(got), len(tc.codes), got)
			}
			for i, m := range got {
				if code(m) != tc.codes[i] {
					t.Errorf("record %d: error_code %d, want %d: %v", i, code(m), tc.codes[i], m)
				}
				if msg, _ := m["message"].(string); code(m) != 200 && (msg == "" || strings.Contains(msg, "Go struct")) {
					t.Errorf("record %d: message %q", i, msg)
				}
			}
		})
	}
}

// recordSource generates a streaming produce body of n records on the fly
// (the test holds none of it).
type recordSource struct {
	n, sent int
	buf     []byte
	record  []byte
}

func (s *recordSource) Read(p []byte) (int, error) {
	for len(s.buf) < len(p) && s.sent < s.n {
		s.buf = append(s.buf, s.record...)
		s.sent++
	}
	if len(s.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.buf)
	s.buf = s.buf[:copy(s.buf, s.buf[n:])]
	return n, nil
}

// TestV3ProduceStreamBoundedMemory streams 100 MB of tiny records (to a
// partition the topic lacks, so each is answered without Kafka: what is
// measured is the proxy's reading and answering) and samples the heap
// meanwhile: it stays within a few records' buffers, not the body's size.
func TestV3ProduceStreamBoundedMemory(t *testing.T) {
	p := newProxy(t)
	cid := clusterID(t, p)
	p.createTopic(t, "bounded", 1, nil)
	record := []byte(`{"partition_id":7,"value":{"type":"STRING","data":"` + strings.Repeat("x", 40) + `"}}` + "\n")
	total := streamBodyBytes
	src := &recordSource{n: total / len(record), record: record}

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()

	req, err := http.NewRequest("POST", p.URL+"/v3/clusters/"+cid+"/topics/bounded/records", src)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	answers := 0
	for sc.Scan() {
		if !strings.Contains(sc.Text(), `"error_code":40402`) {
			t.Fatalf("answer %d: %s", answers, sc.Text())
		}
		answers++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-sampled
	if answers != src.n {
		t.Fatalf("%d answers to %d records", answers, src.n)
	}
	grew := int64(peak.Load()) - int64(base)
	t.Logf("%d records, %d MB in %v; heap in use grew by at most %d MB", src.n, total>>20, time.Since(start).Round(time.Millisecond), grew>>20)
	if grew > 64<<20 {
		t.Errorf("heap in use grew by %d MB streaming %d MB", grew>>20, total>>20)
	}
}

// TestV3ProduceStreamErrorKeepsConnection: a stream that ends early on
// malformed JSON, with the rest of its body unread, leaves its keep-alive
// connection usable: the next request on it is answered (net/http's
// full-duplex close raced its next read and panicked, golang/go#68560;
// timing-dependent, so several rounds).
func TestV3ProduceStreamErrorKeepsConnection(t *testing.T) {
	p := newProxy(t)
	cid := clusterID(t, p)
	p.createTopic(t, "early-end", 1, nil)
	body := `{"value":{"type":"STRING","data":"a"}}{"value":` + deepJSON(100000) + `}`
	for i := range 40 {
		got := produceLines(t, p, cid, "early-end", body)
		if len(got) != 2 {
			t.Fatalf("round %d: %d answers: %v", i, len(got), got)
		}
		// A POST: the client does not retry it on another connection.
		if got := produceLines(t, p, cid, "early-end", `{"value":{"type":"STRING","data":"next"}}`); len(got) != 1 {
			t.Fatalf("round %d: the next request's answers: %v", i, got)
		}
	}
}
