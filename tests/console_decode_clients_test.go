package tests

// The console's message browser against Confluent's real serializers
// (issue #19): confluent-kafka (Python) writes records with AvroSerializer
// (a record with unions, a named record in a union, enum, bytes, fixed, map,
// array, logical types; an Avro string key), ProtobufSerializer (messages at
// indexes [0], [1] and [1, 0] of one file that imports another, so the
// schema has a reference and the message indexes are not trivial) and
// JSONSerializer through the moldau binary's own registry; GET
// /api/topics/{t}/messages must name each record's format and schema id and
// give the value as Confluent's converters print it -- Avro's JSON encoding
// as fastavro's json_writer writes it, Protobuf as Python's
// json_format.MessageToJson with the fields without presence always printed
// (JsonFormat.printer().includingDefaultValueFields()), JSON Schema as the
// document. Numbers compare exactly (as decimals: 2^53+1 stays 2^53+1, 0.0
// equals 0). The clients come from tests/schemaregistry/setup.sh (as
// tests/schemaregistry_clients_test.go); under CI a missing python3 fails.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/tests/harness"
)

// interopBroker is the binary with its registry and, as asked, the console
// and the HTTP proxy, each on a free port.
type interopBroker struct {
	Addr, Registry, Console, Proxy string // Kafka HOST:PORT; the others http://HOST:PORT or ""
}

func startInteropBroker(t *testing.T, console, proxy bool) interopBroker {
	t.Helper()
	ports := freeLoopbackPorts(t, 3)
	args := []string{"--schema-registry-addr", ports[0], "--set", "group.initial.rebalance.delay.ms=0"}
	b := interopBroker{Registry: "http://" + ports[0]}
	ready := []string{b.Registry + "/subjects"}
	if console {
		args = append(args, "--console-addr", ports[1])
		b.Console = "http://" + ports[1]
		ready = append(ready, b.Console+"/api/overview")
	}
	if proxy {
		args = append(args, "--http-proxy-addr", ports[2])
		b.Proxy = "http://" + ports[2]
		ready = append(ready, b.Proxy+"/v3/clusters")
	}
	b.Addr = harness.Start(t, args...).Addr
	for _, u := range ready {
		testenv.WaitFor(t, 30*time.Second, u+" to answer 200", func() bool {
			resp, err := http.Get(u)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	return b
}

// interopPython installs the clients (tests/schemaregistry/setup.sh) and
// generates the _pb2 modules of tests/restproxy/proto into a temporary
// directory; it returns the venv's python and that directory.
func interopPython(t *testing.T) (python, gen string) {
	t.Helper()
	srClients(t, "python3")
	python = filepath.Join(compatCache(), "sr-venv", "bin", "python")
	gen = t.TempDir()
	protoDir := filepath.Join(testsDir(), "restproxy", "proto")
	if out, err := exec.Command(python, "-m", "grpc_tools.protoc", "-I", protoDir, "--python_out", gen,
		filepath.Join(protoDir, "interop", "common.proto"), filepath.Join(protoDir, "interop", "shop.proto"),
		filepath.Join(protoDir, "standalone.proto")).CombinedOutput(); err != nil {
		t.Fatalf("grpc_tools.protoc: %v\n%s", err, out)
	}
	return python, gen
}

// sameJSON reports whether a and b are the same JSON value, numbers
// compared exactly as decimals (so 0.0 equals 0, and 2^53+1 differs from
// 2^53).
func sameJSON(a, b []byte) (bool, error) {
	va, err := exactJSON(a)
	if err != nil {
		return false, fmt.Errorf("%w in %s", err, a)
	}
	vb, err := exactJSON(b)
	if err != nil {
		return false, fmt.Errorf("%w in %s", err, b)
	}
	return reflect.DeepEqual(va, vb), nil
}

// exactJSON decodes data with every number as its exact decimal value
// (big.Rat in lowest terms, as a string).
func exactJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	var walk func(any) (any, error)
	walk = func(v any) (any, error) {
		switch x := v.(type) {
		case json.Number:
			r, ok := new(big.Rat).SetString(string(x))
			if !ok {
				return nil, fmt.Errorf("number %s", x)
			}
			return "number:" + r.RatString(), nil
		case []any:
			for i := range x {
				e, err := walk(x[i])
				if err != nil {
					return nil, err
				}
				x[i] = e
			}
		case map[string]any:
			for k := range x {
				e, err := walk(x[k])
				if err != nil {
					return nil, err
				}
				x[k] = e
			}
		}
		return v, nil
	}
	return walk(v)
}

// decodeWritten is one topic ck_produce.py wrote.
type decodeWritten struct {
	Topic   string `json:"topic"`
	Format  string `json:"format"`
	Records []struct {
		Offset      int64           `json:"offset"`
		SchemaID    int             `json:"schema_id"`
		Indexes     []int           `json:"indexes"`
		Value       json.RawMessage `json:"value"`
		Key         json.RawMessage `json:"key"`
		KeySchemaID int             `json:"key_schema_id"`
	} `json:"records"`
}

// consoleDecoded is serde.Decoded as the console's API answers it.
type consoleDecoded struct {
	Format   string          `json:"format"`
	SchemaID int             `json:"schema_id"`
	Subject  string          `json:"subject"`
	Value    json.RawMessage `json:"value"`
	Error    string          `json:"error"`
}

type consoleMessage struct {
	Partition int32          `json:"partition"`
	Offset    int64          `json:"offset"`
	Key       consoleDecoded `json:"key"`
	Value     consoleDecoded `json:"value"`
}

// consoleMessages reads partition 0 of topic from the start through the
// console's API, in offset order.
func consoleMessages(t *testing.T, console, topic string) []consoleMessage {
	t.Helper()
	u := console + "/api/topics/" + url.PathEscape(topic) + "/messages?partition=0&start=earliest&limit=500"
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v: %s", u, resp.StatusCode, err, body)
	}
	var page struct {
		Messages []consoleMessage `json:"messages"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("GET %s: %v in %s", u, err, body)
	}
	sort.Slice(page.Messages, func(i, j int) bool { return page.Messages[i].Offset < page.Messages[j].Offset })
	return page.Messages
}

// checkDecoded compares what the console made of one key or value with
// what the client wrote.
func checkDecoded(t *testing.T, what string, got consoleDecoded, format string, id int, want json.RawMessage) {
	t.Helper()
	if got.Format != format || got.SchemaID != id || got.Error != "" {
		t.Errorf("%s: format %q schema id %d (error %q), want %q id %d", what, got.Format, got.SchemaID, got.Error, format, id)
		return
	}
	same, err := sameJSON(got.Value, want)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if !same {
		t.Errorf("%s:\nconsole  %s\nexpected %s", what, got.Value, want)
	}
}

func TestConsoleDecodeClients(t *testing.T) {
	python, gen := interopPython(t)
	b := startInteropBroker(t, true, false)
	in, err := json.Marshal(map[string]string{"bootstrap": b.Addr, "registry": b.Registry, "prefix": "ckdec", "gen": gen})
	if err != nil {
		t.Fatal(err)
	}
	out, runErr := runDriver(t, 3*time.Minute, nil, python, filepath.Join(testsDir(), "restproxy", "ck_produce.py"), string(in))
	if r := lastJSON(t, out); !r.OK || runErr != nil {
		t.Fatalf("ck_produce.py (%v): %s\n%s", runErr, r.Detail, out)
	}
	formats := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		var w decodeWritten
		if json.Unmarshal([]byte(line), &w) != nil || w.Topic == "" {
			continue
		}
		formats[w.Format] = true
		t.Run(w.Format, func(t *testing.T) {
			msgs := consoleMessages(t, b.Console, w.Topic)
			if len(msgs) != len(w.Records) {
				t.Fatalf("console shows %d records of %s, the client wrote %d", len(msgs), w.Topic, len(w.Records))
			}
			for i, want := range w.Records {
				got := msgs[i]
				if got.Offset != want.Offset {
					t.Fatalf("record %d at offset %d, the client's at %d", i, got.Offset, want.Offset)
				}
				what := fmt.Sprintf("%s offset %d value (message indexes %v)", w.Topic, want.Offset, want.Indexes)
				checkDecoded(t, what, got.Value, w.Format, want.SchemaID, want.Value)
				if got.Value.Subject != w.Topic+"-value" {
					t.Errorf("%s: subject %q, want %s-value", what, got.Value.Subject, w.Topic)
				}
				if want.Key != nil {
					checkDecoded(t, fmt.Sprintf("%s offset %d key", w.Topic, want.Offset), got.Key, w.Format, want.KeySchemaID, want.Key)
				} else if got.Key.Format != "null" {
					t.Errorf("%s offset %d: key %+v, want null", w.Topic, want.Offset, got.Key)
				}
			}
		})
	}
	for _, f := range []string{"avro", "protobuf", "jsonschema"} {
		if !formats[f] {
			t.Errorf("ck_produce.py wrote no %s topic:\n%s", f, out)
		}
	}
}
