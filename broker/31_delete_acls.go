package broker

// DeleteAcls, key 31, versions 0–3.
//
//   - v0: no pattern type (LITERAL); v1+: ANY, MATCH, LITERAL, PREFIXED.
//     v2+: flexible. v3: USER resources.
//   - Each filter deletes the bindings it matches (Kafka's
//     AclBindingFilter, broker/acl) and lists them; a filter with an
//     UNKNOWN field gets INVALID_REQUEST. All filters' deletions are one
//     change, durable before the response.
//   - No authorizer configured: SECURITY_DISABLED for every filter.
//   - The caller needs ALTER on the cluster (authorize.go).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/acl"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleDeleteACLs(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DeleteACLsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteACLsResponse)
	resp.Results = make([]kmsg.DeleteACLsResponseResult, len(r.Filters))
	for i := range resp.Results {
		resp.Results[i] = kmsg.NewDeleteACLsResponseResult()
	}
	if b.authz == nil {
		for i := range resp.Results {
			resp.Results[i].ErrorCode = kerr.SecurityDisabled.Code
			resp.Results[i].ErrorMessage = kmsg.StringPtr(noAuthorizerMessage)
		}
		return respond(resp)
	}
	var del []string
	seen := make(map[string]bool)
	var matched []int
	for i, fr := range r.Filters {
		f := acl.Filter{
			ResourceType: acl.ResourceType(fr.ResourceType), Name: fr.ResourceName, Pattern: acl.PatternType(fr.ResourcePatternType),
			Principal: fr.Principal, Host: fr.Host, Operation: acl.Operation(fr.Operation), Permission: acl.Permission(fr.PermissionType),
		}
		if r.Version == 0 {
			f.Pattern = acl.PatternLiteral
		}
		if what := f.Unknown(); what != "" {
			resp.Results[i].ErrorCode = kerr.InvalidRequest.Code
			resp.Results[i].ErrorMessage = kmsg.StringPtr("The filter's " + what + " is UNKNOWN")
			continue
		}
		bs := b.authz.Bindings(f)
		for _, bd := range bs {
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType, m.ResourceName, m.ResourcePatternType = kmsg.ACLResourceType(bd.ResourceType), bd.Name, kmsg.ACLResourcePatternType(bd.Pattern)
			m.Principal, m.Host = bd.Principal, bd.Host
			m.Operation, m.PermissionType = kmsg.ACLOperation(bd.Operation), kmsg.ACLPermissionType(bd.Permission)
			resp.Results[i].MatchingACLs = append(resp.Results[i].MatchingACLs, m)
			if k := bd.Key(); !seen[k] {
				seen[k] = true
				del = append(del, k)
			}
		}
		matched = append(matched, i)
	}
	if len(del) == 0 {
		return respond(resp)
	}
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		if err := b.entities.Apply(ctx, entityACL, nil, del); err != nil {
			b.logger.Warn("delete ACLs failed", "err", err)
			for _, i := range matched {
				resp.Results[i].ErrorCode = kerr.UnknownServerError.Code
				resp.Results[i].ErrorMessage = kmsg.StringPtr(err.Error())
				resp.Results[i].MatchingACLs = nil
			}
		} else {
			b.logger.Info("ACLs deleted", "principal", req.Conn.Principal(), "count", len(del))
		}
		return resp
	}}
}
