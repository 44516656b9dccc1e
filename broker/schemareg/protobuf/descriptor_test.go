package protobuf

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/moldau/moldau/broker/schemareg/schema"
)

// asDescriptor compiles text and returns it the way
// confluent-kafka-python registers schemas: a base64 FileDescriptorProto.
func asDescriptor(t *testing.T, text string, refs []schema.Resolved) string {
	t.Helper()
	p, err := New().Parse(text, refs)
	if err != nil {
		t.Fatal(err)
	}
	fdp := protodesc.ToFileDescriptorProto(p.(*parsed).file)
	b, err := proto.Marshal(fdp)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

const descriptorSchema = `syntax = "proto3";
package shop.v1;

import "google/protobuf/timestamp.proto";
import "confluent/meta.proto";

option go_package = "example.com/shop";

message Order {
  option (confluent.message_meta) = { doc: "an order" tags: ["PII"] };
  reserved 9;
  int64 id = 1;
  google.protobuf.Timestamp at = 2;
  map<string, Line> lines = 3;
  optional string note = 4;
  oneof pay { string card = 5; int64 cash = 6; }
  message Line { string sku = 1; int32 qty = 2 [deprecated = true]; }
  enum State { NEW = 0; DONE = 1; }
  State state = 7;
  repeated string tags = 8;
}
`

func TestBase64Descriptor(t *testing.T) {
	f := New()
	text, err := f.Parse(descriptorSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := f.Parse(asDescriptor(t, descriptorSchema, nil), nil)
	if err != nil {
		t.Fatalf("base64 descriptor: %v", err)
	}
	if m := append(desc.CanRead(text), text.CanRead(desc)...); len(m) != 0 {
		t.Errorf("descriptor and text forms differ: %v", m)
	}
	want := `syntax = "proto3";
package shop.v1;

import "google/protobuf/timestamp.proto";
import "confluent/meta.proto";

option go_package = "example.com/shop";

message Order {
  reserved 9;

  option (confluent.message_meta) = {
    doc: "an order",
    tags: [
      "PII"
    ]
  };

  int64 id = 1 [json_name = "id"];
  .google.protobuf.Timestamp at = 2 [json_name = "at"];
  map<string, .shop.v1.Order.Line> lines = 3 [json_name = "lines"];
  optional string note = 4 [json_name = "note"];
  .shop.v1.Order.State state = 7 [json_name = "state"];
  repeated string tags = 8 [json_name = "tags"];

  oneof pay {
    string card = 5 [json_name = "card"];
    int64 cash = 6 [json_name = "cash"];
  }

  message Line {
    string sku = 1 [json_name = "sku"];
    int32 qty = 2 [
      deprecated = true,
      json_name = "qty"
    ];
  }
  enum State {
    NEW = 0;
    DONE = 1;
  }
}
`
	if got := desc.Canonical(); got != want {
		t.Errorf("canonical of the descriptor:\n%s\nwant:\n%s", got, want)
	}

	// An incompatible change made in the descriptor form is found.
	changed := strings.Replace(descriptorSchema, "int64 id = 1;", "string id = 1;", 1)
	desc2, err := f.Parse(asDescriptor(t, changed, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := summarize(t, desc2.CanRead(desc)); strings.Join(got, ",") != "FIELD_SCALAR_KIND_CHANGED #/Order/1" {
		t.Errorf("got %v", got)
	}
}

func TestBase64DescriptorReference(t *testing.T) {
	ref := "syntax = \"proto3\";\npackage fin;\nmessage Money { int64 units = 1; }\n"
	refs := []schema.Resolved{{Name: "fin/money.proto", Type: schema.Protobuf, Schema: asDescriptor(t, ref, nil)}}
	textRefs := []schema.Resolved{{Name: "fin/money.proto", Type: schema.Protobuf, Schema: ref}}
	root := "syntax = \"proto3\";\nimport \"fin/money.proto\";\nmessage P { fin.Money price = 1; }\n"
	p, err := New().Parse(asDescriptor(t, root, textRefs), refs)
	if err != nil {
		t.Fatalf("descriptor with a descriptor reference: %v", err)
	}
	if !strings.Contains(p.Canonical(), "import \"fin/money.proto\";") {
		t.Errorf("canonical lost the import:\n%s", p.Canonical())
	}
}

func TestBase64NotADescriptor(t *testing.T) {
	for _, s := range []string{"aGVsbG8=", "!!!", "bWVzc2FnZQ"} {
		if _, err := New().Parse(s, nil); err == nil {
			t.Errorf("%q parsed", s)
		}
	}
	// A well-known type's own descriptor is a valid schema.
	b, _ := proto.Marshal(protodesc.ToFileDescriptorProto(timestamppb.File_google_protobuf_timestamp_proto))
	if _, err := New().Parse(base64.StdEncoding.EncodeToString(b), nil); err != nil {
		t.Errorf("timestamp.proto as a descriptor: %v", err)
	}
}

// TestFormatted covers Confluent's ?format= forms: serialized gives a
// descriptor that parses back to the same schema, ignore_extensions drops
// custom options and extensions but keeps confluent.* ones.
func TestFormatted(t *testing.T) {
	const src = `syntax = "proto2";
package x;

import "google/protobuf/descriptor.proto";
import "confluent/meta.proto";

extend google.protobuf.FieldOptions {
  optional string unit = 50001;
}

message M {
  optional double w = 1 [(unit) = "kg", (confluent.field_meta) = { doc: "weight" }];
  extensions 100 to 199;
}
`
	p, err := New().Parse(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := p.(interface{ Formatted(string) string })
	if !ok {
		t.Fatal("Parsed has no Formatted")
	}
	if f.Formatted("") != p.Canonical() || f.Formatted("default") != p.Canonical() || f.Formatted("nonsense") != p.Canonical() {
		t.Error("default and unknown formats must be the canonical form")
	}
	want := `syntax = "proto2";
package x;

import "google/protobuf/descriptor.proto";
import "confluent/meta.proto";

message M {
  optional double w = 1 [(confluent.field_meta) = {
    doc: "weight"
  }];
}
`
	if got := f.Formatted("ignore_extensions"); got != want {
		t.Errorf("ignore_extensions:\n%s\nwant:\n%s", got, want)
	}
	ser := f.Formatted("serialized")
	raw, err := base64.StdEncoding.DecodeString(ser)
	if err != nil {
		t.Fatal(err)
	}
	var fdp descriptorpb.FileDescriptorProto
	if err := proto.Unmarshal(raw, &fdp); err != nil {
		t.Fatal(err)
	}
	if fdp.GetName() != "default" || fdp.GetPackage() != "x" || len(fdp.GetDependency()) != 2 {
		t.Errorf("serialized descriptor: name %q package %q deps %v", fdp.GetName(), fdp.GetPackage(), fdp.GetDependency())
	}
	back, err := New().Parse(ser, nil)
	if err != nil {
		t.Fatalf("serialized form does not parse: %v", err)
	}
	if m := append(back.CanRead(p), p.CanRead(back)...); len(m) != 0 {
		t.Errorf("serialized form differs: %v", m)
	}

	// A schema accepted only leniently (no import for the well-known type)
	// serializes without the imports the lenient path made visible.
	q, err := New().Parse("syntax = \"proto3\";\nmessage T { google.protobuf.Timestamp at = 1; }\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = base64.StdEncoding.DecodeString(q.(interface{ Formatted(string) string }).Formatted("serialized"))
	fdp.Reset()
	if err := proto.Unmarshal(raw, &fdp); err != nil {
		t.Fatal(err)
	}
	if len(fdp.GetDependency()) != 0 {
		t.Errorf("serialized form has imports the text does not: %v", fdp.GetDependency())
	}
}

const pythonCustomer = `syntax = "proto3";
package shop;
message Customer { string id = 1; string name = 2; }
`

const pythonOrder = `syntax = "proto3";
package shop;
import "customer.proto";
import "google/protobuf/timestamp.proto";
message Order {
  int64 id = 1;
  Customer customer = 2;
  map<string, int32> qty = 3;
  optional string note = 4;
  oneof pay { string card = 5; int64 cash = 6; }
  google.protobuf.Timestamp at = 7;
  enum State { NEW = 0; DONE = 1; }
  State state = 8;
}
`

// TestPythonDescriptors parses the descriptors protoc made for
// confluent-kafka-python (testdata/python_descriptors.b64) with the
// reference given as a descriptor too, as that client registers them.
func TestPythonDescriptors(t *testing.T) {
	b, err := os.ReadFile("testdata/python_descriptors.b64")
	if err != nil {
		t.Fatal(err)
	}
	blobs := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if name, blob, ok := strings.Cut(l, " "); ok && !strings.HasPrefix(l, "#") {
			blobs[name] = blob
		}
	}
	f := New()
	refs := []schema.Resolved{{Name: "customer.proto", Type: schema.Protobuf, Schema: blobs["customer"]}}
	desc, err := f.Parse(blobs["order"], refs)
	if err != nil {
		t.Fatal(err)
	}
	text, err := f.Parse(pythonOrder, []schema.Resolved{{Name: "customer.proto", Type: schema.Protobuf, Schema: pythonCustomer}})
	if err != nil {
		t.Fatal(err)
	}
	if m := append(desc.CanRead(text), text.CanRead(desc)...); len(m) != 0 {
		t.Errorf("descriptor and text differ: %v", m)
	}
	want := `syntax = "proto3";
package shop;

import "customer.proto";
import "google/protobuf/timestamp.proto";

message Order {
  int64 id = 1;
  .shop.Customer customer = 2;
  map<string, int32> qty = 3;
  optional string note = 4;
  .google.protobuf.Timestamp at = 7;
  .shop.Order.State state = 8;

  oneof pay {
    string card = 5;
    int64 cash = 6;
  }

  enum State {
    NEW = 0;
    DONE = 1;
  }
}
`
	if got := desc.Canonical(); got != want {
		t.Errorf("canonical:\n%s\nwant:\n%s", got, want)
	}
	if desc.Normalized() != text.Normalized() {
		t.Errorf("normalized forms differ:\n%s\n%s", desc.Normalized(), text.Normalized())
	}

	// The client later looks the schema up with what ?format=serialized
	// gave it (use.latest.version): that must print as what was registered.
	for name, p := range map[string]schema.Parsed{"order": desc} {
		again, err := f.Parse(p.(interface{ Formatted(string) string }).Formatted("serialized"), refs)
		if err != nil {
			t.Fatalf("%s: serialized form: %v", name, err)
		}
		if again.Canonical() != p.Canonical() {
			t.Errorf("%s: serialized form prints as\n%s\nnot\n%s", name, again.Canonical(), p.Canonical())
		}
	}
	customer, err := f.Parse(blobs["customer"], nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.Parse(customer.(interface{ Formatted(string) string }).Formatted("serialized"), nil)
	if err != nil || again.Canonical() != customer.Canonical() {
		t.Errorf("customer: serialized form prints as\n%v %v\nnot\n%s", again, err, customer.Canonical())
	}
}
