package restproxy_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// produceResults decodes a produce answer: one JSON object per record.
func produceResults(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	var out []map[string]any
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("produce answer: %v\n%s", err, body)
		}
		out = append(out, m)
	}
}

func TestV3Produce(t *testing.T) {
	p := newProxy(t)
	cid := clusterID(t, p)
	p.createTopic(t, "topic-1", 3, nil)
	records := "/v3/clusters/" + cid + "/topics/topic-1/records"

	// Confluent's binary_and_json example.
	r := p.do(t, "POST", records, `{"partition_id":1,
		"headers":[{"name":"Header-1","value":"SGVhZGVyLTE="},{"name":"Header-2","value":"SGVhZGVyLTI="}],
		"key":{"type":"BINARY","data":"Zm9vYmFy"},"value":{"type":"JSON","data":{"foo": "bar"}},
		"timestamp":"2021-02-05T19:14:42Z"}`)
	wantStatus(t, r, http.StatusOK)
	res := produceResults(t, r.Body)
	if len(res) != 1 {
		t.Fatalf("%d results: %s", len(res), r.Body)
	}
	want := map[string]any{
		"error_code": 200.0, "cluster_id": cid, "topic_name": "topic-1", "partition_id": 1.0, "offset": 0.0,
		"timestamp": "2021-02-05T19:14:42Z",
		"key":       map[string]any{"type": "BINARY", "size": 6.0},
		"value":     map[string]any{"type": "JSON", "size": 13.0},
	}
	if got, _ := json.Marshal(res[0]); !bytes.Equal(got, mustJSON(t, want)) {
		t.Errorf("produce result\n got %s\nwant %s", got, mustJSON(t, want))
	}
	// STRING value only, no key.
	r = p.do(t, "POST", records, `{"partition_id":1,"value":{"type":"STRING","data":"My message"}}`)
	res = produceResults(t, r.Body)
	if res[0]["error_code"] != 200.0 || res[0]["offset"] != 1.0 || res[0]["key"] != nil {
		t.Errorf("string produce: %s", r.Body)
	}
	// Null data and an absent key: a null value of size -1.
	r = p.do(t, "POST", records, `{"partition_id":1,"value":{"type":"BINARY","data":null}}`)
	res = produceResults(t, r.Body)
	if res[0]["error_code"] != 200.0 || field(res[0], "value", "size") != -1.0 {
		t.Errorf("null produce: %s", r.Body)
	}

	got := p.consume(t, "topic-1", 3)
	if string(got[0].Key) != "foobar" || string(got[0].Value) != `{"foo":"bar"}` || got[0].Partition != 1 {
		t.Errorf("record 0: key %q value %q partition %d", got[0].Key, got[0].Value, got[0].Partition)
	}
	if len(got[0].Headers) != 2 || got[0].Headers[0].Key != "Header-1" || string(got[0].Headers[0].Value) != "Header-1" ||
		got[0].Headers[1].Key != "Header-2" || string(got[0].Headers[1].Value) != "Header-2" {
		t.Errorf("headers %+v", got[0].Headers)
	}
	if !got[0].Timestamp.Equal(time.Date(2021, 2, 5, 19, 14, 42, 0, time.UTC)) {
		t.Errorf("timestamp %v", got[0].Timestamp)
	}
	if got[1].Key != nil || string(got[1].Value) != "My message" || got[2].Value != nil {
		t.Errorf("records 1, 2: %+v %+v", got[1], got[2])
	}

	// Per-record errors answer 200 with the error in the record's place.
	for _, c := range []struct {
		body string
		code float64
	}{
		{`{"value":{"type":"BINARY","data":1}}`, 400},
		{`{"value":{"type":"BINARY","data":"fooba"}}`, 400},
		{`{"value":{"type":"STRING","data":"x","schema_id":1}}`, 400},
		{`{"value":{"type":"NOPE","data":"x"}}`, 400},
		{`{"partition_id":9,"value":{"type":"STRING","data":"x"}}`, 40402},
		{`{"value":{"type":"AVRO","schema":"{\"type\":\"string\"}","data":"x"}}`, 42206}, // no registry
		{`{"value":{"data":"x"}}`, 42206},
		{`{"headers":[{"name":"h","value":"not base64!"}]}`, 400},
	} {
		r := p.do(t, "POST", records, c.body)
		wantStatus(t, r, http.StatusOK)
		res := produceResults(t, r.Body)
		if len(res) != 1 || res[0]["error_code"] != c.code || res[0]["message"] == nil || res[0]["offset"] != nil {
			t.Errorf("%s: %s (want error_code %v)", c.body, r.Body, c.code)
		}
	}

	// Errors before streaming.
	wantError(t, p.do(t, "POST", "/v3/clusters/"+cid+"/topics/nope/records", `{"value":{"type":"STRING","data":"x"}}`), http.StatusNotFound, 40403)
	wantError(t, p.do(t, "POST", records, ""), http.StatusUnprocessableEntity, 42206)
	wantError(t, p.do(t, "POST", "/v3/clusters/other/topics/topic-1/records", `{}`), http.StatusNotFound, 404)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestV3ProduceStreaming(t *testing.T) {
	p := newProxy(t)
	cid := clusterID(t, p)
	p.createTopic(t, "stream", 1, nil)
	records := "/v3/clusters/" + cid + "/topics/stream/records"

	// 100 concatenated records, one of them bad: 100 answers in order.
	var body strings.Builder
	for i := range 100 {
		if i == 50 {
			body.WriteString(`{"value":{"type":"BINARY","data":"???"}}` + "\n")
			continue
		}
		fmt.Fprintf(&body, `{"key":{"type":"STRING","data":"k%d"},"value":{"type":"JSON","data":{"n":%d}}}`, i, i)
	}
	r := p.do(t, "POST", records, body.String())
	wantStatus(t, r, http.StatusOK)
	res := produceResults(t, r.Body)
	if len(res) != 100 {
		t.Fatalf("%d results for 100 records", len(res))
	}
	next := 0.0
	for i, m := range res {
		if i == 50 {
			if m["error_code"] != 400.0 {
				t.Errorf("record 50: %v", m)
			}
			continue
		}
		if m["error_code"] != 200.0 || m["offset"] != next {
			t.Fatalf("record %d: %v (want offset %v)", i, m, next)
		}
		next++
	}
	got := p.consume(t, "stream", 99)
	for i, rec := range got {
		n := i
		if i >= 50 {
			n = i + 1
		}
		if string(rec.Key) != fmt.Sprintf("k%d", n) || string(rec.Value) != fmt.Sprintf(`{"n":%d}`, n) {
			t.Fatalf("record %d: %q %q", i, rec.Key, rec.Value)
		}
	}

	// Each record is answered as it is acknowledged, while the request
	// body is still open: send one, read its answer, send the next.
	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", p.URL+records, pr)
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
	if _, err := io.WriteString(pw, `{"value":{"type":"STRING","data":"live-0"}}`); err != nil {
		t.Fatal(err)
	}
	a := <-ans
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer a.resp.Body.Close()
	wantStatus(t, response{Status: a.resp.StatusCode}, http.StatusOK)
	rd := bufio.NewReader(a.resp.Body)
	for i := range 3 {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["error_code"] != 200.0 || m["offset"] != float64(99+i) {
			t.Fatalf("answer %d: %q %v", i, line, err)
		}
		if i < 2 {
			if _, err := fmt.Fprintf(pw, `{"value":{"type":"STRING","data":"live-%d"}}`, i+1); err != nil {
				t.Fatal(err)
			}
		}
	}
	pw.Close()
	if rest, _ := io.ReadAll(rd); len(bytes.TrimSpace(rest)) != 0 {
		t.Errorf("trailing answer %q", rest)
	}
}
