package serde

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// fuzzSerde returns a Serde whose cache holds an Avro (id 1), a Protobuf
// (id 2) and a JSON Schema (id 3) schema; its registry URL is never asked.
func fuzzSerde(tb testing.TB) *Serde {
	tb.Helper()
	cl, err := sr.NewClient(sr.URLs("http://127.0.0.1:1"))
	if err != nil {
		tb.Fatal(err)
	}
	s := New(cl)
	ctx := context.Background()
	a, err := s.parseAvro(ctx, sr.Schema{Type: sr.TypeAvro, Schema: `{"type":"record","name":"Node","fields":[
	  {"name":"v","type":["null","long","double","string","bytes",{"type":"fixed","name":"F","size":3},{"type":"enum","name":"E","symbols":["A","B"]}]},
	  {"name":"f","type":"float"},{"name":"ok","type":"boolean"},
	  {"name":"kids","type":{"type":"array","items":"Node"}},
	  {"name":"nulls","type":{"type":"array","items":"null"}},
	  {"name":"m","type":{"type":"map","values":["null","Node"]}}]}`})
	if err != nil {
		tb.Fatal(err)
	}
	p, err := s.parseProtobuf(ctx, sr.Schema{Type: sr.TypeProtobuf, Schema: `syntax = "proto3";
import "google/protobuf/any.proto";
import "google/protobuf/timestamp.proto";
message Tree { repeated Tree kids = 1; string name = 2; map<string, Tree> m = 3; google.protobuf.Any any = 4;
  google.protobuf.Timestamp at = 5; double d = 6; bytes b = 7; oneof o { int64 i = 8; Tree t = 9; }
  message Inner { sint32 z = 1; fixed64 f = 2; } }
message Other { Tree.Inner in = 1; }`})
	if err != nil {
		tb.Fatal(err)
	}
	j, err := s.parseJSONSchema(ctx, sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object"}`})
	if err != nil {
		tb.Fatal(err)
	}
	s.cache.put(1, &parsedSchema{id: 1, format: FormatAvro, avro: a})
	s.cache.put(2, &parsedSchema{id: 2, format: FormatProtobuf, proto: p})
	s.cache.put(3, &parsedSchema{id: 3, format: FormatJSONSchema, json: j})
	return s
}

// FuzzDecode: Decode never panics, always returns JSON, and framed bytes
// come back decoded or as binary with the reason.
func FuzzDecode(f *testing.F) {
	s := fuzzSerde(f)
	ctx := context.Background()
	for _, seed := range []string{
		"", "{}", "[1,2]", "hello", "\xff\xfe",
		"\x00\x00\x00\x00\x01\x02\x02\x00\x00\x80\x3f\x01\x02\x00\x00\x02\x00\x00\x00\x00\x00\x00",
		"\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x01\x00\xff\xff\xff\xff\x0f\x00",
		"\x00\x00\x00\x00\x02\x00\x0a\x02\x12\x00\x12\x01x",
		"\x00\x00\x00\x00\x02\x04\x00\x00\x08\x02",
		"\x00\x00\x00\x00\x02\x02\x02\x22\x0a\x10type.googleapis.com/Tree",
		"\x00\x00\x00\x00\x03{\"a\":1}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= headerSize && data[0] == 0 {
			// Only the cached ids: others would ask the registry.
			id := 1 + binary.BigEndian.Uint32(data[1:5])%3
			data = append([]byte(nil), data...)
			binary.BigEndian.PutUint32(data[1:5], id)
		}
		d := s.Decode(ctx, data)
		if !json.Valid(d.Value) {
			t.Fatalf("Decode(%x).Value is not JSON: %q", data, d.Value)
		}
		if d.Size != len(data) {
			t.Fatalf("Size %d, want %d", d.Size, len(data))
		}
		if d.Error != "" && d.Format != "binary" {
			t.Fatalf("Error %q with format %s", d.Error, d.Format)
		}
		// What decoded encodes again (Avro and Protobuf JSON forms read
		// back).
		var format Format
		switch d.Format {
		case "avro":
			format = FormatAvro
		case "protobuf":
			format = FormatProtobuf
		default:
			return
		}
		if _, _, err := s.Encode(ctx, Spec{Format: format, ID: d.SchemaID}, d.Value); err != nil {
			t.Fatalf("Encode(Decode(%x) = %s): %v", data, d.Value, err)
		}
	})
}

// TestDecodeLimits: hostile Avro that costs no bytes per item or nests
// deeply is refused, not followed.
func TestDecodeLimits(t *testing.T) {
	s := fuzzSerde(t)
	ctx := context.Background()
	head := []byte{0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}
	// Node{v:null, f:0, ok:false, kids:[], nulls: 2^62 items, ...}
	nulls := binary.AppendVarint(append([]byte(nil), head...), 0) // kids: end
	nulls = binary.AppendVarint(nulls, 1<<62)
	// kids nested 10000 deep.
	var deep []byte
	deep = append(deep, 0, 0, 0, 0, 1)
	for range 10000 {
		deep = append(deep, 0, 0, 0, 0, 0, 0, 2) // v null, f 0.0, ok false, kids: one
	}
	for _, data := range [][]byte{nulls, deep} {
		start := time.Now()
		d := s.Decode(ctx, data)
		if d.Format != "binary" || !strings.Contains(d.Error, "more than") && !strings.Contains(d.Error, "deeper") {
			t.Errorf("Decode(hostile %d bytes) = format %s, error %q", len(data), d.Format, d.Error)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("Decode took %v", el)
		}
	}
	// Protobuf nested beyond the recursion limit.
	var msg []byte
	for range 200 {
		msg = append(binary.AppendUvarint([]byte{0x0a}, uint64(len(msg))), msg...)
	}
	d := s.Decode(ctx, append([]byte{0, 0, 0, 0, 2, 0}, msg...))
	if d.Format != "binary" || d.Error == "" {
		t.Errorf("Decode(deep protobuf) = %+v", d)
	}
}

func TestSchemaCache(t *testing.T) {
	c := newSchemaCache(3, time.Second)
	now := time.Unix(0, 0)
	c.now = func() time.Time { return now }
	for id := 1; id <= 3; id++ {
		c.put(id, &parsedSchema{id: id})
	}
	c.get(1) // 2 is now the least recently used
	c.put(4, &parsedSchema{id: 4})
	if _, _, ok := c.get(2); ok || c.len() != 3 {
		t.Errorf("after eviction: 2 cached %v, len %d", ok, c.len())
	}
	for _, id := range []int{1, 3, 4} {
		if p, _, ok := c.get(id); !ok || p.id != id {
			t.Errorf("get(%d) = %v, %v", id, p, ok)
		}
	}
	notFound := errors.New("not found")
	c.putNotFound(9, notFound)
	if _, err, ok := c.get(9); !ok || err != notFound {
		t.Errorf("get(9) = %v, %v", err, ok)
	}
	now = now.Add(2 * time.Second)
	if _, _, ok := c.get(9); ok {
		t.Error("not-found entry outlived its ttl")
	}
}
