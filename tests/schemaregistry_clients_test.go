package tests

// Real schema-registry clients against the registry the moldau binary
// serves on --schema-registry-addr (issue #18):
//
//   - franz-go's pkg/sr: register, lookup, by-id, per-subject compatibility,
//     the seed's evolution scenario, and sr.Serde through a kgo
//     produce/consume;
//   - confluent-kafka (Python) AvroSerializer, ProtobufSerializer (with a
//     reference) and JSONSerializer with their deserializers and
//     SchemaRegistryClient (tests/schemaregistry/python/ck_serdes.py);
//   - kafkajs with @kafkajs/confluent-schema-registry: Avro, JSON Schema and
//     Protobuf (tests/schemaregistry/node/sr.js).
//
// Confluent's Java kafka-schema-registry-client is not on Maven Central, so
// it is not run (the README's client table says n/a). The Python and Node
// clients are installed by tests/schemaregistry/setup.sh (cached); under CI
// a missing python3, node or npm fails.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/tests/harness"
)

var (
	srSetupOnce sync.Once
	srSetupErr  error
)

// srClients runs tests/schemaregistry/setup.sh once per test process
// (a warm cache costs milliseconds).
func srClients(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		testenv.RequireTool(t, tool, "make deps (apt-get install python3-venv npm)")
	}
	srSetupOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(testsDir(), "schemaregistry", "setup.sh"))
		if out, err := cmd.CombinedOutput(); err != nil {
			srSetupErr = fmt.Errorf("tests/schemaregistry/setup.sh: %v\n%s", err, out)
		}
	})
	if srSetupErr != nil {
		t.Fatal(srSetupErr)
	}
}

// srBroker is the binary serving Kafka on Addr and the registry on URL.
type srBroker struct {
	Addr, URL string
}

// startSRBroker runs the binary with the schema registry on a free port and
// waits until the registry answers GET /subjects.
func startSRBroker(t *testing.T) srBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := harness.Start(t, "--schema-registry-addr", addr, "--set", "group.initial.rebalance.delay.ms=0")
	b := srBroker{Addr: p.Addr, URL: "http://" + addr}
	testenv.WaitFor(t, 30*time.Second, "the schema registry at "+b.URL+" to answer GET /subjects", func() bool {
		resp, err := http.Get(b.URL + "/subjects")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return b
}

// srCheck is one line a client program prints per check.
type srCheck struct {
	Check    string `json:"check"`
	OK       bool   `json:"ok"`
	Detail   string `json:"detail"`
	Topic    string `json:"topic"`
	Subject  string `json:"subject"`
	ID       int    `json:"id"`
	Records  int    `json:"records"`
	Protobuf bool   `json:"protobuf"`
}

// srChecks parses a client program's output: one subtest per check line;
// want lists the checks that must be there; the final line must say ok.
func srChecks(t *testing.T, out string, want int) []srCheck {
	t.Helper()
	var checks []srCheck
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var c srCheck
		if json.Unmarshal([]byte(line), &c) == nil && c.Check != "" {
			checks = append(checks, c)
		}
	}
	for _, c := range checks {
		t.Run(c.Check, func(t *testing.T) {
			if !c.OK {
				t.Fatal(c.Detail)
			}
			t.Log(c.Detail)
		})
	}
	if len(checks) != want {
		t.Fatalf("%d checks reported, want %d:\n%s", len(checks), want, out)
	}
	if r := lastJSON(t, out); !r.OK {
		t.Fatalf("client program: %s", r.Detail)
	}
	return checks
}

// checkFraming reads the c.Records records of c.Topic with franz-go and checks
// Confluent's wire format: magic byte 0, then the schema id big-endian (and
// for Protobuf the message-index list, [0] written as one zero byte).
func checkFraming(t *testing.T, b srBroker, c srCheck) {
	t.Helper()
	if c.Records <= 0 {
		t.Fatalf("check %q names topic %s but no record count", c.Check, c.Topic)
	}
	for i, v := range consumeValues(t, b.Addr, c.Topic, c.Records) {
		raw := []byte(v)
		if len(raw) < 5 || raw[0] != 0 || int(binary.BigEndian.Uint32(raw[1:5])) != c.ID {
			t.Fatalf("%s record %d starts % x; want magic 0 and schema id %d", c.Topic, i, raw[:min(len(raw), 6)], c.ID)
		}
		if c.Protobuf && (len(raw) < 6 || raw[5] != 0) {
			t.Fatalf("%s record %d: message index bytes % x, want 00 (the first message)", c.Topic, i, raw[5:min(len(raw), 8)])
		}
	}
	// The id in the records is one the registry gives a version of the
	// subject.
	resp, err := http.Get(fmt.Sprintf("%s/schemas/ids/%d/versions", b.URL, c.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var uses []struct {
		Subject string `json:"subject"`
		Version int    `json:"version"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&uses); err != nil || !slices.ContainsFunc(uses, func(u struct {
		Subject string `json:"subject"`
		Version int    `json:"version"`
	}) bool {
		return u.Subject == c.Subject
	}) {
		t.Fatalf("GET /schemas/ids/%d/versions = %+v (%v): no version of %s", c.ID, uses, err, c.Subject)
	}
}

func TestSchemaRegistryConfluentKafkaPython(t *testing.T) {
	srClients(t, "python3")
	python := filepath.Join(compatCache(), "sr-venv", "bin", "python")
	b := startSRBroker(t)
	gen := t.TempDir()
	protoDir := filepath.Join(testsDir(), "schemaregistry", "proto")
	if out, err := exec.Command(python, "-m", "grpc_tools.protoc", "-I", protoDir, "--python_out", gen,
		filepath.Join(protoDir, "customer.proto"), filepath.Join(protoDir, "order.proto")).CombinedOutput(); err != nil {
		t.Fatalf("grpc_tools.protoc: %v\n%s", err, out)
	}
	in, err := json.Marshal(map[string]string{"bootstrap": b.Addr, "registry": b.URL, "prefix": "ck", "gen": gen})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := runDriver(t, 3*time.Minute, nil, python, filepath.Join(testsDir(), "schemaregistry", "python", "ck_serdes.py"), string(in))
	for _, c := range srChecks(t, out, 7) {
		if c.Topic != "" {
			checkFraming(t, b, c)
		}
	}
}

func TestSchemaRegistryKafkaJS(t *testing.T) {
	srClients(t, "node", "npm")
	b := startSRBroker(t)
	in, err := json.Marshal(map[string]string{"bootstrap": b.Addr, "registry": b.URL, "prefix": "kjs"})
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"NODE_PATH=" + filepath.Join(compatCache(), "sr-node", "node_modules")}
	out, _ := runDriver(t, 3*time.Minute, env, "node", filepath.Join(testsDir(), "schemaregistry", "node", "sr.js"), string(in))
	for _, c := range srChecks(t, out, 5) {
		if c.Topic != "" {
			// @kafkajs/confluent-schema-registry writes no message
			// indexes for Protobuf: only the magic byte and id are
			// checked for its records.
			c.Protobuf = false
			checkFraming(t, b, c)
		}
	}
}

// avroUser is the seed's record: v1 and the evolutions tried against it.
func avroUser(fields ...string) string {
	return `{"type":"record","name":"User","namespace":"moldau.srtest","fields":[` + strings.Join(fields, ",") + `]}`
}

const (
	avroID            = `{"name":"id","type":"long"}`
	avroName          = `{"name":"name","type":"string"}`
	avroEmail         = `{"name":"email","type":"string"}`
	avroPhoneOptional = `{"name":"phone","type":["null","string"],"default":null}`
	avroAgeRequired   = `{"name":"age","type":"int"}`
)

func TestSchemaRegistryFranzGo(t *testing.T) {
	b := startSRBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := sr.NewClient(sr.URLs(b.URL))
	if err != nil {
		t.Fatal(err)
	}
	avro := func(s string) sr.Schema { return sr.Schema{Schema: s, Type: sr.TypeAvro} }
	is409 := func(err error) bool {
		var re *sr.ResponseError
		return errors.As(err, &re) && re.StatusCode == http.StatusConflict && re.ErrorCode == 409
	}
	setLevel := func(t *testing.T, subject string, level sr.CompatibilityLevel) {
		t.Helper()
		for _, r := range cl.SetCompatibility(ctx, sr.SetCompatibility{Level: level}, subject) {
			if r.Err != nil || r.Level != level {
				t.Fatalf("SetCompatibility(%s, %v): %v, level %v", subject, level, r.Err, r.Level)
			}
		}
		for _, r := range cl.Compatibility(ctx, subject) {
			if r.Err != nil || r.Level != level {
				t.Fatalf("Compatibility(%s): %v, level %v; want %v", subject, r.Err, r.Level, level)
			}
		}
	}
	// expect checks a new version against the latest, then registers it:
	// accepted, or refused with 409 and the checker's messages.
	expect := func(t *testing.T, subject, schema string, ok bool) {
		t.Helper()
		res, err := cl.CheckCompatibility(ctx, subject, -1, avro(schema))
		if err != nil || res.Is != ok {
			t.Fatalf("%s: CheckCompatibility(%s) = %v (%v), want %v", subject, schema, res.Is, err, ok)
		}
		ss, err := cl.CreateSchema(ctx, subject, avro(schema))
		switch {
		case ok && err != nil:
			t.Fatalf("%s: CreateSchema(%s): %v", subject, schema, err)
		case !ok && !is409(err):
			t.Fatalf("%s: CreateSchema(%s) = %+v, %v; want a 409 error", subject, schema, ss, err)
		case !ok && strings.Contains(err.Error(), "%s"):
			// Confluent names the roles: "in the new schema ... in the old schema".
			t.Fatalf("%s: the 409 message has unfilled verbs: %v", subject, err)
		case !ok:
			t.Logf("%s: refused: %v", subject, err)
		}
	}

	t.Run("register lookup by-id", func(t *testing.T) {
		v1 := avroUser(avroID, avroName, avroEmail)
		ss, err := cl.CreateSchema(ctx, "franz-users-value", avro(v1))
		if err != nil || ss.Version != 1 || ss.ID <= 0 {
			t.Fatalf("CreateSchema: %+v, %v", ss, err)
		}
		again, err := cl.CreateSchema(ctx, "franz-users-value", avro(v1))
		if err != nil || again.ID != ss.ID || again.Version != 1 {
			t.Fatalf("registering the same schema again: %+v, %v; want id %d version 1", again, err, ss.ID)
		}
		found, err := cl.LookupSchema(ctx, "franz-users-value", avro(v1))
		if err != nil || found.ID != ss.ID || found.Version != 1 {
			t.Fatalf("LookupSchema: %+v, %v", found, err)
		}
		byID, err := cl.SchemaByID(ctx, ss.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got, want any
		if json.Unmarshal([]byte(byID.Schema), &got) != nil || json.Unmarshal([]byte(v1), &want) != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("SchemaByID(%d) = %s, registered %s", ss.ID, byID.Schema, v1)
		}
		if _, err := cl.LookupSchema(ctx, "franz-users-value", avro(avroUser(avroID))); err == nil {
			t.Fatal("LookupSchema of an unregistered schema succeeded")
		}
		if _, err := cl.SchemaByID(ctx, 1<<30); err == nil {
			t.Fatal("SchemaByID of an unknown id succeeded")
		}
	})

	t.Run("seed evolution BACKWARD", func(t *testing.T) {
		s := "franz-evolution-backward"
		setLevel(t, s, sr.CompatBackward)
		if _, err := cl.CreateSchema(ctx, s, avro(avroUser(avroID, avroName, avroEmail))); err != nil {
			t.Fatal(err)
		}
		expect(t, s, avroUser(avroID, avroName, avroEmail, avroPhoneOptional), true)                   // add an optional field with a default
		expect(t, s, avroUser(avroID, avroName, avroEmail, avroPhoneOptional, avroAgeRequired), false) // add a required field
		expect(t, s, avroUser(avroID, avroName, avroPhoneOptional), true)                              // remove a field: the new reader ignores it
		if vs, err := cl.SubjectVersions(ctx, s); err != nil || !slices.Equal(vs, []int{1, 2, 3}) {
			t.Fatalf("SubjectVersions = %v, %v; want [1 2 3]", vs, err)
		}
	})

	for _, level := range []sr.CompatibilityLevel{sr.CompatForward, sr.CompatFull} {
		t.Run("seed evolution "+level.String(), func(t *testing.T) {
			s := "franz-evolution-" + strings.ToLower(level.String())
			setLevel(t, s, level)
			if _, err := cl.CreateSchema(ctx, s, avro(avroUser(avroID, avroName, avroEmail))); err != nil {
				t.Fatal(err)
			}
			expect(t, s, avroUser(avroID, avroName), false)                              // remove a required field: old readers have no default
			expect(t, s, avroUser(avroID, avroName, avroEmail, avroPhoneOptional), true) // add an optional field with a default
		})
	}

	t.Run("compatibility per subject", func(t *testing.T) {
		// NONE on one subject accepts what BACKWARD refuses on another;
		// the global level is untouched.
		s := "franz-evolution-none"
		setLevel(t, s, sr.CompatNone)
		if _, err := cl.CreateSchema(ctx, s, avro(avroUser(avroID, avroName, avroEmail))); err != nil {
			t.Fatal(err)
		}
		expect(t, s, avroUser(avroID, avroAgeRequired), true)
		global := cl.Compatibility(ctx)
		if len(global) != 1 || global[0].Err != nil || global[0].Level != sr.CompatBackward {
			t.Fatalf("global compatibility %+v, want BACKWARD", global)
		}
	})

	t.Run("serde through produce and consume", func(t *testing.T) {
		type order struct {
			ID       int     `json:"id"`
			Customer string  `json:"customer"`
			Amount   float64 `json:"amount"`
		}
		topic := "franz-orders"
		schema := `{"$schema":"http://json-schema.org/draft-07/schema#","title":"Order","type":"object",` +
			`"properties":{"id":{"type":"integer"},"customer":{"type":"string"},"amount":{"type":"number"}},"required":["id","customer"]}`
		ss, err := cl.CreateSchema(ctx, topic+"-value", sr.Schema{Schema: schema, Type: sr.TypeJSON})
		if err != nil {
			t.Fatal(err)
		}
		byID, err := cl.SchemaByID(ctx, ss.ID)
		if err != nil || byID.Type != sr.TypeJSON {
			t.Fatalf("SchemaByID(%d): type %v, %v; want JSON", ss.ID, byID.Type, err)
		}
		var serde sr.Serde
		serde.Register(ss.ID, order{}, sr.EncodeFn(json.Marshal), sr.DecodeFn(json.Unmarshal))

		kcl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		defer kcl.Close()
		if _, err := kadm.NewClient(kcl).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
		var want []order
		for i := range 10 {
			o := order{ID: i, Customer: fmt.Sprintf("c%d", i), Amount: float64(i) * 1.5}
			want = append(want, o)
			if err := kcl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: serde.MustEncode(o)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		var got []order
		for len(got) < len(want) {
			fs := kcl.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("consumed %d of %d: %v", len(got), len(want), err)
			}
			for _, e := range fs.Errors() {
				t.Fatal(e.Err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if id, _, err := serde.DecodeID(r.Value); err != nil || id != ss.ID {
					t.Fatalf("record carries schema id %d (%v), want %d", id, err, ss.ID)
				}
				var o order
				if err := serde.Decode(r.Value, &o); err != nil {
					t.Fatal(err)
				}
				got = append(got, o)
			})
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("consumed %+v, produced %+v", got, want)
		}
	})

	t.Run("protobuf register and by-id", func(t *testing.T) {
		proto, err := os.ReadFile(filepath.Join(testsDir(), "schemaregistry", "proto", "customer.proto"))
		if err != nil {
			t.Fatal(err)
		}
		ss, err := cl.CreateSchema(ctx, "franz-customer-value", sr.Schema{Schema: string(proto), Type: sr.TypeProtobuf})
		if err != nil {
			t.Fatal(err)
		}
		byID, err := cl.SchemaByID(ctx, ss.ID)
		if err != nil || byID.Type != sr.TypeProtobuf || !strings.Contains(byID.Schema, "message Customer") {
			t.Fatalf("SchemaByID(%d) = %+v, %v", ss.ID, byID, err)
		}
		// Changing a field's scalar type is refused under BACKWARD;
		// adding a field is not.
		retyped := strings.Replace(string(proto), "string email = 2;", "int64 email = 2;", 1)
		if _, err := cl.CreateSchema(ctx, "franz-customer-value", sr.Schema{Schema: retyped, Type: sr.TypeProtobuf}); !is409(err) {
			t.Fatalf("a field's type changed from string to int64: %v, want 409", err)
		}
		added := strings.Replace(string(proto), "string email = 2;", "string email = 2;\n  string phone = 3;", 1)
		if v2, err := cl.CreateSchema(ctx, "franz-customer-value", sr.Schema{Schema: added, Type: sr.TypeProtobuf}); err != nil || v2.Version != 2 {
			t.Fatalf("a field added: %+v, %v; want version 2", v2, err)
		}
	})

	t.Run("subjects and delete", func(t *testing.T) {
		subjects, err := cl.Subjects(ctx)
		if err != nil || !slices.Contains(subjects, "franz-users-value") || !slices.Contains(subjects, "franz-orders-value") {
			t.Fatalf("Subjects = %v, %v", subjects, err)
		}
		if vs, err := cl.DeleteSubject(ctx, "franz-evolution-none", sr.SoftDelete); err != nil || !slices.Equal(vs, []int{1, 2}) {
			t.Fatalf("soft DeleteSubject = %v, %v", vs, err)
		}
		if subjects, _ := cl.Subjects(ctx); slices.Contains(subjects, "franz-evolution-none") {
			t.Fatalf("soft-deleted subject still listed: %v", subjects)
		}
		if _, err := cl.DeleteSubject(ctx, "franz-evolution-none", sr.HardDelete); err != nil {
			t.Fatalf("permanent DeleteSubject: %v", err)
		}
	})
}
