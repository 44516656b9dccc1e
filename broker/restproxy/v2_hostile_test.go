package restproxy_test

// Hostile but well-formed requests to the v2 API through the real handlers
// and a real broker: Confluent's error shape with a sensible status,
// quickly; Kafka's own answer where Kafka judges.

import (
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestV2HostileProduce(t *testing.T) {
	p := newProxy(t)
	p.createTopic(t, "v2-hostile", 1, nil)
	for _, tc := range []struct {
		name, ctype, body string
		status, code      int
	}{
		{"base64 with a line break", v2Binary, `{"records":[{"value":"Zm9v\nYmFy"}]}`, 200, 0},
		{"base64 URL alphabet", v2Binary, `{"records":[{"value":"-_-_"}]}`, 422, 42203},
		{"JSON number beyond int64", v2JSONFmt, `{"records":[{"value":123456789012345678901234567890}]}`, 200, 0},
		{"partition beyond int32", v2Binary, `{"records":[{"value":"YQ==","partition":2147483648}]}`, 422, 422},
		{"deep JSON value", v2JSONFmt, `{"records":[{"value":` + deepJSON(100000) + `}]}`, 400, 400},
		{"records not a list", v2Binary, `{"records":{"value":"YQ=="}}`, 422, 422},
		{"no records", v2Binary, `{"records":[]}`, 422, 422},
		{"avro without a registry", "application/vnd.kafka.avro.v2+json", `{"value_schema":"\"int\"","records":[{"value":1}]}`, 415, 415},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := p.do(t, "POST", "/topics/v2-hostile", tc.body, "Content-Type", tc.ctype)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("answered in %v", d)
			}
			if tc.code == 0 {
				wantStatus(t, r, tc.status)
				if strings.Contains(string(r.Body), "error_code\":4") {
					t.Errorf("a record failed: %s", r.Body)
				}
				return
			}
			wantError(t, r, tc.status, tc.code)
			noLeak(t, r)
		})
	}
	// The JSON number is the record's value as written.
	recs := p.consume(t, "v2-hostile", 2)
	if got := string(recs[1].Value); got != "123456789012345678901234567890" {
		t.Errorf("JSON value stored as %q", got)
	}
	if got := string(recs[0].Value); got != "foobar" {
		t.Errorf("base64 with a line break stored as %q", got)
	}
}

func TestV2HostileConsumer(t *testing.T) {
	p := newProxy(t)
	p.createTopic(t, "v2-hostile-c", 1, nil)
	post := func(path, body string) response {
		t.Helper()
		return p.do(t, "POST", path, body, "Content-Type", v2JSON)
	}

	// Settings as Kafka's consumer reads them: numbers as written (a
	// float64 round trip made 1048576 "1.048576e+06", refused), INT
	// bounds, fetch.min.bytes at least 0.
	wantStatus(t, post("/consumers/hg", `{"name":"big","fetch.min.bytes":1048576,"consumer.request.timeout.ms":3000000}`), 200)
	wantError(t, post("/consumers/hg", `{"fetch.min.bytes":-1}`), 422, 42204)
	wantError(t, post("/consumers/hg", `{"consumer.request.timeout.ms":1e30}`), 422, 42204)
	wantError(t, post("/consumers/hg", `{"consumer.request.timeout.ms":2147483648}`), 422, 42204)
	wantError(t, post("/consumers/hg", `{"auto.commit.enable":{"a":1}}`), 422, 42204)
	wantError(t, post("/consumers/hg", `{"name":`+deepJSON(100000)+`}`), 400, 400)

	wantStatus(t, post("/consumers/hg", `{"name":"i","consumer.request.timeout.ms":1000}`), 200)
	base := "/consumers/hg/instances/i"
	for _, tc := range []struct {
		name, path, body string
		status, code     int
	}{
		{"assign a negative partition", "/assignments", `{"partitions":[{"topic":"v2-hostile-c","partition":-1}]}`, 422, 422},
		{"assign an empty topic", "/assignments", `{"partitions":[{"topic":"","partition":0}]}`, 422, 422},
		{"assign a partition beyond int32", "/assignments", `{"partitions":[{"topic":"v2-hostile-c","partition":2147483648}]}`, 422, 422},
		{"assign", "/assignments", `{"partitions":[{"topic":"v2-hostile-c","partition":0}]}`, 204, 0},
		{"seek to a negative offset", "/positions", `{"offsets":[{"topic":"v2-hostile-c","partition":0,"offset":-1}]}`, 422, 422},
		{"seek beyond int64", "/positions", `{"offsets":[{"topic":"v2-hostile-c","partition":0,"offset":9223372036854775808}]}`, 422, 422},
		{"seek to the largest offset", "/positions", `{"offsets":[{"topic":"v2-hostile-c","partition":0,"offset":9223372036854775807}]}`, 204, 0},
		{"seek back", "/positions", `{"offsets":[{"topic":"v2-hostile-c","partition":0,"offset":0}]}`, 204, 0},
		{"commit a negative offset", "/offsets", `{"offsets":[{"topic":"v2-hostile-c","partition":0,"offset":-5}]}`, 422, 422},
		{"commit the largest offset", "/offsets", `{"offsets":[{"topic":"v2-hostile-c","partition":0,"offset":9223372036854775807}]}`, 422, 422},
		{"commit a huge offset", "/offsets", `{"offsets":[{"topic":"v2-hostile-c","partition":0,"offset":9223372036854775806}]}`, 200, 0},
		{"deep JSON", "/positions", `{"offsets":` + deepJSON(100000) + `}`, 400, 400},
		{"a body over 1 MiB", "/assignments", `{"partitions":[` + strings.Repeat(`{"topic":"t","partition":0},`, 40000) + `]}`, 413, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(base+tc.path, tc.body)
			if tc.code == 0 {
				wantStatus(t, r, tc.status)
				return
			}
			wantError(t, r, tc.status, tc.code)
			noLeak(t, r)
		})
	}

	// A timeout beyond what a Duration holds is the instance's
	// consumer.request.timeout.ms (1 s), not an overflow that answers at
	// once.
	start := time.Now()
	r := p.do(t, "GET", base+"/records?timeout=9223372036854775807", nil, "Accept", v2Binary)
	wantStatus(t, r, 200)
	if d := time.Since(start); d < 800*time.Millisecond || d > 10*time.Second {
		t.Errorf("records with a huge timeout answered in %v, want about 1 s", d)
	}
}

// TestV2ProduceRecordCap: a v2 produce request is held whole, and tiny
// records cost far more decoded than their JSON, so their number is
// bounded (v2MaxRecords, 100000): one more is refused with 413 before it
// is decoded, in little memory; that many are produced.
func TestV2ProduceRecordCap(t *testing.T) {
	p := newProxy(t)
	p.createTopic(t, "v2-cap", 1, nil)
	body := func(n int) string {
		return `{"records":[` + strings.Repeat(`{"value":"YQ=="},`, n-1) + `{"value":"YQ=="}]}`
	}
	over := body(100001)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := p.do(t, "POST", "/topics/v2-cap", over, "Content-Type", v2Binary)
	runtime.ReadMemStats(&after)
	wantError(t, r, http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge)
	if grew := int64(after.TotalAlloc - before.TotalAlloc); grew > 64<<20 {
		t.Errorf("refusing %d bytes of records allocated %d MB", len(over), grew>>20)
	}
	// encoding/json takes the key in any case, and so does the count.
	wantError(t, p.do(t, "POST", "/topics/v2-cap", strings.Replace(over, "records", "RECORDſ", 1), "Content-Type", v2Binary),
		http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge)
	r = p.do(t, "POST", "/topics/v2-cap", body(100000), "Content-Type", v2Binary)
	wantStatus(t, r, http.StatusOK)
	if n := strings.Count(string(r.Body), `"offset":`); n != 100000 {
		t.Errorf("%d offsets answered", n)
	}
}
