package broker

// DescribeLogDirs, key 35, versions 0–4 — cluster mode only (added with
// partition reassignment: kafka-reassign-partitions.sh asks every replica's
// broker where its replicas are; a single node keeps its API list as it was).
//
//   - One log directory per broker: the data directory. Topics null: every
//     partition hosted here; else the named ones hosted here (others,
//     unknown ones included, are left out, as Kafka does).
//   - Per partition: Size (the log's bytes), OffsetLag 0 (no future
//     replicas: a replica never moves between directories), IsFuture
//     false.
//   - v3+: a top-level ErrorCode (0); v4+: TotalBytes and UsableBytes of
//     the data directory's file system (statfs; -1 where it cannot be
//     read, as Kafka answers). v2+: flexible.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleDescribeLogDirs(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DescribeLogDirsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	if b.raft == nil {
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		return respond(resp)
	}
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = b.dataDir
	dir.TotalBytes, dir.UsableBytes = volumeBytes(b.dataDir)
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
			st.Partitions = append(st.Partitions, sp)
		}
		if len(st.Partitions) > 0 {
			dir.Topics = append(dir.Topics, st)
		}
	}
	if r.Topics == nil {
		for _, t := range b.topics.all() {
			add(t, t.partitionList())
		}
	} else {
		for _, rt := range r.Topics {
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
	}
	resp.Dirs = append(resp.Dirs, dir)
	return respond(resp)
}
