package broker

// ListTransactions, key 66, versions 0–2.
//
//   - v0: filters by state names (unknown names are echoed in
//     UnknownStateFilters) and producer ids.
//   - v1+: DurationFilterMillis: only transactions running longer (-1: any).
//   - v2+: TransactionalIDPattern, a regular expression (Go's RE2 syntax;
//     Kafka uses Java's) matched against the whole id; an invalid one gets
//     INVALID_REGULAR_EXPRESSION.

import (
	"context"
	"regexp"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
	"github.com/moldau/moldau/txn"
)

func (b *Broker) handleListTransactions(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.ListTransactionsRequest)
	resp := r.ResponseKind().(*kmsg.ListTransactionsResponse)
	states := map[string]bool{}
	for _, name := range r.StateFilters {
		known := false
		for s := txn.StateEmpty; s <= txn.StatePrepareEpochFence; s++ {
			if s.String() == name {
				known = true
			}
		}
		if !known {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, name)
			continue
		}
		states[name] = true
	}
	pids := map[int64]bool{}
	for _, pid := range r.ProducerIDFilters {
		pids[pid] = true
	}
	var re *regexp.Regexp
	if r.Version >= 2 && r.TransactionalIDPattern != nil && *r.TransactionalIDPattern != "" {
		var err error
		if re, err = regexp.Compile("^(?:" + *r.TransactionalIDPattern + ")$"); err != nil {
			resp.ErrorCode = kerr.InvalidRegularExpression.Code
			return respond(resp)
		}
	}
	now := b.now()
	for _, t := range b.txns.List() {
		if len(r.StateFilters) > 0 && !states[t.State.String()] {
			continue
		}
		if len(pids) > 0 && !pids[t.ProducerID] {
			continue
		}
		if r.Version >= 1 && r.DurationFilterMillis >= 0 &&
			(t.Started.IsZero() || now.Sub(t.Started).Milliseconds() <= r.DurationFilterMillis) {
			continue
		}
		if re != nil && !re.MatchString(t.ID) {
			continue
		}
		st := kmsg.NewListTransactionsResponseTransactionState()
		st.TransactionalID, st.ProducerID, st.TransactionState = t.ID, t.ProducerID, t.State.String()
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return respond(resp)
}
