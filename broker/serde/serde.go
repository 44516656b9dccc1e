// Package serde reads and writes record keys and values in Confluent's
// schema-registry wire format (magic byte 0, a 4-byte schema id, then the
// Avro, Protobuf (with message indexes) or JSON Schema payload), for the
// web console's message browser and the REST Proxy's produce.
package serde

import (
	"github.com/twmb/franz-go/pkg/sr"
)

// Serde decodes and encodes with the schemas of one registry. Safe for
// concurrent use.
type Serde struct {
	reg *sr.Client
}

// New returns a Serde over reg; nil: no registry (Decode still tells
// JSON, text and binary apart; Encode answers ErrNoRegistry).
func New(reg *sr.Client) *Serde { return &Serde{reg: reg} }
