package restproxy

// Schema-registry-backed keys and values for v2 (avro, protobuf,
// jsonschema) through broker/serde.

import (
	"context"
	"encoding/json"

	"github.com/moldau/moldau/broker/serde"
)

// v2Encode encodes value with spec: the framed bytes and the schema id.
func v2Encode(ctx context.Context, sd *serde.Serde, spec serde.Spec, value json.RawMessage) ([]byte, int, error) {
	return sd.Encode(ctx, spec, value)
}

// v2Decode decodes framed bytes.
func v2Decode(ctx context.Context, sd *serde.Serde, data []byte) serde.Decoded {
	return sd.Decode(ctx, data)
}
