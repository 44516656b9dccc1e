//go:build serde

package restproxy

import (
	"context"
	"encoding/json"

	"github.com/moldau/moldau/broker/serde"
)

// serdeEncode encodes value with the schema spec names.
func (s *Server) serdeEncode(ctx context.Context, spec serde.Spec, value json.RawMessage) ([]byte, int, error) {
	return s.cfg.Serde.Encode(ctx, spec, value)
}
