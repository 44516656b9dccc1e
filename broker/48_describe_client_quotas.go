package broker

// DescribeClientQuotas, key 48, versions 0–1.
//
//   - v0: the filter's components (entity type, match type EXACT (0),
//     DEFAULT (1) or ANY (2) and the name for EXACT) and strict, answered
//     with every stored entity that matches and its quotas (broker/quota,
//     stored as broker/quota/FORMAT.md).
//   - v1: flexible.
//
// As Kafka's controller: an empty or repeated entity type, an ip component
// with a user or client-id one, or an unknown match type answer
// INVALID_REQUEST with Kafka's message; an unknown entity type
// UNSUPPORTED_VERSION. A null name with EXACT matches the default entity.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/quota"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleDescribeClientQuotas(_ context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DescribeClientQuotasRequest)
	resp := r.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	f := quota.Filter{Strict: r.Strict}
	for _, c := range r.Components {
		f.Components = append(f.Components, quota.FilterComponent{Type: c.EntityType, Match: int8(c.MatchType), Name: c.Match})
	}
	if err := f.Validate(); err != nil {
		resp.ErrorCode, resp.ErrorMessage = quotaErrorCode(err), quotaErrorMessage(err)
		return respond(resp)
	}
	resp.Entries = []kmsg.DescribeClientQuotasResponseEntry{}
	for _, s := range b.storedQuotas() {
		if !f.Matches(s.Entity) {
			continue
		}
		e := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, c := range s.Entity {
			ee := kmsg.NewDescribeClientQuotasResponseEntryEntity()
			ee.Type, ee.Name = c.Type, c.Name
			e.Entity = append(e.Entity, ee)
		}
		for _, v := range s.Values {
			ev := kmsg.NewDescribeClientQuotasResponseEntryValue()
			ev.Key, ev.Value = v.Key, v.Value
			e.Values = append(e.Values, ev)
		}
		resp.Entries = append(resp.Entries, e)
	}
	return respond(resp)
}

// quotaErrorCode maps broker/quota's errors to Kafka's codes.
func quotaErrorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, quota.ErrUnsupportedType):
		return kerr.UnsupportedVersion.Code
	case errors.Is(err, quota.ErrInvalid):
		return kerr.InvalidRequest.Code
	default:
		return errorCode(err)
	}
}

// quotaErrorMessage is Kafka's message for a quota error.
func quotaErrorMessage(err error) *string {
	var ie *quota.InvalidError
	if errors.As(err, &ie) {
		return &ie.Msg
	}
	msg := err.Error()
	if errors.Is(err, quota.ErrUnsupportedType) {
		msg = msg[len(quota.ErrUnsupportedType.Error())+2:]
	}
	return &msg
}
