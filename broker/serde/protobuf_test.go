package serde_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/moldau/moldau/broker/serde"
)

const commonProto = `syntax = "proto3";
package common;
message Money {
  string currency = 1;
  int64 units = 2;
}
`

const shopProto = `syntax = "proto3";
package shop;
import "common.proto";
import "google/protobuf/timestamp.proto";

message Order {
  string order_id = 1;
  common.Money total = 2;
  repeated Line lines = 3;
  google.protobuf.Timestamp placed_at = 4;
  Status status = 5;
  map<string, int32> counts = 6;
  bytes blob = 7;

  message Line {
    string sku = 1;
    int32 qty = 2;
  }
  enum Status {
    NEW = 0;
    PAID = 1;
  }
}

message Refund {
  string order_id = 1;
  int64 amount = 2;
}
`

// message appends a length-delimited field.
func message(b []byte, num protowire.Number, inner []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, inner)
}

func varintField(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// TestProtobuf decodes hand-built protobuf bytes (protowire, framed by
// franz-go) for each message index, with an imported reference and a
// well-known type, and encodes the JSON back to the same bytes.
func TestProtobuf(t *testing.T) {
	r := newRegistry(t)
	r.register("common", sr.TypeProtobuf, commonProto)
	id := r.register("shop-value", sr.TypeProtobuf, shopProto, sr.SchemaReference{Name: "common.proto", Subject: "common", Version: 1})

	var order []byte
	order = message(order, 1, []byte("o-9"))
	order = message(order, 2, varintField(message(nil, 1, []byte("EUR")), 2, 5))
	order = message(order, 3, varintField(message(nil, 1, []byte("a")), 2, 2))
	order = message(order, 4, varintField(nil, 1, 1700000000))
	order = varintField(order, 5, 1)
	order = message(order, 6, varintField(message(nil, 1, []byte("k")), 2, 3))
	order = message(order, 7, []byte{0xff})
	var refund []byte
	refund = message(refund, 1, []byte("o-1"))
	refund = varintField(refund, 2, 250)

	orderJSON := `{"orderId":"o-9","total":{"currency":"EUR","units":"5"},"lines":[{"sku":"a","qty":2}],
	  "placedAt":"2023-11-14T22:13:20Z","status":"PAID","counts":{"k":3},"blob":"/w=="}`
	for _, tc := range []struct {
		index   []int
		payload []byte
		want    string
	}{
		{[]int{0}, order, orderJSON},
		{[]int{0, 0}, message(nil, 1, []byte("x")), `{"sku":"x","qty":0}`}, // Order.Line, default included
		{[]int{1}, refund, `{"orderId":"o-1","amount":"250"}`},             // Refund
		{[]int{1}, nil, `{"orderId":"","amount":"0"}`},
	} {
		data := frame(t, id, tc.index, tc.payload)
		d := r.serde.Decode(r.ctx, data)
		if d.Format != "protobuf" || d.SchemaID != id || d.Subject != "shop-value" || d.Error != "" {
			t.Fatalf("Decode(index %v) = %+v", tc.index, d)
		}
		sameJSON(t, "decoded", d.Value, tc.want)
	}

	// Encode: protojson into the first message, index [0] as one 0 byte;
	// the original proto names are accepted too.
	for _, v := range []string{orderJSON, `{"order_id":"o-9","total":{"currency":"EUR","units":5},"lines":[{"sku":"a","qty":2}],
	  "placed_at":"2023-11-14T22:13:20Z","status":1,"counts":{"k":3},"blob":"/w=="}`} {
		data, gotID, err := r.serde.Encode(r.ctx, serde.Spec{Format: serde.FormatProtobuf, Subject: "shop-value"}, []byte(v))
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		if want := frame(t, id, []int{0}, order); gotID != id || !bytes.Equal(data, want) {
			t.Errorf("Encode = id %d\n %x\nwant id %d\n %x", gotID, data, id, want)
		}
	}
	if _, _, err := r.serde.Encode(r.ctx, serde.Spec{Format: serde.FormatProtobuf, ID: id}, []byte(`{"nope":1}`)); !errors.Is(err, serde.ErrInvalidData) {
		t.Errorf("Encode unknown field = %v, want ErrInvalidData", err)
	}
	if _, _, err := r.serde.Encode(r.ctx, serde.Spec{Format: serde.FormatAvro, ID: id}, []byte(`{}`)); !errors.Is(err, serde.ErrInvalidSchema) {
		t.Errorf("Encode Avro with a Protobuf schema = %v, want ErrInvalidSchema", err)
	}

	// Undecodable: no such message, bytes that are not the message.
	for _, data := range [][]byte{
		frame(t, id, []int{5}, refund),
		frame(t, id, []int{0, 3}, nil),
		frame(t, id, []int{1}, []byte{0x0a, 0x10, 'x'}),
		append(frame(t, id, nil, nil), 0x7f), // count -64
	} {
		d := r.serde.Decode(r.ctx, data)
		if d.Format != "binary" || d.Error == "" || d.Size != len(data) {
			t.Errorf("Decode(%x) = %+v, want binary with an error", data, d)
		}
	}
}
