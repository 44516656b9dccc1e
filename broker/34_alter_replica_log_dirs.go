package broker

// AlterReplicaLogDirs, key 34, versions 1–2 (Kafka 4.x's; v0 was removed
// by KIP-896), single node and cluster.
//
// Moldau keeps one log directory per broker (the data directory), so a
// replica can only be "moved" to where it already is. Each requested
// partition is answered as Kafka's ReplicaManager.alterReplicaLogDirs
// answers it on a broker with one log directory:
//   - a directory other than this broker's (an absolute path compared
//     after cleaning, as Kafka compares File.getAbsolutePath):
//     LOG_DIR_NOT_FOUND (checked first, as Kafka's isLogDirOnline);
//   - the data directory while it cannot be read: KAFKA_STORAGE_ERROR;
//   - an unknown topic or partition: UNKNOWN_TOPIC_OR_PARTITION;
//   - a partition of this cluster with no replica on this broker:
//     REPLICA_NOT_AVAILABLE (Kafka maps its NOT_LEADER_OR_FOLLOWER to it
//     "for compatibility");
//   - a replica hosted here: NONE, and nothing moves (it is in that
//     directory already; Kafka does the same without a future replica).
//
// A partition named twice takes the last directory (Kafka reads the request
// into a map). Results are grouped by topic in first-appearance order.
// CLUSTER ALTER is required (authorize.go): without it every partition is
// CLUSTER_AUTHORIZATION_FAILED. v2+: flexible.

import (
	"context"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleAlterReplicaLogDirs(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.AlterReplicaLogDirsRequest)
	resp := r.ResponseKind().(*kmsg.AlterReplicaLogDirsResponse)
	type tp struct {
		topic     string
		partition int32
	}
	dirOf := map[tp]string{}
	var order []tp
	for _, d := range r.Dirs {
		for _, t := range d.Topics {
			for _, p := range t.Partitions {
				k := tp{t.Topic, p}
				if _, ok := dirOf[k]; !ok {
					order = append(order, k)
				}
				dirOf[k] = d.Dir
			}
		}
	}
	self := b.logDirPath()
	online := b.logDirOnline()
	topicAt := map[string]int{}
	for _, k := range order {
		rp := kmsg.NewAlterReplicaLogDirsResponseTopicPartition()
		rp.Partition = k.partition
		rp.ErrorCode = b.alterReplicaLogDirCode(k.topic, k.partition, dirOf[k], self, online)
		i, ok := topicAt[k.topic]
		if !ok {
			i = len(resp.Topics)
			topicAt[k.topic] = i
			rt := kmsg.NewAlterReplicaLogDirsResponseTopic()
			rt.Topic = k.topic
			resp.Topics = append(resp.Topics, rt)
		}
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
	return respond(resp)
}

// alterReplicaLogDirCode is the outcome of moving the replica of
// topic-partition to dir on this broker, whose one directory is self.
func (b *Broker) alterReplicaLogDirCode(topic string, partition int32, dir, self string, online bool) int16 {
	if !sameLogDir(dir, self) {
		return kerr.LogDirNotFound.Code
	}
	if !online {
		return kerr.KafkaStorageError.Code
	}
	t := b.topics.get(topic)
	if t == nil {
		return kerr.UnknownTopicOrPartition.Code
	}
	p := t.partition(partition)
	if p == nil {
		return kerr.UnknownTopicOrPartition.Code
	}
	if p.log == nil {
		return kerr.ReplicaNotAvailable.Code
	}
	return 0
}

// sameLogDir reports whether the requested directory names this broker's:
// an absolute path, equal once cleaned (a trailing slash is the same
// directory, as for Java's File).
func sameLogDir(dir, self string) bool {
	return filepath.IsAbs(dir) && filepath.Clean(dir) == filepath.Clean(self)
}
