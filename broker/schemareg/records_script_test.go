package schemareg

// Data-driven tests of the state machine over _schemas records:
// testdata/records/*.txt hold records as other writers (Confluent,
// Redpanda) put them in the topic, then requests and the answers a
// registry reading them gives. One command a line ('#' comments):
//
//	put KEY VALUE        append a record (KEY and VALUE are JSON; VALUE may span the rest of the line)
//	tombstone KEY        append a tombstone
//	GET PATH => STATUS BODY
//	(any HTTP method) PATH [BODY] => STATUS [BODY]   BODY compared as JSON when given
//
// Requests go to a registry started after the first request line (and
// kept for the rest of the file), so later puts are read by a running
// registry.

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestRecordScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/records/*.txt")
	if len(files) == 0 {
		t.Fatal("no testdata/records/*.txt")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) { runRecordScript(t, file) })
	}
}

func runRecordScript(t *testing.T, file string) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l := newMemLog()
	var r *Registry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		where := file + ":" + strconv.Itoa(n)
		cmd, rest, _ := strings.Cut(line, " ")
		switch cmd {
		case "put", "tombstone":
			d := json.NewDecoder(strings.NewReader(rest))
			var key json.RawMessage
			if err := d.Decode(&key); err != nil {
				t.Fatalf("%s: key: %v", where, err)
			}
			value := strings.TrimSpace(rest[d.InputOffset():])
			if cmd == "tombstone" {
				value = ""
			} else if !json.Valid([]byte(value)) {
				t.Fatalf("%s: value is not JSON: %s", where, value)
			}
			l.put(t, string(key), value)
		case "GET", "POST", "PUT", "DELETE":
			if r == nil {
				r = newRegistry(t, l)
			}
			req, want, ok := strings.Cut(rest, " => ")
			if !ok {
				t.Fatalf("%s: missing ' => STATUS [BODY]'", where)
			}
			path, body, _ := strings.Cut(req, " ")
			statusText, wantBody, _ := strings.Cut(strings.TrimSpace(want), " ")
			status, err := strconv.Atoi(statusText)
			if err != nil {
				t.Fatalf("%s: status %q", where, statusText)
			}
			code, got := call(t, r.Handler(), cmd, path, strings.TrimSpace(body))
			if code != status {
				t.Fatalf("%s: %s %s: status %d, want %d; body %s", where, cmd, path, code, status, got)
			}
			if wantBody = strings.TrimSpace(wantBody); wantBody != "" {
				var w, g any
				if err := json.Unmarshal([]byte(wantBody), &w); err != nil {
					t.Fatalf("%s: expected body: %v", where, err)
				}
				if err := json.Unmarshal([]byte(got), &g); err != nil || !reflect.DeepEqual(w, g) {
					t.Fatalf("%s: %s %s:\n got  %s\n want %s", where, cmd, path, got, wantBody)
				}
			}
		default:
			t.Fatalf("%s: unknown command %q", where, cmd)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if r == nil {
		t.Fatalf("%s has no requests", file)
	}
}
