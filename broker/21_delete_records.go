package broker

// DeleteRecords, key 21, versions 0–2.
//
//   - Every version: per partition, records below Offset are deleted by
//     moving the log start offset up (segments wholly below it are removed);
//     -1 means the high watermark. The answer is the new low watermark (the
//     log start offset), or -1 with an error.
//   - An offset below -1 or above the high watermark is OFFSET_OUT_OF_RANGE;
//     one at or below the log start changes nothing. A topic whose
//     cleanup.policy lacks "delete" is POLICY_VIOLATION, as in Kafka. Only
//     the leader deletes (NOT_LEADER_OR_FOLLOWER elsewhere).
//   - One replica: the low watermark is final at once, so the timeout is
//     not needed.
//   - Replicated partitions (cluster mode): the leader proposes the new log
//     start to the partition's Raft group as a log start entry
//     (replication.EncodeLogStart; replication/DESIGN.md §2), which every
//     replica applies (LogStorage.ApplyLogStart: persisted, enforced by
//     ListOffsets earliest and Fetch, which answers OFFSET_OUT_OF_RANGE
//     below it). The answer waits, within the request's timeout
//     (REQUEST_TIMED_OUT after it), until the entry is committed — held
//     by a quorum of replicas, so every later leader has it — and applied
//     on the leader, then until every replica on a live node (the Raft
//     node's peer liveness: heard from within the election timeout) holds
//     it in its log (its Raft Match). That is Kafka's rule as far as Raft
//     tells it: Kafka answers once the low watermark, the minimum log
//     start of the replicas on live brokers, reached the offset; Raft's
//     leader knows what each follower has persisted, not what it has
//     applied (a follower applies the entry at the next message carrying
//     the commit index, a heartbeat later at most). A replica on a node
//     that is down does not hold the answer back and applies the entry
//     when it catches up. Segments wholly below the start are deleted by
//     retention (partition.enforceRetention: LogStorage.CompactBelow) on
//     each replica once applied there.
//   - v2: flexible.

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/protocol"
	"github.com/moldau/moldau/replication"
)

// deleteRecordsHighWatermark is the offset meaning "up to the high
// watermark".
const deleteRecordsHighWatermark = -1

func (b *Broker) handleDeleteRecords(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DeleteRecordsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteRecordsResponse)
	type pending struct {
		p         *partition
		prop      *replication.Proposal
		topic, at int
	}
	var waits []pending
	for _, rt := range r.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		t := b.topics.get(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			var p *partition
			if t != nil {
				p = t.partition(rp.Partition)
			}
			if p == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else if low, prop, err := p.deleteRecordsBefore(rp.Offset); err != nil {
				sp.ErrorCode = adminRequestErrorCode(err)
			} else if prop != nil {
				waits = append(waits, pending{p, prop, len(resp.Topics), len(st.Partitions)})
			} else {
				sp.LowWatermark = low
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(waits) == 0 {
		return respond(resp)
	}
	timeout := time.Duration(r.TimeoutMillis) * time.Millisecond
	if timeout <= 0 || timeout > 5*time.Minute {
		timeout = 30 * time.Second
	}
	deadline := time.Now().Add(timeout) // from the request's arrival
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		ctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		for _, w := range waits {
			sp := &resp.Topics[w.topic].Partitions[w.at]
			low, err := w.p.awaitLogStart(ctx, w.prop)
			if err != nil {
				sp.ErrorCode = adminRequestErrorCode(err)
				continue
			}
			sp.LowWatermark = low
		}
		return resp
	}}
}

// deleteRecordsBefore deletes the records below offset (-1: the high
// watermark) and returns the new log start offset; on a replicated
// partition, the proposal of the log start entry to wait on instead
// (awaitLogStart), unless nothing moves.
func (p *partition) deleteRecordsBefore(offset int64) (int64, *replication.Proposal, error) {
	hw := p.highWatermark()
	if offset == deleteRecordsHighWatermark {
		offset = hw
	}
	// Kafka's order of checks: negative, policy, beyond the high watermark.
	if offset < 0 {
		return -1, nil, fmt.Errorf("%w: cannot delete records of %s before offset %d", plog.ErrOffsetOutOfRange, p.dirName(), offset)
	}
	if s := p.topic.settings(); !s.Delete {
		return -1, nil, fmt.Errorf("%w: records of partition %s can not be deleted due to the configured policy (cleanup.policy=%s)", errPolicyViolation, p.dirName(), s.CleanupPolicy)
	}
	if offset > hw {
		return -1, nil, fmt.Errorf("%w: cannot delete records of %s before offset %d: the high watermark is %d", plog.ErrOffsetOutOfRange, p.dirName(), offset, hw)
	}
	if p.repl != nil {
		return p.proposeLogStart(offset)
	}
	start, err := p.advanceLogStart(offset)
	if err != nil {
		return -1, nil, err
	}
	return start, nil, nil
}

// proposeLogStart proposes moving a replicated partition's log start to
// offset (at or below the high watermark, checked by the caller). It
// returns the log start when nothing moves (offset at or below it), else
// the proposal.
func (p *partition) proposeLogStart(offset int64) (int64, *replication.Proposal, error) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if !p.lead.Load().local {
		return -1, nil, errNotLeader
	}
	if p.repl.applied.Load() < p.repl.readyIndex.Load() {
		return -1, nil, errLeaderNotReady
	}
	if start := p.repl.storage.LogStartOffset(); offset <= start {
		return start, nil, nil
	}
	prop, err := p.repl.c.node.ProposeAsync(p.repl.gid, replication.EncodeLogStart(offset))
	if err != nil {
		return -1, nil, replicationError(err)
	}
	return -1, prop, nil
}

// awaitLogStart waits until the log start entry prop is committed and
// applied here, and held by every replica on a live node
// (awaitLiveReplicas), then returns the log start offset.
func (p *partition) awaitLogStart(ctx context.Context, prop *replication.Proposal) (int64, error) {
	if _, err := p.awaitProposal(ctx, prop, true); err != nil {
		return -1, err
	}
	if err := p.awaitLiveReplicas(ctx, prop.Index()); err != nil {
		return -1, err
	}
	return p.repl.storage.LogStartOffset(), nil
}

// liveReplicaPoll is how often awaitLiveReplicas looks at the replicas'
// progress.
const liveReplicaPoll = 10 * time.Millisecond

// awaitLiveReplicas waits until every replica of p whose node is alive
// holds index in its log (Raft's Match), as Kafka's DeleteRecords waits
// for the log start of every replica on a live broker. The leader itself
// holds it already (it applied it).
func (p *partition) awaitLiveReplicas(ctx context.Context, index uint64) error {
	node := p.repl.c.node
	tick := time.NewTicker(liveReplicaPoll)
	defer tick.Stop()
	for {
		reps, err := node.Replicas(p.repl.gid)
		if err != nil {
			return replicationError(err)
		}
		done := true
		for _, r := range reps {
			if r.Match < index && node.PeerAlive(r.ID) {
				done = false
				break
			}
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", errReplicationTimeout, ctx.Err())
		case <-tick.C:
		}
	}
}
