package broker

// DeleteTopics, key 20, versions 0–6.
//
//   - v0–v5: topics by name (TopicNames). v4+: flexible. v5+: error
//     messages.
//   - v6: topics by name or by id (Topics[]); a topic named by id is
//     answered with its name, one named by name with its id. Unknown ids get
//     UNKNOWN_TOPIC_ID, unknown names UNKNOWN_TOPIC_OR_PARTITION.
//   - As Kafka's controller: a name or id listed twice, an entry with both or
//     neither, is INVALID_REQUEST.
//   - delete.topic.enable=false: every topic gets TOPIC_DELETION_DISABLED
//     (v3+) or INVALID_REQUEST (v0–v2, which predate that code).
//   - controller_mutation_rate (quotas.go): v5+ THROTTLING_QUOTA_EXCEEDED
//     per topic while the quota is exceeded; throttle_time_ms (v1+).
//   - Deletion is synchronous and crash-safe (see Broker.deleteTopic); the
//     timeout is not needed.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleDeleteTopics(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DeleteTopicsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
	mq := b.mutationQuota(req, r.Version >= 5) // controller_mutation_rate (quotas.go)
	defer func() { resp.ThrottleMillis = max(resp.ThrottleMillis, mq.throttleMs()) }()

	// One list of what was asked, whichever field it came in.
	type ask struct {
		name *string
		id   [16]byte
	}
	asks := make([]ask, 0, len(r.TopicNames)+len(r.Topics))
	for i := range r.TopicNames {
		asks = append(asks, ask{name: &r.TopicNames[i]})
	}
	for _, t := range r.Topics {
		asks = append(asks, ask{name: t.Topic, id: t.TopicID})
	}
	answer := func(name *string, id [16]byte, err error) {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = name, id
		st.ErrorCode = adminRequestErrorCode(err)
		st.ErrorMessage = errMessage(err)
		resp.Topics = append(resp.Topics, st)
	}

	if !b.cfg.DeleteTopicEnable {
		err := fmt.Errorf("%w (delete.topic.enable=false)", errTopicDeletionDisabled)
		if r.Version < 3 {
			err = fmt.Errorf("%w: topic deletion is disabled (delete.topic.enable=false)", errInvalidRequest)
		}
		for _, a := range asks {
			answer(a.name, a.id, err)
		}
		return respond(resp)
	}

	names := make(map[string]int, len(asks))
	ids := make(map[[16]byte]int, len(asks))
	for _, a := range asks {
		switch {
		case a.name != nil && a.id == [16]byte{}:
			names[*a.name]++
		case a.name == nil && a.id != [16]byte{}:
			ids[a.id]++
		}
	}
	dupNameAnswered := make(map[string]bool)
	dupIDAnswered := make(map[[16]byte]bool)
	for _, a := range asks {
		switch {
		case a.name == nil && a.id == [16]byte{}:
			answer(nil, a.id, fmt.Errorf("%w: neither topic name nor id were specified", errInvalidRequest))
		case a.name != nil && a.id != [16]byte{}:
			answer(a.name, a.id, fmt.Errorf("%w: you may not specify both topic name and topic id", errInvalidRequest))
		case a.name != nil && names[*a.name] > 1:
			if !dupNameAnswered[*a.name] {
				dupNameAnswered[*a.name] = true
				answer(a.name, a.id, fmt.Errorf("%w: duplicate topic name %q", errInvalidRequest, *a.name))
			}
		case a.name != nil:
			t := b.topics.get(*a.name)
			if t == nil {
				answer(a.name, a.id, fmt.Errorf("%w: %q", errUnknownTopic, *a.name))
				continue
			}
			answer(a.name, t.id, mq.deleteTopic(b, t))
		case ids[a.id] > 1:
			if !dupIDAnswered[a.id] {
				dupIDAnswered[a.id] = true
				answer(nil, a.id, fmt.Errorf("%w: duplicate topic id", errInvalidRequest))
			}
		default:
			t := b.topics.getID(a.id)
			if t == nil {
				st := kmsg.NewDeleteTopicsResponseTopic()
				st.TopicID = a.id
				st.ErrorCode = kerr.UnknownTopicID.Code
				st.ErrorMessage = kmsg.StringPtr("This server does not host this topic ID.")
				resp.Topics = append(resp.Topics, st)
				continue
			}
			name := t.name
			answer(&name, t.id, mq.deleteTopic(b, t))
		}
	}
	return respond(resp)
}
