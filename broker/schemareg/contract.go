package schemareg

// The registry's contract with the broker (written first; the srcore
// helper fills in registry.go, the srwire helper implements Log in the
// broker and serves Handler on --schema-registry-addr).

import (
	"context"
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/moldau/moldau/broker/schemareg/schema"
)

// Topic is the schemas topic (Confluent's kafkastore.topic default):
// compacted, one partition, replicated with the cluster.
const Topic = "_schemas"

// Record is one record of the schemas topic. Value nil is a tombstone.
type Record struct {
	Offset     int64
	Key, Value []byte
}

// Log is the schemas topic's partition 0 as the registry sees it; the
// broker implements it over its own partitions (single node: the local
// log; cluster: appends go to the partition's leader, reads come from this
// node's replica up to the high watermark). Safe for concurrent use.
type Log interface {
	// Append writes one record with acks=all semantics and returns the
	// offset it was written at. It fails with ErrLogUnavailable (wrapped)
	// when the partition has no leader or is not writable yet.
	Append(ctx context.Context, key, value []byte) (offset int64, err error)
	// Read returns the records at offsets >= from that are committed (below
	// the high watermark), oldest first, at most about maxBytes of them
	// (at least one if any). With none available it waits until one is
	// or ctx ends (then it returns ctx's error).
	Read(ctx context.Context, from int64, maxBytes int) ([]Record, error)
	// End is the high watermark: the offset the next committed record
	// will get. The registry reads up to End before it answers a write
	// (read-your-writes, and the base for allocating ids and versions).
	End(ctx context.Context) (int64, error)
}

// ErrLogUnavailable: the schemas topic cannot be written or read now
// (no leader, broker stopping); the HTTP API answers 500 with error code
// 50003 ("Error while forwarding the request to the primary") or 50002
// as Confluent does for its store.
var ErrLogUnavailable = errors.New("schemareg: schemas topic unavailable")

// Config configures a Registry.
type Config struct {
	Log    Log
	Logger *slog.Logger // nil: discard
	// Registerer receives the registry's Prometheus metrics (nil: none).
	Registerer prometheus.Registerer
	// NodeID is this broker's node id; it is written into the records
	// this registry instance writes (see registry.go's write protocol) so
	// that two instances never allocate the same id or version.
	NodeID int32
	// Formats maps schema.Avro/Protobuf/JSON to their checkers; nil means
	// all three built-in ones.
	Formats map[string]schema.Format
}
