package broker

// StreamsGroupTopologyDescriptionUpdate, key 93, version 0 (KIP-1331).
//
// A Streams member pushes its topology description when a heartbeat (v1)
// answered TopologyDescriptionRequired. Kafka 4.4 stores descriptions only
// through the plugin group.streams.topology.description.plugin.class
// names; with none configured (its default) it never asks for a push,
// refuses one with UNSUPPORTED_VERSION and describes every group's
// description as NOT_STORED (89 v1). Moldau has no such plugin and answers
// as Kafka's default does: READ on the group first (GROUP_AUTHORIZATION_
// FAILED), then UNSUPPORTED_VERSION.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleStreamsGroupTopologyDescriptionUpdate(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.StreamsGroupTopologyDescriptionUpdateRequest)
	resp := r.ResponseKind().(*kmsg.StreamsGroupTopologyDescriptionUpdateResponse)
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	msg := "No topology description plugin is configured (group.streams.topology.description.plugin.class): the broker does not store topology descriptions."
	resp.ErrorMessage = &msg
	return protocol.Reply{Resp: resp}
}
