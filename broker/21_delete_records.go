package broker

// DeleteRecords, key 21, versions 0–2.
//
//   - Every version: per partition, records below Offset are deleted by
//     moving the log start offset up (segments wholly below it are removed);
//     -1 means the high watermark. The answer is the new low watermark (the
//     log start offset), or -1 with an error.
//   - An offset below -1 or above the high watermark is OFFSET_OUT_OF_RANGE;
//     one at or below the log start changes nothing. A topic whose
//     cleanup.policy lacks "delete" is POLICY_VIOLATION, as in Kafka.
//   - v2: flexible. With one replica the low watermark is final at once, so
//     the timeout is not needed.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/protocol"
)

// deleteRecordsHighWatermark is the offset meaning "up to the high
// watermark".
const deleteRecordsHighWatermark = -1

func (b *Broker) handleDeleteRecords(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DeleteRecordsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteRecordsResponse)
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
			} else if low, err := p.deleteRecordsBefore(rp.Offset); err != nil {
				sp.ErrorCode = adminRequestErrorCode(err)
			} else {
				sp.LowWatermark = low
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return respond(resp)
}

// deleteRecordsBefore deletes the records below offset (-1: the high
// watermark) and returns the new log start offset.
func (p *partition) deleteRecordsBefore(offset int64) (int64, error) {
	hw := p.highWatermark()
	if offset == deleteRecordsHighWatermark {
		offset = hw
	}
	// Kafka's order of checks: negative, policy, beyond the high watermark.
	if offset < 0 {
		return -1, fmt.Errorf("%w: cannot delete records of %s before offset %d", plog.ErrOffsetOutOfRange, p.dirName(), offset)
	}
	if s := p.topic.settings(); !s.Delete {
		return -1, fmt.Errorf("%w: records of partition %s can not be deleted due to the configured policy (cleanup.policy=%s)", errPolicyViolation, p.dirName(), s.CleanupPolicy)
	}
	if offset > hw {
		return -1, fmt.Errorf("%w: cannot delete records of %s before offset %d: the high watermark is %d", plog.ErrOffsetOutOfRange, p.dirName(), offset, hw)
	}
	start, err := p.advanceLogStart(offset)
	if err != nil {
		return -1, err
	}
	return start, nil
}
