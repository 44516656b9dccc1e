package broker

// ElectLeaders, key 43, versions 0–2.
//
//   - ElectionType (v1+; v0 is preferred): 0 PREFERRED moves a partition's
//     leadership to its preferred replica (the first of its replicas) when
//     that replica is in the ISR: ELECTION_NOT_NEEDED if it leads already,
//     PREFERRED_LEADER_NOT_AVAILABLE if it is not in sync. 1 UNCLEAN:
//     Raft never elects a replica that may lack committed records, so a
//     partition with a leader gets ELECTION_NOT_NEEDED and one without
//     ELIGIBLE_LEADERS_NOT_AVAILABLE.
//   - Topics null: every partition whose preferred replica does not lead,
//     and only those are answered (Kafka's behaviour). Unknown topics and
//     partitions: UNKNOWN_TOPIC_OR_PARTITION.
//   - The request is served by any broker (Kafka forwards it to its
//     controller): the transfer is asked of each partition's leader
//     (replication.Node.RequestTransfer) and the answer waits, up to
//     TimeoutMillis, until the preferred replica leads (REQUEST_TIMED_OUT
//     after), woken by the partition's leadership changes
//     (partition.leadWatch). On a single node every partition's preferred replica leads.
//   - v1+: a top-level ErrorCode (0); v2+: flexible.

import (
	"context"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

// Kafka's ElectionType values.
const (
	electPreferred int8 = 0
	electUnclean   int8 = 1
)

func (b *Broker) handleElectLeaders(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.ElectLeadersRequest)
	resp := r.ResponseKind().(*kmsg.ElectLeadersResponse)
	typ := electPreferred
	if r.Version >= 1 {
		typ = r.ElectionType
	}
	var waits []*partition
	answer := func(topicIdx int, part int32, code int16) {
		sp := kmsg.NewElectLeadersResponseTopicPartition()
		sp.Partition, sp.ErrorCode = part, code
		resp.Topics[topicIdx].Partitions = append(resp.Topics[topicIdx].Partitions, sp)
	}
	requested := r.Topics
	all := requested == nil
	if all {
		for _, t := range b.topics.all() {
			rt := kmsg.NewElectLeadersRequestTopic()
			rt.Topic = t.name
			for i := range t.partitionList() {
				rt.Partitions = append(rt.Partitions, int32(i))
			}
			requested = append(requested, rt)
		}
	}
	var pending []struct {
		topic, part int
		p           *partition
	}
	for _, rt := range requested {
		st := kmsg.NewElectLeadersResponseTopic()
		st.Topic = rt.Topic
		resp.Topics = append(resp.Topics, st)
		ti := len(resp.Topics) - 1
		t := b.topics.get(rt.Topic)
		for _, part := range rt.Partitions {
			var p *partition
			if t != nil {
				p = t.partition(part)
			}
			if p == nil {
				answer(ti, part, kerr.UnknownTopicOrPartition.Code)
				continue
			}
			l := p.lead.Load()
			switch {
			case typ == electUnclean && l.leader >= 0:
				if !all {
					answer(ti, part, kerr.ElectionNotNeeded.Code)
				}
			case typ == electUnclean:
				answer(ti, part, kerr.EligibleLeadersNotAvailable.Code)
			case typ != electPreferred:
				answer(ti, part, kerr.InvalidRequest.Code)
			case len(l.replicas) == 0 || l.leader == l.replicas[0]:
				if !all {
					answer(ti, part, kerr.ElectionNotNeeded.Code)
				}
			case !slices.Contains(l.isr, l.replicas[0]) || b.raft == nil:
				answer(ti, part, kerr.PreferredLeaderNotAvailable.Code)
			default:
				pending = append(pending, struct {
					topic, part int
					p           *partition
				}{ti, int(part), p})
			}
		}
	}
	for _, pd := range pending {
		l := pd.p.lead.Load()
		gid := b.raft.groupOf(pd.p)
		if gid == 0 {
			answer(pd.topic, int32(pd.part), kerr.PreferredLeaderNotAvailable.Code)
			continue
		}
		if err := b.raft.node.RequestTransfer(gid, raftID(l.replicas[0]), raftID(max(l.leader, 0))); err != nil && l.leader < 0 {
			answer(pd.topic, int32(pd.part), kerr.LeaderNotAvailable.Code)
			continue
		}
		answer(pd.topic, int32(pd.part), 0)
		waits = append(waits, pd.p)
	}
	if all {
		resp.Topics = slices.DeleteFunc(resp.Topics, func(t kmsg.ElectLeadersResponseTopic) bool { return len(t.Partitions) == 0 })
	}
	if len(waits) == 0 {
		return respond(resp)
	}
	type key struct {
		topic string
		part  int32
	}
	at := map[key]*kmsg.ElectLeadersResponseTopicPartition{}
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			sp := &resp.Topics[i].Partitions[j]
			at[key{resp.Topics[i].Topic, sp.Partition}] = sp
		}
	}
	timeout := time.Duration(r.TimeoutMillis) * time.Millisecond
	if timeout <= 0 || timeout > time.Minute {
		timeout = time.Minute
	}
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		for _, p := range waits {
			sp := at[key{p.topic.name, p.index}]
			// Woken by each change of p's leadership (setLead), not
			// polled.
			for l, moved := p.leadWatch(); len(l.replicas) == 0 || l.leader != l.replicas[0]; l, moved = p.leadWatch() {
				if !waitMoved(ctx, moved) {
					sp.ErrorCode = kerr.RequestTimedOut.Code
					break
				}
			}
		}
		return resp
	}}
}

// waitMoved waits for a leadership change (leadWatch's channel): false if
// ctx ends first.
func waitMoved(ctx context.Context, moved <-chan struct{}) bool {
	select {
	case <-moved:
		return true
	case <-ctx.Done():
		return false
	}
}
