package console

// Fuzz targets for the console API's request decoding, without a broker
// (the handlers call these same functions before any Kafka call): the
// message browser's query, the produce body, the reset-offsets body. Bad
// input gets a 4xx *httpError ({"error"} on the wire), never a panic; what
// passes is in the ranges API.md states. Seeds are API.md's shapes; failing
// inputs found are kept under testdata/fuzz.

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// requestError fails t unless err is an *httpError with a 4xx status.
func requestError(t *testing.T, what string, err error) {
	t.Helper()
	he, ok := errors.AsType[*httpError](err)
	if !ok {
		t.Fatalf("%s: %T %v, want an *httpError", what, err, err)
	}
	if he.status < 400 || he.status > 499 || he.msg == "" {
		t.Fatalf("%s: status %d %q, want a 4xx with a message", what, he.status, he.msg)
	}
	if strings.Contains(he.msg, "Go struct") || strings.Contains(he.msg, "Go value") {
		t.Fatalf("%s: message %q names Go internals", what, he.msg)
	}
}

// bodyRequest is a POST with data as its body, bounded as apiHandler
// bounds it.
func bodyRequest(data []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/x", bytes.NewReader(data))
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, maxBody)
	return r
}

// FuzzBrowseQuery parses the message browser's query string.
func FuzzBrowseQuery(f *testing.F) {
	for _, s := range []string{"", "partition=0&start=earliest&limit=50", "start=offset&offset=42&key=k",
		"start=timestamp&timestamp=1700000000000&max_scan=100000", "partition=-1&start=latest&limit=500",
		"start=offset&offset=-1", "offset=9223372036854775808&start=offset", "limit=0", "partition=2147483648",
		"start=%ZZ", "key=%E2%82%AC&key=second"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		values, _ := url.ParseQuery(raw) // as r.URL.Query(): what parses
		q, err := parseBrowseQuery(values)
		if err != nil {
			requestError(t, "browse", err)
			return
		}
		switch {
		case q.partition < -1:
			t.Fatalf("partition %d accepted", q.partition)
		case q.limit < 1 || q.limit > maxLimit:
			t.Fatalf("limit %d accepted", q.limit)
		case q.maxScan < 1 || q.maxScan > maxMaxScan:
			t.Fatalf("max_scan %d accepted", q.maxScan)
		case q.offset < 0 || q.timestamp < 0:
			t.Fatalf("offset %d, timestamp %d accepted", q.offset, q.timestamp)
		}
		switch q.start {
		case "latest", "earliest", "offset", "timestamp":
		default:
			t.Fatalf("start %q accepted", q.start)
		}
	})
}

// FuzzProduceBody parses a produce body and encodes its key and value in
// the formats that need no schema registry.
func FuzzProduceBody(f *testing.F) {
	for _, s := range []string{
		`{"partition":0,"key":"k","value":"v","headers":[{"key":"h","value":"x"}],"key_format":"string","value_format":"string"}`,
		`{"value":"{\"a\":1}","value_format":"json"}`,
		`{"key":"a2V5","key_format":"base64","value":"dmFs\n","value_format":"binary"}`,
		`{"value":"{\"name\":\"x\"}","value_format":"avro","value_schema_id":1}`,
		`{"partition":-2}`, `{"headers":[{"value":"x"}]}`, `{"value_format":"xml","value":"<a/>"}`,
		`{"partition":2147483648}`, `{"headers":{}}`, ``, `{}{}`, `[`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := parseProduceRequest(bodyRequest(data))
		if err != nil {
			requestError(t, "produce", err)
			return
		}
		if req.Partition != nil && *req.Partition < -1 {
			t.Fatalf("partition %d accepted", *req.Partition)
		}
		for _, h := range req.Headers {
			if h.Key == "" {
				t.Fatalf("a header without a key accepted")
			}
		}
		for _, fl := range []struct {
			which, format string
			text          *string
		}{{"key", req.KeyFormat, req.Key}, {"value", req.ValueFormat, req.Value}} {
			b, sf, err := plainField(fl.which, fl.format, fl.text)
			if err != nil {
				requestError(t, fl.which, err)
				continue
			}
			if fl.text == nil && (b != nil || sf != "") {
				t.Fatalf("%s: null encoded as %q/%q", fl.which, b, sf)
			}
		}
	})
}

// FuzzResetOffsets parses a reset-offsets body.
func FuzzResetOffsets(f *testing.F) {
	for _, s := range []string{
		`{"topic":"orders","to":"earliest"}`, `{"topic":"orders","partitions":[0,1],"to":"latest"}`,
		`{"topic":"orders","partitions":[2],"to":"offset","offset":42}`,
		`{"topic":"orders","to":"timestamp","timestamp":1700000000000}`,
		`{"topic":"orders","to":"offset","offset":-1}`, `{"topic":"orders","to":"offset","offset":9223372036854775808}`,
		`{"topic":"orders","partitions":[-1],"to":"latest"}`, `{"to":"latest"}`, `{"topic":"t","to":"middle"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := parseResetRequest(bodyRequest(data))
		if err != nil {
			requestError(t, "reset", err)
			return
		}
		if req.Topic == "" {
			t.Fatalf("no topic accepted")
		}
		for _, p := range req.Partitions {
			if p < 0 {
				t.Fatalf("partition %d accepted", p)
			}
		}
		switch req.To {
		case "earliest", "latest":
		case "offset":
			if req.Offset == nil || *req.Offset < 0 {
				t.Fatalf("offset %v accepted", req.Offset)
			}
		case "timestamp":
			if req.Timestamp == nil || *req.Timestamp < 0 {
				t.Fatalf("timestamp %v accepted", req.Timestamp)
			}
		default:
			t.Fatalf("to %q accepted", req.To)
		}
	})
}
