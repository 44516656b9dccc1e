package broker

// The share.Persister of this node's share-partition leaders: a local
// call when this node serves the key's __share_group_state partition,
// else the inter-broker request (InitializeShareGroupState 83,
// ReadShareGroupState 84, WriteShareGroupState 85, DeleteShareGroupState
// 86, ReadShareGroupStateSummary 87) to the node that does, as Kafka's
// DefaultStatePersister does. NOT_COORDINATOR and the coordinator being
// unavailable or loading are retried, after looking the leader up again,
// until ctx ends (at most sharePersistTimeout when ctx has no deadline).

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/share"
)

// sharePersistTimeout bounds a persister call whose ctx has no deadline.
const sharePersistTimeout = 30 * time.Second

// sharePersistBackoff is the pause before asking again after a retriable
// answer.
const sharePersistBackoff = 20 * time.Millisecond

// sharePersister implements share.Persister (see the file comment).
type sharePersister struct{ b *Broker }

// newSharePersister returns the persister the share-partition leaders of
// this node use.
func (b *Broker) newSharePersister() share.Persister { return &sharePersister{b: b} }

var _ share.Persister = (*sharePersister)(nil)

// retriable reports whether err says to look the coordinator up again.
func shareRetriable(err error) bool {
	return errors.Is(err, share.ErrNotCoordinator) || errors.Is(err, share.ErrCoordinatorNotAvailable)
}

// do runs local on this node or remote on the coordinator of k, retrying
// while the answer is retriable and ctx lasts.
func (sp *sharePersister) do(ctx context.Context, k share.Key, local func(ctx context.Context) error, remote func(ctx context.Context, node int32) error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, sharePersistTimeout)
		defer cancel()
	}
	for {
		_, node, isLocal, err := sp.b.shareState.coordinatorOf(k)
		if err == nil {
			if isLocal {
				err = local(ctx)
			} else if sp.b.inter == nil {
				err = share.ErrCoordinatorNotAvailable
			} else {
				err = remote(ctx, node)
			}
		}
		if err == nil || !shareRetriable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%v)", err, ctx.Err())
		case <-sp.b.stop:
			return fmt.Errorf("%w (%v)", err, errClosing)
		case <-time.After(sharePersistBackoff):
		}
	}
}

// shareErrorFromCode maps a share coordinator's answer to the persister's
// errors (the inverse of shareErrorCode).
func shareErrorFromCode(code int16, msg *string) error {
	switch code {
	case 0:
		return nil
	case kerr.NotCoordinator.Code:
		return share.ErrNotCoordinator
	case kerr.CoordinatorNotAvailable.Code, kerr.CoordinatorLoadInProgress.Code, kerr.RequestTimedOut.Code, kerr.NotEnoughReplicas.Code:
		return share.ErrCoordinatorNotAvailable
	case kerr.FencedStateEpoch.Code:
		return share.ErrFencedStateEpoch
	case kerr.FencedLeaderEpoch.Code:
		return share.ErrFencedLeaderEpoch
	case kerr.InvalidRequest.Code:
		if msg != nil && (*msg == shareUninitializedMessage || *msg == shareWriteUninitMessage) {
			return share.ErrUninitialized
		}
	}
	text := ""
	if msg != nil {
		text = ": " + *msg
	}
	return fmt.Errorf("broker: share coordinator answered %v%s", kerr.ErrorForCode(code), text)
}

// request sends req to node; a transport failure is retriable.
func (sp *sharePersister) request(ctx context.Context, node int32, req kmsg.Request) (kmsg.Response, error) {
	resp, err := sp.b.inter.request(ctx, node, req)
	if err != nil {
		return nil, fmt.Errorf("%w: node %d: %v", share.ErrCoordinatorNotAvailable, node, err)
	}
	return resp, nil
}

func errNoAnswer(node int32) error {
	return fmt.Errorf("%w: node %d answered without the partition", share.ErrCoordinatorNotAvailable, node)
}

// Initialize implements share.Persister.
func (sp *sharePersister) Initialize(ctx context.Context, k share.Key, stateEpoch int32, startOffset int64) error {
	return sp.do(ctx, k, func(ctx context.Context) error {
		return sp.b.shareState.initialize(ctx, k, stateEpoch, startOffset)
	}, func(ctx context.Context, node int32) error {
		req := kmsg.NewPtrInitializeShareGroupStateRequest()
		req.GroupID = k.Group
		t := kmsg.NewInitializeShareGroupStateRequestTopic()
		t.TopicID = k.TopicID
		p := kmsg.NewInitializeShareGroupStateRequestTopicPartition()
		p.Partition, p.StateEpoch, p.StartOffset = k.Partition, stateEpoch, startOffset
		t.Partitions = append(t.Partitions, p)
		req.Topics = append(req.Topics, t)
		kresp, err := sp.request(ctx, node, req)
		if err != nil {
			return err
		}
		for _, rt := range kresp.(*kmsg.InitializeShareGroupStateResponse).Topics {
			for _, rp := range rt.Partitions {
				if rt.TopicID == k.TopicID && rp.Partition == k.Partition {
					return shareErrorFromCode(rp.ErrorCode, rp.ErrorMessage)
				}
			}
		}
		return errNoAnswer(node)
	})
}

// Read implements share.Persister.
func (sp *sharePersister) Read(ctx context.Context, k share.Key, leaderEpoch int32) (share.State, error) {
	var st share.State
	err := sp.do(ctx, k, func(ctx context.Context) error {
		var err error
		st, err = sp.b.shareState.read(ctx, k, leaderEpoch)
		return err
	}, func(ctx context.Context, node int32) error {
		req := kmsg.NewPtrReadShareGroupStateRequest()
		req.GroupID = k.Group
		t := kmsg.NewReadShareGroupStateRequestTopic()
		t.TopicID = k.TopicID
		p := kmsg.NewReadShareGroupStateRequestTopicPartition()
		p.Partition, p.LeaderEpoch = k.Partition, leaderEpoch
		t.Partitions = append(t.Partitions, p)
		req.Topics = append(req.Topics, t)
		kresp, err := sp.request(ctx, node, req)
		if err != nil {
			return err
		}
		for _, rt := range kresp.(*kmsg.ReadShareGroupStateResponse).Topics {
			for _, rp := range rt.Partitions {
				if rt.TopicID != k.TopicID || rp.Partition != k.Partition {
					continue
				}
				if err := shareErrorFromCode(rp.ErrorCode, rp.ErrorMessage); err != nil {
					return err
				}
				// The response has no leader epoch or completed count: the
				// leader epoch is the one asked for (recorded), or unknown.
				st = share.State{StateEpoch: rp.StateEpoch, LeaderEpoch: leaderEpoch, StartOffset: rp.StartOffset, DeliveryCompleteCount: -1}
				for _, b := range rp.StateBatches {
					st.Batches = append(st.Batches, share.StateBatch{FirstOffset: b.FirstOffset, LastOffset: b.LastOffset,
						DeliveryState: b.DeliveryState, DeliveryCount: b.DeliveryCount})
				}
				return nil
			}
		}
		return errNoAnswer(node)
	})
	return st, err
}

// Write implements share.Persister.
func (sp *sharePersister) Write(ctx context.Context, k share.Key, stateEpoch, leaderEpoch int32, startOffset int64, batches []share.StateBatch) error {
	return sp.do(ctx, k, func(ctx context.Context) error {
		return sp.b.shareState.write(ctx, k, stateEpoch, leaderEpoch, startOffset, -1, batches)
	}, func(ctx context.Context, node int32) error {
		req := kmsg.NewPtrWriteShareGroupStateRequest()
		req.GroupID = k.Group
		t := kmsg.NewWriteShareGroupStateRequestTopic()
		t.TopicID = k.TopicID
		p := kmsg.NewWriteShareGroupStateRequestTopicPartition()
		p.Partition, p.StateEpoch, p.LeaderEpoch, p.StartOffset, p.DeliveryCompleteCount = k.Partition, stateEpoch, leaderEpoch, startOffset, -1
		for _, b := range batches {
			sb := kmsg.NewWriteShareGroupStateRequestTopicPartitionStateBatch()
			sb.FirstOffset, sb.LastOffset, sb.DeliveryState, sb.DeliveryCount = b.FirstOffset, b.LastOffset, b.DeliveryState, b.DeliveryCount
			p.StateBatches = append(p.StateBatches, sb)
		}
		t.Partitions = append(t.Partitions, p)
		req.Topics = append(req.Topics, t)
		kresp, err := sp.request(ctx, node, req)
		if err != nil {
			return err
		}
		for _, rt := range kresp.(*kmsg.WriteShareGroupStateResponse).Topics {
			for _, rp := range rt.Partitions {
				if rt.TopicID == k.TopicID && rp.Partition == k.Partition {
					return shareErrorFromCode(rp.ErrorCode, rp.ErrorMessage)
				}
			}
		}
		return errNoAnswer(node)
	})
}

// Delete implements share.Persister.
func (sp *sharePersister) Delete(ctx context.Context, k share.Key) error {
	return sp.do(ctx, k, func(ctx context.Context) error {
		return sp.b.shareState.remove(ctx, k)
	}, func(ctx context.Context, node int32) error {
		req := kmsg.NewPtrDeleteShareGroupStateRequest()
		req.GroupID = k.Group
		t := kmsg.NewDeleteShareGroupStateRequestTopic()
		t.TopicID = k.TopicID
		p := kmsg.NewDeleteShareGroupStateRequestTopicPartition()
		p.Partition = k.Partition
		t.Partitions = append(t.Partitions, p)
		req.Topics = append(req.Topics, t)
		kresp, err := sp.request(ctx, node, req)
		if err != nil {
			return err
		}
		for _, rt := range kresp.(*kmsg.DeleteShareGroupStateResponse).Topics {
			for _, rp := range rt.Partitions {
				if rt.TopicID == k.TopicID && rp.Partition == k.Partition {
					return shareErrorFromCode(rp.ErrorCode, rp.ErrorMessage)
				}
			}
		}
		return errNoAnswer(node)
	})
}

// ReadSummary implements share.Persister.
func (sp *sharePersister) ReadSummary(ctx context.Context, k share.Key) (share.State, error) {
	var st share.State
	err := sp.do(ctx, k, func(ctx context.Context) error {
		var err error
		st, err = sp.b.shareState.readSummary(ctx, k)
		return err
	}, func(ctx context.Context, node int32) error {
		req := kmsg.NewPtrReadShareGroupStateSummaryRequest()
		req.Version = 1
		req.GroupID = k.Group
		t := kmsg.NewReadShareGroupStateSummaryRequestTopic()
		t.TopicID = k.TopicID
		p := kmsg.NewReadShareGroupStateSummaryRequestTopicPartition()
		p.Partition, p.LeaderEpoch = k.Partition, -1
		t.Partitions = append(t.Partitions, p)
		req.Topics = append(req.Topics, t)
		kresp, err := sp.request(ctx, node, req)
		if err != nil {
			return err
		}
		for _, rt := range kresp.(*kmsg.ReadShareGroupStateSummaryResponse).Topics {
			for _, rp := range rt.Partitions {
				if rt.TopicID != k.TopicID || rp.Partition != k.Partition {
					continue
				}
				if err := shareErrorFromCode(rp.ErrorCode, rp.ErrorMessage); err != nil {
					return err
				}
				if rp.StartOffset == -1 && rp.LeaderEpoch == -1 && rp.StateEpoch == 0 {
					return share.ErrUninitialized // Kafka's answer for a key without state
				}
				st = share.State{StateEpoch: rp.StateEpoch, LeaderEpoch: rp.LeaderEpoch, StartOffset: rp.StartOffset, DeliveryCompleteCount: rp.DeliveryCompleteCount}
				return nil
			}
		}
		return errNoAnswer(node)
	})
	return st, err
}
