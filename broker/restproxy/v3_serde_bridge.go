//go:build !serde

package restproxy

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/moldau/moldau/broker/serde"
)

// serdeEncode: serde.Encode has not landed on this branch yet (build with
// -tags serde once it has); until then schema-backed produce is refused
// as when no registry is configured.
func (s *Server) serdeEncode(context.Context, serde.Spec, json.RawMessage) ([]byte, int, error) {
	return nil, 0, fmt.Errorf("%w (restproxy built without serde.Encode)", serde.ErrNoRegistry)
}
