package tests

// The REST Proxy API (--http-proxy-addr, issue #19) through real curl, as
// Confluent's documentation drives it: the v3 cluster lookup, topic
// creation and JSON produce examples, then the v2 produce and the v2
// consumer quickstart (create an instance, subscribe, fetch records until
// they arrive, commit, delete the instance). What curl produced is read back
// with franz-go, and the commit is checked with kadm. The handlers' own
// tests live in broker/restproxy; this one is the binary end to end. Under
// CI a missing curl fails.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/tests/harness"
)

// curlCall runs curl with args plus the URL and returns the HTTP status and
// the body.
func curlCall(t *testing.T, curl string, url string, args ...string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	marker := "\n@@status "
	args = append([]string{"-sS", "-w", marker + "%{http_code}"}, args...)
	cmd := exec.CommandContext(ctx, curl, append(args, url)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %v %s: %v\n%s", args, url, err, stderr.String())
	}
	i := bytes.LastIndex(out, []byte(marker))
	if i < 0 {
		t.Fatalf("curl %s: no status in %q", url, out)
	}
	status, err := strconv.Atoi(string(out[i+len(marker):]))
	if err != nil {
		t.Fatalf("curl %s: status %q", url, out[i+len(marker):])
	}
	return status, out[:i]
}

// curlJSON is curlCall that wants status and decodes the body into v (nil:
// no body expected).
func curlJSON(t *testing.T, curl, url string, want int, v any, args ...string) {
	t.Helper()
	status, body := curlCall(t, curl, url, args...)
	if status != want {
		t.Fatalf("curl %v %s: status %d, want %d: %s", args, url, status, want, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("curl %s: %v in %s", url, err, body)
		}
	}
}

func TestRestProxyCurl(t *testing.T) {
	curl := testenv.RequireTool(t, "curl", "make deps (Debian's curl)")
	addr := freeLoopbackPort(t)
	p := harness.Start(t, "--http-proxy-addr", addr, "--set", "group.initial.rebalance.delay.ms=0")
	base := "http://" + addr
	testenv.WaitFor(t, 30*time.Second, base+"/v3/clusters to answer 200", func() bool {
		resp, err := http.Get(base + "/v3/clusters")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	const topic = "curl-orders"
	jsonCT := []string{"-H", "Content-Type: application/json"}

	// v3: GET /v3/clusters names the one cluster.
	var clusters struct {
		Kind string `json:"kind"`
		Data []struct {
			ClusterID string `json:"cluster_id"`
		} `json:"data"`
	}
	curlJSON(t, curl, base+"/v3/clusters", http.StatusOK, &clusters)
	if clusters.Kind != "KafkaClusterList" || len(clusters.Data) != 1 || clusters.Data[0].ClusterID == "" {
		t.Fatalf("GET /v3/clusters: %+v, want one KafkaClusterList entry with a cluster_id", clusters)
	}
	cluster := base + "/v3/clusters/" + clusters.Data[0].ClusterID

	// v3: create the topic, then produce JSON and BINARY records.
	var created struct {
		TopicName       string `json:"topic_name"`
		PartitionsCount int    `json:"partitions_count"`
	}
	curlJSON(t, curl, cluster+"/topics", http.StatusCreated, &created,
		append(jsonCT, "-X", "POST", "--data", `{"topic_name":"`+topic+`","partitions_count":1,"replication_factor":1}`)...)
	if created.TopicName != topic {
		t.Fatalf("created %+v, want topic_name %s", created, topic)
	}
	type produced struct {
		ErrorCode   int    `json:"error_code"`
		TopicName   string `json:"topic_name"`
		PartitionID int32  `json:"partition_id"`
		Offset      int64  `json:"offset"`
		Key         *struct {
			Type string `json:"type"`
			Size int    `json:"size"`
		} `json:"key"`
	}
	for i, body := range []string{
		`{"key":{"type":"JSON","data":"key1"},"value":{"type":"JSON","data":{"foo":"bar"}}}`,
		`{"key":{"type":"JSON","data":"key2"},"value":{"type":"JSON","data":[1,2,3]}}`,
	} {
		var r produced
		curlJSON(t, curl, cluster+"/topics/"+topic+"/records", http.StatusOK, &r, append(jsonCT, "-X", "POST", "--data", body)...)
		if r.ErrorCode != 200 || r.TopicName != topic || r.PartitionID != 0 || r.Offset != int64(i) || r.Key == nil || r.Key.Type != "JSON" {
			t.Fatalf("v3 produce %s: %+v, want error_code 200 at %s/0 offset %d with a JSON key", body, r, topic, i)
		}
	}
	// BINARY goes into a topic of its own: the v2 JSON consumer below
	// reads only JSON.
	curlJSON(t, curl, cluster+"/topics", http.StatusCreated, nil,
		append(jsonCT, "-X", "POST", "--data", `{"topic_name":"curl-bytes","partitions_count":1,"replication_factor":1}`)...)
	var rb produced
	curlJSON(t, curl, cluster+"/topics/curl-bytes/records", http.StatusOK, &rb,
		append(jsonCT, "-X", "POST", "--data", `{"key":{"type":"BINARY","data":"a2V5Mg=="},"value":{"type":"BINARY","data":"aGVsbG8="}}`)...)
	if rb.ErrorCode != 200 || rb.Offset != 0 || rb.Key == nil || rb.Key.Type != "BINARY" || rb.Key.Size != 4 {
		t.Fatalf("v3 BINARY produce: %+v, want error_code 200 at offset 0 with a 4-byte BINARY key", rb)
	}

	// A partition_id is honoured (Confluent's documented produce request
	// names one): the binary's proxy routes it there.
	curlJSON(t, curl, cluster+"/topics", http.StatusCreated, nil,
		append(jsonCT, "-X", "POST", "--data", `{"topic_name":"curl-parts","partitions_count":3,"replication_factor":1}`)...)
	for _, p := range []int32{2, 0, 1, 2} {
		var rp produced
		curlJSON(t, curl, cluster+"/topics/curl-parts/records", http.StatusOK, &rp,
			append(jsonCT, "-X", "POST", "--data", fmt.Sprintf(`{"partition_id":%d,"value":{"type":"STRING","data":"p%d"}}`, p, p))...)
		if rp.ErrorCode != 200 || rp.PartitionID != p {
			t.Fatalf("v3 produce with partition_id %d: %+v", p, rp)
		}
	}

	// v2: produce an embedded JSON value.
	var v2produced struct {
		Offsets []struct {
			Partition int32   `json:"partition"`
			Offset    int64   `json:"offset"`
			ErrorCode *int    `json:"error_code"`
			Error     *string `json:"error"`
		} `json:"offsets"`
	}
	curlJSON(t, curl, base+"/topics/"+topic, http.StatusOK, &v2produced, "-X", "POST",
		"-H", "Content-Type: application/vnd.kafka.json.v2+json", "-H", "Accept: application/vnd.kafka.v2+json",
		"--data", `{"records":[{"key":"key3","value":{"foo":"baz"}}]}`)
	if len(v2produced.Offsets) != 1 || v2produced.Offsets[0].Offset != 2 || v2produced.Offsets[0].ErrorCode != nil {
		t.Fatalf("v2 produce: %+v, want one record at offset 2", v2produced)
	}

	// What a Kafka client reads: JSON is stored as its JSON text, BINARY as
	// the decoded bytes.
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr), kgo.ConsumeTopics(topic, "curl-bytes"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []string
	for len(got) < 4 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of 4 records: %v", len(got), err)
		}
		for _, e := range fs.Errors() {
			t.Fatal(e.Err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, fmt.Sprintf("%s@%d %s=%s", r.Topic, r.Offset, r.Key, r.Value)) })
	}
	slices.Sort(got)
	if want := []string{`curl-bytes@0 key2=hello`, `curl-orders@0 "key1"={"foo":"bar"}`, `curl-orders@1 "key2"=[1,2,3]`,
		`curl-orders@2 "key3"={"foo":"baz"}`}; !slices.Equal(got, want) {
		t.Fatalf("records %q, want %q", got, want)
	}

	// v2 consumer quickstart.
	v2CT := []string{"-H", "Content-Type: application/vnd.kafka.v2+json"}
	var instance struct {
		InstanceID string `json:"instance_id"`
		BaseURI    string `json:"base_uri"`
	}
	curlJSON(t, curl, base+"/consumers/curl_json_consumer", http.StatusOK, &instance,
		append(v2CT, "-X", "POST", "--data", `{"name":"curl_instance","format":"json","auto.offset.reset":"earliest"}`)...)
	if instance.InstanceID != "curl_instance" || instance.BaseURI != base+"/consumers/curl_json_consumer/instances/curl_instance" {
		t.Fatalf("consumer instance %+v", instance)
	}
	curlJSON(t, curl, instance.BaseURI+"/subscription", http.StatusNoContent, nil,
		append(v2CT, "-X", "POST", "--data", `{"topics":["`+topic+`"]}`)...)
	type v2record struct {
		Topic     string          `json:"topic"`
		Key       json.RawMessage `json:"key"`
		Value     json.RawMessage `json:"value"`
		Partition int32           `json:"partition"`
		Offset    int64           `json:"offset"`
	}
	// The first fetches may answer [] while the instance joins its group
	// (as the documentation says); JSON-embedded records come back as JSON.
	var records []v2record
	testenv.WaitFor(t, 30*time.Second, "the v2 consumer to return the topic's records", func() bool {
		var batch []v2record
		status, body := curlCall(t, curl, instance.BaseURI+"/records", "-H", "Accept: application/vnd.kafka.json.v2+json")
		if status != http.StatusOK {
			t.Fatalf("GET records: status %d: %s", status, body)
		}
		if err := json.Unmarshal(body, &batch); err != nil {
			t.Fatalf("GET records: %v in %s", err, body)
		}
		records = append(records, batch...)
		return len(records) > 0 && records[len(records)-1].Offset >= 2
	})
	var fetched []string
	for _, r := range records {
		fetched = append(fetched, fmt.Sprintf("%s/%d@%d %s=%s", r.Topic, r.Partition, r.Offset, compactJSON(r.Key), compactJSON(r.Value)))
	}
	if want := []string{`curl-orders/0@0 "key1"={"foo":"bar"}`, `curl-orders/0@1 "key2"=[1,2,3]`,
		`curl-orders/0@2 "key3"={"foo":"baz"}`}; !slices.Equal(fetched, want) {
		t.Fatalf("v2 records %q, want %q", fetched, want)
	}

	// Commit what was fetched (an empty body commits every fetched
	// record), read the committed offsets back, then delete the instance.
	curlJSON(t, curl, instance.BaseURI+"/offsets", http.StatusOK, nil, append(v2CT, "-X", "POST")...)
	committed, err := kadm.NewClient(cl).FetchOffsets(ctx, "curl_json_consumer")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := committed.Lookup(topic, 0); !ok || o.Err != nil || o.At != 3 {
		t.Fatalf("committed offset of curl_json_consumer on %s/0: %+v (found %v), want 3", topic, o, ok)
	}
	curlJSON(t, curl, instance.BaseURI, http.StatusNoContent, nil, append(v2CT, "-X", "DELETE")...)
	status, body := curlCall(t, curl, instance.BaseURI+"/records", "-H", "Accept: application/vnd.kafka.json.v2+json")
	if status != http.StatusNotFound {
		t.Fatalf("GET records after DELETE: status %d (%s), want 404", status, body)
	}
	t.Logf("curl: cluster %s, v3 produced 3 records, v2 produced 1, the v2 consumer fetched %d and committed offset 3",
		clusters.Data[0].ClusterID, len(records))
}

// compactJSON is raw without insignificant whitespace (raw itself when it
// is not JSON).
func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}
