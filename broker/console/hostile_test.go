package console_test

// Hostile but well-formed requests to the console API through the real
// handlers and a real broker: {"error"} with a sensible status (the
// broker's own refusal where Kafka judges), quickly, no Go internals.

import (
	"strings"
	"testing"
	"time"
)

func deepJSON(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// hostile sends body and checks status (a 4xx: {"error"} without Go's
// internals), within a few seconds.
func (f *fixture) hostile(method, path string, body any, status int) []byte {
	f.t.Helper()
	start := time.Now()
	out := f.call(method, path, body, status, nil)
	if d := time.Since(start); d > 10*time.Second {
		f.t.Errorf("%s %s answered in %v", method, path, d)
	}
	for _, leak := range []string{"Go struct", "Go value", "console.", "goroutine"} {
		if status >= 400 && strings.Contains(string(out), leak) {
			f.t.Errorf("%s %s: answer names Go internals (%q): %s", method, path, leak, out)
		}
	}
	return out
}

func TestHostileTopics(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name   string
		body   string
		status int
	}{
		{"partitions max int32", `{"name":"p-huge","partitions":2147483647}`, 400},
		{"partitions beyond int32", `{"name":"p-big","partitions":2147483648}`, 400},
		{"partitions beyond int64", `{"name":"p-big","partitions":123456789012345678901234567890}`, 400},
		{"replication_factor 32767", `{"name":"rf-max","partitions":1,"replication_factor":32767}`, 400},
		{"replication_factor -2", `{"name":"rf-neg","partitions":1,"replication_factor":-2}`, 400},
		{"name with slash", `{"name":"a/b"}`, 400},
		{"name ..", `{"name":".."}`, 400},
		{"name %2F", `{"name":"a%2Fb"}`, 400},
		{"name 250 chars", `{"name":"` + strings.Repeat("n", 250) + `"}`, 400},
		{"name unicode", `{"name":"tópico"}`, 400},
		{"deep JSON", `{"name":"deep","configs":` + deepJSON(100000) + `}`, 400},
		{"name 249 chars", `{"name":"` + strings.Repeat("n", 249) + `","partitions":1}`, 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			f.hostile("POST", "/api/topics", tc.body, tc.status)
		})
	}
	for _, name := range []string{"a%2Fb", "%2E%2E", strings.Repeat("n", 250), "t%C3%B3pico"} {
		t.Run("GET "+name, func(t *testing.T) {
			f.t = t
			if status, _, out := f.do("GET", "/api/topics/"+name, nil); status >= 500 {
				t.Errorf("status %d: %s", status, out)
			}
		})
	}
}

func TestHostileMessages(t *testing.T) {
	f := newFixture(t)
	f.createTopic("hm", 1)
	for _, tc := range []struct {
		name   string
		body   string
		status int
	}{
		{"deep JSON value", `{"value":"` + deepJSON(100000) + `","value_format":"json"}`, 400},
		{"base64 URL alphabet", `{"value":"-_-_","value_format":"base64"}`, 400},
		{"base64 with a line break", `{"value":"Zm9v\nYmFy","value_format":"base64"}`, 200},
		{"partition beyond int32", `{"value":"x","partition":2147483648}`, 400},
		{"partition -2", `{"value":"x","partition":-2}`, 400},
		{"partition the topic lacks", `{"value":"x","partition":7}`, 400},
		{"deep JSON body", deepJSON(100000), 400},
	} {
		t.Run("produce "+tc.name, func(t *testing.T) {
			f.t = t
			f.hostile("POST", "/api/topics/hm/messages", tc.body, tc.status)
		})
	}
	for _, tc := range []struct {
		query  string
		status int
	}{
		{"start=offset&offset=-1", 400},
		{"start=offset&offset=9223372036854775808", 400},
		{"start=offset&offset=9223372036854775807", 200},
		{"start=timestamp&timestamp=9223372036854775807", 200},
		{"limit=1000000", 400},
		{"max_scan=-1", 400},
		{"partition=7", 400},
		{"partition=2147483648", 400},
		{"key=" + strings.Repeat("k", 4096), 200},
	} {
		t.Run("browse "+tc.query[:min(len(tc.query), 40)], func(t *testing.T) {
			f.t = t
			f.hostile("GET", "/api/topics/hm/messages?"+tc.query, nil, tc.status)
		})
	}
}

func TestHostileResetOffsets(t *testing.T) {
	f := newFixture(t)
	f.createTopic("hr", 2)
	for i := range 4 {
		f.call("POST", "/api/topics/hr/messages", map[string]any{"partition": i % 2, "value": "v"}, 200, nil)
	}
	for _, tc := range []struct {
		name   string
		body   string
		status int
		want   string // in the answer
	}{
		{"negative offset", `{"topic":"hr","to":"offset","offset":-1}`, 400, ""},
		{"offset beyond int64", `{"topic":"hr","to":"offset","offset":9223372036854775808}`, 400, ""},
		{"largest offset is clamped to the end", `{"topic":"hr","partitions":[0],"to":"offset","offset":9223372036854775807}`, 200, `"offset":2`},
		{"negative timestamp", `{"topic":"hr","to":"timestamp","timestamp":-1}`, 400, ""},
		{"largest timestamp is the end", `{"topic":"hr","partitions":[1],"to":"timestamp","timestamp":9223372036854775807}`, 200, `"offset":2`},
		{"negative partition", `{"topic":"hr","partitions":[-1],"to":"latest"}`, 400, ""},
		{"partition beyond int32", `{"topic":"hr","partitions":[2147483648],"to":"latest"}`, 400, ""},
		{"partition the topic lacks", `{"topic":"hr","partitions":[9],"to":"latest"}`, 400, ""},
		{"topic with slash", `{"topic":"a/b","to":"latest"}`, 400, "INVALID_TOPIC"},
		{"deep JSON", `{"topic":"hr","partitions":` + deepJSON(100000) + `,"to":"latest"}`, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			out := f.hostile("POST", "/api/groups/hostile-reset/reset-offsets", tc.body, tc.status)
			if tc.want != "" && !strings.Contains(string(out), tc.want) {
				t.Errorf("answer %s, want %s in it", out, tc.want)
			}
		})
	}
}
