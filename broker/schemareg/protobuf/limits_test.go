package protobuf

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/moldau/moldau/broker/schemareg/schema"
)

func parseErr(t *testing.T, s string, refs []schema.Resolved, want string) {
	t.Helper()
	_, err := New().Parse(s, refs)
	if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Parse(%.60q...) = %v, want %q", s, err, want)
	}
}

// TestParseNestingDepth: brackets nested deeper than maxNestingDepth are
// refused before compiling (2,000,000 levels of `message A {` used to
// take the compiler's syntax tree to GBs); messages nest at most 32 deep
// (protocompile's and protoc's limit), option values to maxNestingDepth.
func TestParseNestingDepth(t *testing.T) {
	want := fmt.Sprintf("nesting depth (%d) exceeds the maximum allowed (%d)", maxNestingDepth+1, maxNestingDepth)
	for _, n := range []int{maxNestingDepth + 1, 1_000_000} {
		parseErr(t, "syntax = \"proto3\";\n"+strings.Repeat("message A {\n", n)+strings.Repeat("}\n", n), nil, want)
		ref := "syntax = \"proto3\";\npackage r;\n" + strings.Repeat("message A {\n", n) + strings.Repeat("}\n", n)
		parseErr(t, "syntax = \"proto3\";\nimport \"r.proto\";\n", []schema.Resolved{{Name: "r.proto", Schema: ref}}, "reference r.proto: "+want)
	}
	parseErr(t, "syntax = \"proto3\";\n"+strings.Repeat("message A {\n", 40)+strings.Repeat("}\n", 40), nil, "message nesting depth must be less than 32")
	// Brackets inside strings and comments do not count.
	ok := "syntax = \"proto3\";\n// " + strings.Repeat("{", 2000) + "\n/* " + strings.Repeat("[", 2000) + " */\n" +
		"message A { string s = 1 [json_name = \"" + strings.Repeat("<", 2000) + "\"]; }\n"
	if _, err := New().Parse(ok, nil); err != nil {
		t.Fatalf("brackets in comments and strings: %v", err)
	}
}

// TestParseStatements: more than maxStatements declarations in a schema
// and its references together are refused before compiling (a 16 MiB body
// of 1.4M empty messages took 12 s and 6 GiB).
func TestParseStatements(t *testing.T) {
	messages := func(pkg string, n int) string {
		var b strings.Builder
		b.WriteString("syntax = \"proto3\";\npackage " + pkg + ";\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "message M%d {}\n", i)
		}
		return b.String()
	}
	want := fmt.Sprintf("more than %d declarations", maxStatements)
	parseErr(t, messages("a", maxStatements), nil, want)
	half := []schema.Resolved{{Name: "b.proto", Schema: messages("b", maxStatements/2)}}
	parseErr(t, messages("a", maxStatements/2), half, want)
	if _, err := New().Parse(messages("a", 1000), half); err != nil {
		t.Fatalf("within the limit: %v", err)
	}
}

// TestDescriptorLimits: a base64 FileDescriptorProto nested deeper than
// protoc allows, or with too many elements, is refused before it is
// printed as text (printing indents every line by its depth).
func TestDescriptorLimits(t *testing.T) {
	encode := func(f *descriptorpb.FileDescriptorProto) string {
		b, err := proto.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	deep := &descriptorpb.DescriptorProto{Name: proto.String("A")}
	for i := 0; i < 5000; i++ {
		deep = &descriptorpb.DescriptorProto{Name: proto.String("A"), NestedType: []*descriptorpb.DescriptorProto{deep}}
	}
	f := &descriptorpb.FileDescriptorProto{Name: proto.String("x.proto"), Syntax: proto.String("proto3"), MessageType: []*descriptorpb.DescriptorProto{deep}}
	_, err := New().Parse(encode(f), nil)
	if !errors.Is(err, schema.ErrInvalid) {
		t.Fatalf("5000 nested messages: %v", err)
	}
	var wide descriptorpb.DescriptorProto
	wide.Name = proto.String("W")
	for i := 1; i <= maxStatements+1; i++ {
		wide.Field = append(wide.Field, &descriptorpb.FieldDescriptorProto{
			Name: proto.String(fmt.Sprintf("f%d", i)), Number: proto.Int32(int32(i)),
			Type: descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
		})
	}
	f = &descriptorpb.FileDescriptorProto{Name: proto.String("x.proto"), Syntax: proto.String("proto3"), MessageType: []*descriptorpb.DescriptorProto{&wide}}
	parseErr(t, encode(f), nil, want(maxStatements))
	d := &descriptorpb.DescriptorProto{Name: proto.String("A")}
	for i := 0; i < maxMessageDepth; i++ {
		d = &descriptorpb.DescriptorProto{Name: proto.String("A"), NestedType: []*descriptorpb.DescriptorProto{d}}
	}
	f = &descriptorpb.FileDescriptorProto{Name: proto.String("x.proto"), Syntax: proto.String("proto3"), MessageType: []*descriptorpb.DescriptorProto{d}}
	parseErr(t, encode(f), nil, "message nesting depth must be less than 32")
}

func want(n int) string { return fmt.Sprintf("more than %d declarations", n) }
