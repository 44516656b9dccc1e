package restproxy

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Partitioner is the partitioner the webclient pool's clients must use
// (webclient.Config.Opts: kgo.RecordPartitioner(restproxy.Partitioner())):
// Kafka's default (murmur2 of the key, sticky for keyless records), except
// for records a v3 produce request gave a partition_id, which go there.
// Without it a partition_id is refused rather than ignored.
func Partitioner() kgo.Partitioner { return partitioner{kgo.StickyKeyPartitioner(nil)} }

// partitionKey is the context key of a record's requested partition.
type partitionKey struct{}

// withPartition marks a record's context with its requested partition.
func withPartition(ctx context.Context, p int32) context.Context {
	return context.WithValue(ctx, partitionKey{}, p)
}

func requestedPartition(r *kgo.Record) (int32, bool) {
	if r.Context == nil {
		return 0, false
	}
	p, ok := r.Context.Value(partitionKey{}).(int32)
	return p, ok
}

type partitioner struct{ inner kgo.Partitioner }

func (p partitioner) ForTopic(t string) kgo.TopicPartitioner {
	return &topicPartitioner{inner: p.inner.ForTopic(t)}
}

type topicPartitioner struct{ inner kgo.TopicPartitioner }

func (tp *topicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	if _, ok := requestedPartition(r); ok {
		return true
	}
	return tp.inner.RequiresConsistency(r)
}

func (tp *topicPartitioner) Partition(r *kgo.Record, n int) int {
	if p, ok := requestedPartition(r); ok && int(p) < n {
		return int(p)
	}
	return tp.inner.Partition(r, n)
}

// OnNewBatch keeps the sticky partitioner's batch switching.
func (tp *topicPartitioner) OnNewBatch() {
	if nb, ok := tp.inner.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}
