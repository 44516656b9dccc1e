package restproxy_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/moldau/moldau/broker/restproxy"
	"github.com/moldau/moldau/broker/webclient"
	"github.com/moldau/moldau/embed"
)

// readRecords GETs an instance's records until n have arrived (or fails
// after 20 s), as a REST Proxy client polls.
func (p *proxy) readRecords(t *testing.T, base, accept string, n int, header ...string) []any {
	t.Helper()
	var out []any
	deadline := time.Now().Add(20 * time.Second)
	for len(out) < n {
		if time.Now().After(deadline) {
			t.Fatalf("read %d of %d records: %v", len(out), n, out)
		}
		r := p.do(t, "GET", base+"/records?timeout=500", nil, append([]string{"Accept", accept}, header...)...)
		wantStatus(t, r, 200)
		if ct := r.Header.Get("Content-Type"); ct != accept {
			t.Fatalf("records Content-Type %q, want %q", ct, accept)
		}
		out = append(out, r.JSON(t).([]any)...)
	}
	return out
}

// TestV2ConsumerFlow replays Confluent's documented v2 flow: produce JSON,
// create a consumer, subscribe, fetch, commit, read the committed offsets,
// delete the instance.
func TestV2ConsumerFlow(t *testing.T) {
	p := newProxy(t)
	p.createTopic(t, "v2-flow", 1, nil)
	wantStatus(t, p.do(t, "POST", "/topics/v2-flow", `{"records":[{"value":{"foo":"bar"}},{"key":"k","value":[1,2]},{"value":53.5}]}`,
		"Content-Type", v2JSONFmt), 200)

	r := p.do(t, "POST", "/consumers/v2-flow-group",
		`{"name":"my_consumer_instance","format":"json","auto.offset.reset":"earliest"}`, "Content-Type", v2JSON)
	wantStatus(t, r, 200)
	m := r.Object(t)
	base := "/consumers/v2-flow-group/instances/my_consumer_instance"
	if m["instance_id"] != "my_consumer_instance" || m["base_uri"] != p.URL+base {
		t.Fatalf("create: %s", r.Body)
	}
	wantError(t, p.do(t, "POST", "/consumers/v2-flow-group", `{"name":"my_consumer_instance","format":"json"}`, "Content-Type", v2JSON), 409, 40902)

	r = p.do(t, "POST", base+"/subscription", `{"topics":["v2-flow"]}`, "Content-Type", v2JSON)
	wantStatus(t, r, 204)
	r = p.do(t, "GET", base+"/subscription", nil)
	wantStatus(t, r, 200)
	if fmt.Sprint(r.Object(t)["topics"]) != "[v2-flow]" {
		t.Errorf("subscription: %s", r.Body)
	}

	// The instance is json: a binary read is refused.
	wantError(t, p.do(t, "GET", base+"/records", nil, "Accept", v2Binary), 406, 40601)
	wantError(t, p.do(t, "GET", base+"/records", nil, "Accept", "text/plain"), 406, 406)

	recs := p.readRecords(t, base, v2JSONFmt, 3)
	if len(recs) != 3 {
		t.Fatalf("records: %v", recs)
	}
	if field(recs[0], "topic") != "v2-flow" || field(recs[0], "value", "foo") != "bar" || field(recs[0], "key") != nil ||
		field(recs[0], "partition") != 0.0 || field(recs[0], "offset") != 0.0 {
		t.Errorf("record 0: %v", recs[0])
	}
	if field(recs[1], "key") != "k" || field(recs[1], "value", "1") != 2.0 || field(recs[2], "value") != 53.5 {
		t.Errorf("records: %v", recs)
	}

	r = p.do(t, "GET", base+"/assignments", nil)
	wantStatus(t, r, 200)
	if field(r.Object(t), "partitions", "0", "topic") != "v2-flow" {
		t.Errorf("assignments: %s", r.Body)
	}
	wantError(t, p.do(t, "POST", base+"/assignments", `{"partitions":[{"topic":"v2-flow","partition":0}]}`, "Content-Type", v2JSON), 409, 40903)

	// Commit everything read, then read the committed offsets back.
	r = p.do(t, "POST", base+"/offsets", nil, "Content-Type", v2JSON)
	wantStatus(t, r, 200)
	r = p.do(t, "GET", base+"/offsets", `{"partitions":[{"topic":"v2-flow","partition":0}]}`, "Content-Type", v2JSON)
	wantStatus(t, r, 200)
	if o := field(r.Object(t), "offsets", "0"); field(o, "topic") != "v2-flow" || field(o, "partition") != 0.0 || field(o, "offset") != 3.0 {
		t.Errorf("committed: %s", r.Body)
	}
	wantError(t, p.do(t, "GET", base+"/offsets", nil), 404, 40402)

	// Explicit commit: the offset given is the last processed one.
	wantStatus(t, p.do(t, "POST", base+"/offsets", `{"offsets":[{"topic":"v2-flow","partition":0,"offset":0,"metadata":"flow"}]}`, "Content-Type", v2JSON), 200)
	r = p.do(t, "GET", base+"/offsets", `{"partitions":[{"topic":"v2-flow","partition":0}]}`, "Content-Type", v2JSON)
	if o := field(r.Object(t), "offsets", "0"); field(o, "offset") != 1.0 || field(o, "metadata") != "flow" {
		t.Errorf("committed after explicit commit: %s", r.Body)
	}

	wantStatus(t, p.do(t, "DELETE", base+"/subscription", nil), 204)
	r = p.do(t, "GET", base+"/subscription", nil)
	if fmt.Sprint(r.Object(t)["topics"]) != "[]" {
		t.Errorf("after unsubscribe: %s", r.Body)
	}
	wantError(t, p.do(t, "GET", base+"/records", nil, "Accept", v2JSONFmt), 409, 40903)

	wantStatus(t, p.do(t, "DELETE", base, nil, "Content-Type", v2JSON), 204)
	wantError(t, p.do(t, "DELETE", base, nil), 404, 40403)
	wantError(t, p.do(t, "GET", base+"/records", nil, "Accept", v2JSONFmt), 404, 40403)
}

// TestV2ConsumerAssignAndSeek: manual assignment, positions, explicit
// commits, binary records.
func TestV2ConsumerAssignAndSeek(t *testing.T) {
	p := newProxy(t)
	p.createTopic(t, "v2-assign", 2, nil)
	wantStatus(t, p.do(t, "POST", "/topics/v2-assign/partitions/1", `{"records":[{"value":"YQ=="},{"value":"Yg=="},{"value":"Yw=="}]}`,
		"Content-Type", v2Binary), 200)

	r := p.do(t, "POST", "/consumers/v2-assign-group", `{"format":"binary","auto.commit.enable":"false"}`, "Content-Type", v2JSON)
	wantStatus(t, r, 200)
	id, _ := r.Object(t)["instance_id"].(string)
	if !strings.HasPrefix(id, "rest-consumer-") {
		t.Fatalf("generated name %q", id)
	}
	base := "/consumers/v2-assign-group/instances/" + id

	wantError(t, p.do(t, "POST", base+"/positions/beginning", `{"partitions":[{"topic":"v2-assign","partition":1}]}`, "Content-Type", v2JSON), 409, 40903)
	wantStatus(t, p.do(t, "POST", base+"/assignments", `{"partitions":[{"topic":"v2-assign","partition":1}]}`, "Content-Type", v2JSON), 204)
	r = p.do(t, "GET", base+"/assignments", nil)
	if fmt.Sprint(r.Object(t)["partitions"]) != "[map[partition:1 topic:v2-assign]]" {
		t.Errorf("assignments: %s", r.Body)
	}
	wantError(t, p.do(t, "POST", base+"/subscription", `{"topics":["v2-assign"]}`, "Content-Type", v2JSON), 409, 40903)
	wantError(t, p.do(t, "POST", base+"/positions", `{"offsets":[{"topic":"v2-assign","partition":0,"offset":0}]}`, "Content-Type", v2JSON), 409, 40903)

	// Default reset is latest: seek to the beginning first.
	wantStatus(t, p.do(t, "POST", base+"/positions/beginning", `{"partitions":[{"topic":"v2-assign","partition":1}]}`, "Content-Type", v2JSON), 204)
	recs := p.readRecords(t, base, v2Binary, 3)
	if field(recs[0], "value") != "YQ==" || field(recs[2], "value") != "Yw==" || field(recs[2], "offset") != 2.0 || field(recs[0], "key") != nil {
		t.Errorf("records: %v", recs)
	}

	// Back to offset 1; max_bytes 1 answers one record at a time.
	wantStatus(t, p.do(t, "POST", base+"/positions", `{"offsets":[{"topic":"v2-assign","partition":1,"offset":1}]}`, "Content-Type", v2JSON), 204)
	var one []any
	for deadline := time.Now().Add(10 * time.Second); len(one) == 0 && time.Now().Before(deadline); {
		r = p.do(t, "GET", base+"/records?timeout=300&max_bytes=1", nil, "Accept", v2Binary)
		wantStatus(t, r, 200)
		one = r.JSON(t).([]any)
	}
	if len(one) != 1 || field(one[0], "offset") != 1.0 {
		t.Fatalf("after seek, max_bytes=1: %v", one)
	}

	// Nothing is committed without auto commit; an explicit commit of
	// offset 1 commits 2.
	r = p.do(t, "GET", base+"/offsets", `{"partitions":[{"topic":"v2-assign","partition":1}]}`, "Content-Type", v2JSON)
	if fmt.Sprint(r.Object(t)["offsets"]) != "[]" {
		t.Errorf("committed before commit: %s", r.Body)
	}
	wantStatus(t, p.do(t, "POST", base+"/offsets", `{"offsets":[{"topic":"v2-assign","partition":1,"offset":1,"metadata":"m"}]}`, "Content-Type", v2JSON), 200)
	r = p.do(t, "GET", base+"/offsets", `{"partitions":[{"topic":"v2-assign","partition":1},{"topic":"v2-assign","partition":0}]}`, "Content-Type", v2JSON)
	if o := field(r.Object(t), "offsets"); fmt.Sprint(o) != "[map[metadata:m offset:2 partition:1 topic:v2-assign]]" {
		t.Errorf("committed: %s", r.Body)
	}

	// At the end nothing more comes.
	wantStatus(t, p.do(t, "POST", base+"/positions/end", `{"partitions":[{"topic":"v2-assign","partition":1}]}`, "Content-Type", v2JSON), 204)
	r = p.do(t, "GET", base+"/records?timeout=300", nil, "Accept", v2Binary)
	if string(r.Body) != "[]\n" {
		t.Errorf("records at the end: %s", r.Body)
	}

	// A new instance of the group starts from the committed offset.
	wantStatus(t, p.do(t, "POST", "/consumers/v2-assign-group", `{"name":"second"}`, "Content-Type", v2JSON), 200)
	second := "/consumers/v2-assign-group/instances/second"
	wantStatus(t, p.do(t, "POST", second+"/assignments", `{"partitions":[{"topic":"v2-assign","partition":1}]}`, "Content-Type", v2JSON), 204)
	recs = p.readRecords(t, second, v2Binary, 1)
	if field(recs[0], "offset") != 2.0 {
		t.Errorf("second instance starts at %v", recs[0])
	}
}

func TestV2ConsumerErrors(t *testing.T) {
	p := newProxy(t)
	wantError(t, p.do(t, "POST", "/consumers/g", `{"format":"xml"}`, "Content-Type", v2JSON), 422, 42204)
	wantError(t, p.do(t, "POST", "/consumers/g", `{"format":"avro"}`, "Content-Type", v2JSON), 422, 42204) // no registry
	wantError(t, p.do(t, "POST", "/consumers/g", `{"auto.offset.reset":"sometimes"}`, "Content-Type", v2JSON), 422, 42204)
	wantError(t, p.do(t, "POST", "/consumers/g", `{"auto.commit.enable":"perhaps"}`, "Content-Type", v2JSON), 422, 42204)
	wantError(t, p.do(t, "POST", "/consumers/g", `{"name":"x"}`, "Content-Type", "text/plain"), 415, 415)
	wantError(t, p.do(t, "GET", "/consumers/g/instances/none/subscription", nil), 404, 40403)
	wantError(t, p.do(t, "POST", "/consumers/g/instances/none/subscription", `{"topics":["a"]}`, "Content-Type", v2JSON), 404, 40403)

	wantStatus(t, p.do(t, "POST", "/consumers/g", `{"name":"i","fetch.min.bytes":"1","consumer.request.timeout.ms":200}`, "Content-Type", v2JSON), 200)
	base := "/consumers/g/instances/i"
	wantError(t, p.do(t, "GET", base+"/records", nil), 409, 40903)
	wantError(t, p.do(t, "POST", base+"/subscription", `{}`, "Content-Type", v2JSON), 422, 422)
	wantStatus(t, p.do(t, "POST", base+"/subscription", `{"topic_pattern":"v2-pat-.*"}`, "Content-Type", v2JSON), 204)
	wantError(t, p.do(t, "POST", base+"/subscription", `{"topics":["x"]}`, "Content-Type", v2JSON), 409, 40903)
	wantStatus(t, p.do(t, "POST", base+"/subscription", `{"topic_pattern":"v2-other-.*"}`, "Content-Type", v2JSON), 204)
}

// TestV2ConsumerPattern: a topic_pattern subscription matches whole names.
func TestV2ConsumerPattern(t *testing.T) {
	p := newProxy(t)
	p.createTopic(t, "v2-pat-a", 1, nil)
	p.createTopic(t, "x-v2-pat-b", 1, nil)
	wantStatus(t, p.do(t, "POST", "/topics/v2-pat-a", `{"records":[{"value":"YQ=="}]}`, "Content-Type", v2Binary), 200)
	wantStatus(t, p.do(t, "POST", "/topics/x-v2-pat-b", `{"records":[{"value":"Yg=="}]}`, "Content-Type", v2Binary), 200)
	wantStatus(t, p.do(t, "POST", "/consumers/pg", `{"name":"i","auto.offset.reset":"earliest"}`, "Content-Type", v2JSON), 200)
	base := "/consumers/pg/instances/i"
	wantStatus(t, p.do(t, "POST", base+"/subscription", `{"topic_pattern":"v2-pat-.*"}`, "Content-Type", v2JSON), 204)
	recs := p.readRecords(t, base, v2Binary, 1)
	r := p.do(t, "GET", base+"/records?timeout=300", nil)
	recs = append(recs, r.JSON(t).([]any)...)
	if len(recs) != 1 || field(recs[0], "topic") != "v2-pat-a" {
		t.Errorf("pattern records: %v", recs)
	}
	r = p.do(t, "GET", base+"/subscription", nil)
	if fmt.Sprint(r.Object(t)["topics"]) != "[v2-pat-a]" {
		t.Errorf("pattern subscription: %s", r.Body)
	}
}

// TestV2ConsumerExpiry: an instance unused for consumer.instance.timeout.ms
// is gone.
func TestV2ConsumerExpiry(t *testing.T) {
	p := newProxy(t, withConfig(func(c *restproxy.Config) { c.ConsumerInstanceTimeout = 300 * time.Millisecond }))
	wantStatus(t, p.do(t, "POST", "/consumers/eg", `{"name":"i"}`, "Content-Type", v2JSON), 200)
	wantStatus(t, p.do(t, "GET", "/consumers/eg/instances/i/subscription", nil), 200)
	deadline := time.Now().Add(10 * time.Second)
	for {
		time.Sleep(100 * time.Millisecond)
		r := p.do(t, "GET", "/consumers/eg/instances/i/assignments", nil)
		if r.Status == http.StatusNotFound {
			wantError(t, r, 404, 40403)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance still there: %d %s", r.Status, r.Body)
		}
		time.Sleep(500 * time.Millisecond) // longer than the timeout
	}
}

// TestV2Auth: with a SASL listener every request needs Basic credentials,
// and an instance belongs to the principal that created it.
func TestV2Auth(t *testing.T) {
	p := newProxy(t,
		withEmbed(embed.WithListeners(embed.Listener{Name: "SASL_PLAINTEXT"}),
			embed.WithSASLUser(embed.MechanismPlain, "alice", "alice-secret"),
			embed.WithSASLUser(embed.MechanismPlain, "bob", "bob-secret")),
		withPool(func(c *webclient.Config, b *embed.Broker) {
			c.Opts = []kgo.Opt{kgo.SeedBrokers(b.ListenerAddr("SASL_PLAINTEXT"))}
			c.AuthRequired = true
			c.Mechanism = func(cr webclient.Credentials) sasl.Mechanism {
				return plain.Auth{User: cr.User, Pass: cr.Password}.AsMechanism()
			}
		}))
	basic := func(u, pw string) string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(u, pw)
		return req.Header.Get("Authorization")
	}
	alice, bob := basic("alice", "alice-secret"), basic("bob", "bob-secret")

	r := p.do(t, "GET", "/topics", nil)
	wantError(t, r, 401, 40101)
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("401 without a challenge")
	}
	wantError(t, p.do(t, "GET", "/brokers", nil, "Authorization", basic("alice", "wrong")), 401, 40101)
	wantStatus(t, p.do(t, "GET", "/brokers", nil, "Authorization", alice), 200)

	p.createTopic(t, "v2-auth", 1, nil)
	wantStatus(t, p.do(t, "POST", "/consumers/ag", `{"name":"i","auto.offset.reset":"earliest"}`, "Content-Type", v2JSON, "Authorization", alice), 200)
	base := "/consumers/ag/instances/i"
	wantError(t, p.do(t, "GET", base+"/subscription", nil, "Authorization", bob), 404, 40403)
	wantError(t, p.do(t, "GET", base+"/subscription", nil), 401, 40101)
	wantStatus(t, p.do(t, "POST", "/topics/v2-auth", `{"records":[{"value":"YQ=="}]}`, "Content-Type", v2Binary, "Authorization", alice), 200)
	wantStatus(t, p.do(t, "POST", base+"/subscription", `{"topics":["v2-auth"]}`, "Content-Type", v2JSON, "Authorization", alice), 204)
	recs := p.readRecords(t, base, v2Binary, 1, "Authorization", alice)
	if field(recs[0], "value") != "YQ==" {
		t.Errorf("records: %v", recs)
	}
	wantError(t, p.do(t, "DELETE", base, nil, "Authorization", bob), 404, 40403)
	wantStatus(t, p.do(t, "DELETE", base, nil, "Authorization", alice), 204)
}

// TestV2ConsumerGroupShares: two instances of one group split a topic's
// partitions and together read every record once.
func TestV2ConsumerGroupShares(t *testing.T) {
	p := newProxy(t)
	p.createTopic(t, "v2-share", 2, nil)
	for part := range 2 {
		wantStatus(t, p.do(t, "POST", fmt.Sprintf("/topics/v2-share/partitions/%d", part), `{"records":[{"value":"YQ=="}]}`, "Content-Type", v2Binary), 200)
	}
	var bases []string
	for _, name := range []string{"a", "b"} {
		wantStatus(t, p.do(t, "POST", "/consumers/v2-share-group", `{"name":"`+name+`","auto.offset.reset":"earliest"}`, "Content-Type", v2JSON), 200)
		base := "/consumers/v2-share-group/instances/" + name
		wantStatus(t, p.do(t, "POST", base+"/subscription", `{"topics":["v2-share"]}`, "Content-Type", v2JSON), 204)
		bases = append(bases, base)
	}
	// Wait until each instance holds one partition.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got []string
		for _, base := range bases {
			r := p.do(t, "GET", base+"/assignments", nil)
			wantStatus(t, r, 200)
			got = append(got, fmt.Sprint(r.Object(t)["partitions"]))
		}
		if got[0] != got[1] && strings.Count(got[0], "topic:") == 1 && strings.Count(got[1], "topic:") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("assignments never split: %v", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	seen := map[string]int{}
	deadline = time.Now().Add(30 * time.Second)
	for len(seen) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("records seen: %v", seen)
		}
		for _, base := range bases {
			r := p.do(t, "GET", base+"/records?timeout=300", nil)
			wantStatus(t, r, 200)
			for _, rec := range r.JSON(t).([]any) {
				seen[fmt.Sprint(field(rec, "partition"), "@", field(rec, "offset"))]++
			}
		}
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("record %s read %d times", k, n)
		}
	}
}
