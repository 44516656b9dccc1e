package broker

// DescribeTransactions, key 65, version 0: the coordinator's view of each
// transactional id (TRANSACTIONAL_ID_NOT_FOUND for unknown ids).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleDescribeTransactions(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DescribeTransactionsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, id := range r.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID = id
		t, ok := b.txns.Describe(id)
		if !ok {
			st.ErrorCode = kerr.TransactionalIDNotFound.Code
			st.ProducerID, st.ProducerEpoch, st.StartTimestamp = -1, -1, -1
			resp.TransactionStates = append(resp.TransactionStates, st)
			continue
		}
		st.State = t.State.String()
		st.TimeoutMillis = int32(t.Timeout.Milliseconds())
		st.StartTimestamp = -1
		if !t.Started.IsZero() {
			st.StartTimestamp = t.Started.UnixMilli()
		}
		st.ProducerID, st.ProducerEpoch = t.ProducerID, t.Epoch
		for _, tp := range t.Partitions {
			if n := len(st.Topics); n > 0 && st.Topics[n-1].Topic == tp.Topic {
				st.Topics[n-1].Partitions = append(st.Topics[n-1].Partitions, tp.Partition)
				continue
			}
			rt := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
			rt.Topic, rt.Partitions = tp.Topic, []int32{tp.Partition}
			st.Topics = append(st.Topics, rt)
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return respond(resp)
}
