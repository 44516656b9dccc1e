package broker

// DescribeLogDirs, key 35, versions 0–5 (Kafka 4.4 serves 1–5; v0 is kept
// for older clients such as sarama), single node and cluster.
//
//   - One log directory per broker: the data directory, named by its
//     absolute path (logDirPath). Topics null: every partition hosted here;
//     else the named ones hosted here (others, unknown ones included, are
//     left out, as Kafka does).
//   - Per partition: Size (the bytes of its segment files), OffsetLag
//     max(high watermark − log end offset, 0) as Kafka's
//     ReplicaManager.getLogEndOffsetLag computes it for a current replica
//     (0 for a leader; a follower's shows how far its log is behind the
//     high watermark it knows), IsFuture false (a replica never moves
//     between directories: there is one).
//   - A data directory that cannot be read (stat fails: removed, a failed
//     disk) is answered as Kafka answers an offline directory:
//     KAFKA_STORAGE_ERROR on the directory, no topics.
//   - --memory: Kafka has no broker without a log directory; Moldau answers
//     as for one directory named by the data-dir setting (default
//     "/moldau") holding the in-memory partitions, with TotalBytes and
//     UsableBytes -1 (Kafka's "unknown"), so tools that list sizes work.
//   - v3+: a top-level ErrorCode (0; CLUSTER_AUTHORIZATION_FAILED without
//     CLUSTER DESCRIBE, authorize.go); v4+: TotalBytes and UsableBytes of
//     the data directory's file system (statfs; -1 where it cannot be
//     read, as Kafka answers); v5+: IsCordoned (KIP-1066), always false:
//     Moldau's one directory cannot be cordoned. v2+: flexible.

import (
	"context"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleDescribeLogDirs(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DescribeLogDirsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	resp.Dirs = append(resp.Dirs, b.describeLogDir(r.Topics))
	return respond(resp)
}

// logDirPath is the one log directory's name as Kafka reports it: the data
// directory's absolute path.
func (b *Broker) logDirPath() string {
	if b.cfg.Memory {
		return b.dataDir
	}
	if abs, err := filepath.Abs(b.dataDir); err == nil {
		return abs
	}
	return b.dataDir
}

// logDirOnline reports whether the data directory can be read (always in
// --memory mode).
func (b *Broker) logDirOnline() bool {
	if b.cfg.Memory {
		return true
	}
	st, err := os.Stat(b.dataDir)
	return err == nil && st.IsDir()
}

// describeLogDir describes the data directory with the partitions of
// topics hosted here (nil: all).
func (b *Broker) describeLogDir(topics []kmsg.DescribeLogDirsRequestTopic) kmsg.DescribeLogDirsResponseDir {
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = b.logDirPath()
	if !b.logDirOnline() {
		dir.ErrorCode = kerr.KafkaStorageError.Code
		return dir
	}
	if !b.cfg.Memory {
		dir.TotalBytes, dir.UsableBytes = volumeBytes(b.dataDir)
	}
	add := func(t *topic, parts []*partition) {
		st := kmsg.NewDescribeLogDirsResponseDirTopic()
		st.Topic = t.name
		for _, p := range parts {
			if p == nil || p.log == nil {
				continue // not hosted here
			}
			sp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			sp.Partition = p.index
			sp.Size = p.size()
			sp.OffsetLag = max(p.highWatermark()-p.endOffset(), 0)
			st.Partitions = append(st.Partitions, sp)
		}
		if len(st.Partitions) > 0 {
			dir.Topics = append(dir.Topics, st)
		}
	}
	if topics == nil {
		for _, t := range b.topics.all() {
			add(t, t.partitionList())
		}
		return dir
	}
	for _, rt := range topics {
		t := b.topics.get(rt.Topic)
		if t == nil {
			continue
		}
		var parts []*partition
		for _, i := range rt.Partitions {
			parts = append(parts, t.partition(i))
		}
		add(t, parts)
	}
	return dir
}
