package broker

// JoinGroup, key 11, versions 0–9.
//
//   - v0: no rebalance timeout (the session timeout stands in); v1+:
//     RebalanceTimeoutMillis.
//   - v4+: a first join without a member id gets MEMBER_ID_REQUIRED and
//     the id to rejoin with (KIP-394).
//   - v5+: group.instance.id (static membership, KIP-345).
//   - v6+: flexible. v7+: ProtocolType in the response, nullable protocol
//     name. v8+: Reason. v9+: SkipAssignment (a static leader rejoining a
//     Stable group is told not to reassign).
//
// The response waits until the rebalance completes (Reply.Wait); the
// handler never blocks.

import (
	"context"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/coordinator"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleJoinGroup(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.JoinGroupRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.Generation = -1
		resp.MemberID = r.MemberID
		if r.Version < 7 {
			resp.Protocol = new(string)
		}
		if err := b.ensureOffsetsTopic(); err != nil {
			resp.ErrorCode = groupErrorCode(err)
			return resp
		}
		jr := coordinator.JoinRequest{
			Group: r.Group, MemberID: r.MemberID, ClientID: req.ClientID, ClientHost: clientHost(req),
			SessionTimeout:       time.Duration(r.SessionTimeoutMillis) * time.Millisecond,
			RebalanceTimeout:     time.Duration(r.RebalanceTimeoutMillis) * time.Millisecond,
			ProtocolType:         r.ProtocolType,
			RequireKnownMemberID: r.Version >= 4,
		}
		if r.Version == 0 {
			jr.RebalanceTimeout = jr.SessionTimeout
		}
		if r.Version >= 5 {
			jr.InstanceID = r.InstanceID
		}
		for _, p := range r.Protocols {
			jr.Protocols = append(jr.Protocols, coordinator.Protocol{Name: p.Name, Metadata: p.Metadata})
		}
		ch := make(chan coordinator.JoinResult, 1)
		b.groups.JoinGroup(jr, func(res coordinator.JoinResult) { ch <- res })
		var res coordinator.JoinResult
		select {
		case res = <-ch:
		case <-ctx.Done():
			return nil
		}
		resp.ErrorCode = groupErrorCode(res.Err)
		resp.MemberID = res.MemberID
		resp.Generation = res.Generation
		if res.Err != nil {
			return resp
		}
		if r.Version >= 7 {
			resp.ProtocolType = &res.ProtocolType
		}
		resp.Protocol = &res.ProtocolName
		resp.LeaderID = res.LeaderID
		resp.SkipAssignment = res.SkipAssignment
		for _, m := range res.Members {
			rm := kmsg.NewJoinGroupResponseMember()
			rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = m.MemberID, m.InstanceID, m.Metadata
			resp.Members = append(resp.Members, rm)
		}
		return resp
	}}
}

// clientHost is the client address as Kafka reports it ("/127.0.0.1").
func clientHost(req *protocol.Request) string {
	if req.Conn == nil || req.Conn.Remote == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(req.Conn.Remote.String())
	if err != nil {
		return "/" + req.Conn.Remote.String()
	}
	return "/" + host
}
