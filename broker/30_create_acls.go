package broker

// CreateAcls, key 30, versions 0–3.
//
//   - v0: no pattern type (LITERAL); v1+: LITERAL or PREFIXED. v2+:
//     flexible. v3: USER resources.
//   - Each creation is validated as Kafka's AclControlManager does
//     (broker/acl Binding.Validate): a concrete resource type, pattern,
//     operation valid for the type and ALLOW or DENY, a non-empty name
//     (kafka-cluster for CLUSTER), a Type:name principal, a host.
//     Invalid ones get INVALID_REQUEST with the reason; the valid ones are
//     stored together, durable before the response (entity kind "acl",
//     broker/acl/FORMAT.md). Creating an existing binding again succeeds.
//   - No authorizer configured: SECURITY_DISABLED for every creation.
//   - The caller needs ALTER on the cluster (authorize.go).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/acl"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleCreateACLs(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.CreateACLsRequest)
	resp := r.ResponseKind().(*kmsg.CreateACLsResponse)
	resp.Results = make([]kmsg.CreateACLsResponseResult, len(r.Creations))
	for i := range resp.Results {
		resp.Results[i] = kmsg.NewCreateACLsResponseResult()
	}
	if b.authz == nil {
		for i := range resp.Results {
			resp.Results[i].ErrorCode = kerr.SecurityDisabled.Code
			resp.Results[i].ErrorMessage = kmsg.StringPtr(noAuthorizerMessage)
		}
		return respond(resp)
	}
	var put []Entity
	var valid []int
	for i, c := range r.Creations {
		bd := acl.Binding{
			ResourceType: acl.ResourceType(c.ResourceType), Name: c.ResourceName, Pattern: acl.PatternType(c.ResourcePatternType),
			Principal: c.Principal, Host: c.Host, Operation: acl.Operation(c.Operation), Permission: acl.Permission(c.PermissionType),
		}
		if r.Version == 0 {
			bd.Pattern = acl.PatternLiteral
		}
		if err := bd.Validate(); err != nil {
			resp.Results[i].ErrorCode = kerr.InvalidRequest.Code
			resp.Results[i].ErrorMessage = kmsg.StringPtr(err.Error())
			continue
		}
		put = append(put, Entity{Key: bd.Key(), Value: bd.MarshalValue()})
		valid = append(valid, i)
	}
	if len(put) == 0 {
		return respond(resp)
	}
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		if err := b.entities.Apply(ctx, entityACL, put, nil); err != nil {
			b.logger.Warn("create ACLs failed", "err", err)
			for _, i := range valid {
				resp.Results[i].ErrorCode = kerr.UnknownServerError.Code
				resp.Results[i].ErrorMessage = kmsg.StringPtr(err.Error())
			}
		} else {
			for _, i := range valid {
				c := r.Creations[i]
				b.logger.Info("ACL created", "principal", req.Conn.Principal(), "resource_type", acl.ResourceType(c.ResourceType), "name", c.ResourceName,
					"acl_principal", c.Principal, "host", c.Host, "operation", acl.Operation(c.Operation), "permission", acl.Permission(c.PermissionType))
			}
		}
		return resp
	}}
}
