package restproxy_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/broker/restproxy"
)

// v2Consumer creates a binary consumer instance reading topic from the
// start and returns its base path.
func (p *proxy) v2Consumer(t *testing.T, group, topic, extra string) string {
	t.Helper()
	r := p.do(t, "POST", "/consumers/"+group, `{"name":"i","format":"binary","auto.offset.reset":"earliest"`+extra+`}`,
		"Content-Type", "application/vnd.kafka.v2+json")
	wantStatus(t, r, http.StatusOK)
	base := "/consumers/" + group + "/instances/i"
	wantStatus(t, p.do(t, "POST", base+"/subscription", `{"topics":["`+topic+`"]}`,
		"Content-Type", "application/vnd.kafka.v2+json"), http.StatusNoContent)
	return base
}

// produceN produces n records of size bytes to topic with Kafka's API.
func (p *proxy) produceN(t *testing.T, topic string, n, size int) {
	t.Helper()
	cl, _ := p.kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for range n {
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(strings.Repeat("v", size))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestV2RecordsOutlivesWriteTimeout: a records read waits up to its
// timeout (consumer.request.timeout.ms) before answering, which may be
// longer than the server's WriteTimeout (2 min in broker/http_wiring.go,
// 300 ms here): the answer still arrives.
func TestV2RecordsOutlivesWriteTimeout(t *testing.T) {
	p := newProxy(t, withHTTPServer(func(s *http.Server) { s.WriteTimeout = 300 * time.Millisecond }))
	p.createTopic(t, "v2-slow", 1, nil)
	base := p.v2Consumer(t, "v2-slow-g", "v2-slow", `,"consumer.request.timeout.ms":1200`)
	start := time.Now()
	r := p.do(t, "GET", base+"/records?timeout=1200", nil, "Accept", "application/vnd.kafka.binary.v2+json")
	wantStatus(t, r, http.StatusOK)
	if string(r.Body) != "[]\n" || time.Since(start) < time.Second {
		t.Fatalf("after %v: %s", time.Since(start), r.Body)
	}
}

// TestV2RecordsMaxBytes: consumer.request.max.bytes bounds every answer,
// with or without max_bytes (kafka-rest takes the smaller).
func TestV2RecordsMaxBytes(t *testing.T) {
	p := newProxy(t, withConfig(func(c *restproxy.Config) { c.ConsumerRequestMaxBytes = 250 }))
	p.createTopic(t, "v2-max", 1, nil)
	p.produceN(t, "v2-max", 10, 100)
	base := p.v2Consumer(t, "v2-max-g", "v2-max", "")
	got := 0
	deadline := time.Now().Add(20 * time.Second)
	for got < 10 && time.Now().Before(deadline) {
		for _, q := range []string{"?timeout=500", "?timeout=500&max_bytes=100000"} {
			r := p.do(t, "GET", base+"/records"+q, nil, "Accept", "application/vnd.kafka.binary.v2+json")
			wantStatus(t, r, http.StatusOK)
			n := len(r.JSON(t).([]any))
			if n > 2 {
				t.Fatalf("%d records of 100 bytes in an answer of at most 250 bytes", n)
			}
			got += n
		}
	}
	if got != 10 {
		t.Fatalf("read %d of 10 records", got)
	}
}

// TestV2ConcurrentReads: two reads of one instance at once take turns;
// each record is answered once.
func TestV2ConcurrentReads(t *testing.T) {
	p := newProxy(t)
	p.createTopic(t, "v2-conc", 1, nil)
	p.produceN(t, "v2-conc", 50, 10)
	base := p.v2Consumer(t, "v2-conc-g", "v2-conc", `,"consumer.request.timeout.ms":300`)
	var (
		mu      sync.Mutex
		offsets = map[float64]int{}
		wg      sync.WaitGroup
	)
	deadline := time.Now().Add(20 * time.Second)
	for range 2 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				mu.Lock()
				done := len(offsets) == 50
				mu.Unlock()
				if done {
					return
				}
				req, _ := http.NewRequest("GET", p.URL+base+"/records?max_bytes=100", nil)
				req.Header.Set("Accept", "application/vnd.kafka.binary.v2+json")
				resp, err := p.client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				r := response{Status: resp.StatusCode}
				var recs []map[string]any
				err = jsonDecode(resp, &recs)
				if err != nil || r.Status != http.StatusOK {
					t.Errorf("status %d: %v", r.Status, err)
					return
				}
				mu.Lock()
				for _, rec := range recs {
					offsets[rec["offset"].(float64)]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(offsets) != 50 {
		t.Fatalf("read %d of 50 offsets", len(offsets))
	}
	for o, n := range offsets {
		if n != 1 {
			t.Errorf("offset %v answered %d times", o, n)
		}
	}
}

// TestV2CloseEndsInstances: Server.Close commits what the instances
// answered (auto commit) and leaves their groups; later requests answer
// 503 or 404, not a hang.
func TestV2CloseEndsInstances(t *testing.T) {
	p := newProxy(t)
	p.createTopic(t, "v2-close", 1, nil)
	p.produceN(t, "v2-close", 3, 5)
	base := p.v2Consumer(t, "v2-close-g", "v2-close", "")
	p.readRecords(t, base, "application/vnd.kafka.binary.v2+json", 3)
	p.Server.Close()
	_, adm := p.kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := adm.DescribeGroups(ctx, "v2-close-g")
	if err != nil {
		t.Fatal(err)
	}
	if g := d["v2-close-g"]; g.State != "Empty" || len(g.Members) != 0 {
		t.Errorf("group after Close: %s with %d members", g.State, len(g.Members))
	}
	offs, err := adm.FetchOffsets(ctx, "v2-close-g")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup("v2-close", 0); o.At != 3 {
		t.Errorf("committed %d, want 3", o.At)
	}
	wantError(t, p.do(t, "GET", base+"/subscription", nil), http.StatusNotFound, 40403)
	wantError(t, p.do(t, "POST", "/consumers/v2-close-g", `{}`, "Content-Type", "application/vnd.kafka.v2+json"), 503, 50302)
}
