//go:build !serde

package restproxy

// Until broker/serde has Encode and Decode (build tag serde), the schema
// formats answer ErrNoRegistry.

import (
	"context"
	"encoding/json"

	"github.com/moldau/moldau/broker/serde"
)

func v2Encode(context.Context, *serde.Serde, serde.Spec, json.RawMessage) ([]byte, int, error) {
	return nil, 0, serde.ErrNoRegistry
}

func v2Decode(_ context.Context, _ *serde.Serde, data []byte) serde.Decoded {
	return serde.Decoded{Format: "binary", Error: serde.ErrNoRegistry.Error(), Size: len(data)}
}
