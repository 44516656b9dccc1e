package broker

// ListGroups, key 16, versions 0–5.
//
//   - v3+: flexible. v4+: StatesFilter (case-insensitive state names) and
//     the state of each group. v5+: TypesFilter and the type of each group
//     ("classic", "consumer" for KIP-848 groups, "streams" for KIP-1071
//     groups, whose protocol type is "streams" too, "share" for KIP-932
//     groups, protocol type "share", states Empty and Stable, as Kafka's).

import (
	"context"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleListGroups(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.ListGroupsRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
		matches := func(filter []string, v string) bool {
			if len(filter) == 0 {
				return true
			}
			for _, f := range filter {
				if strings.EqualFold(f, v) {
					return true
				}
			}
			return false
		}
		for _, g := range b.groups.ListGroups() {
			if r.Version >= 4 && !matches(r.StatesFilter, g.StateName) {
				continue
			}
			if r.Version >= 5 && !matches(r.TypesFilter, g.Type) {
				continue
			}
			rg := kmsg.NewListGroupsResponseGroup()
			rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = g.Group, g.ProtocolType, g.StateName, g.Type
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	}}
}
