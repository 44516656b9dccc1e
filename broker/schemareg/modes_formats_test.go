package schemareg

import (
	"github.com/moldau/moldau/broker/schemareg/avro"
	"github.com/moldau/moldau/broker/schemareg/jsonschema"
	"github.com/moldau/moldau/broker/schemareg/protobuf"
	"github.com/moldau/moldau/broker/schemareg/schema"
)

// builtinModeFormats: testdata/modes_avro.txt, modes_protobuf.txt and
// modes_json.txt run with the real checkers.
func builtinModeFormats(name string) ([]schema.Format, bool) {
	switch name {
	case "avro":
		return []schema.Format{avro.New()}, true
	case "protobuf":
		return []schema.Format{protobuf.New()}, true
	case "json":
		return []schema.Format{jsonschema.New()}, true
	case "all": // golden files: a registry with every format, as Confluent's
		return []schema.Format{avro.New(), protobuf.New(), jsonschema.New()}, true
	}
	return nil, false
}
