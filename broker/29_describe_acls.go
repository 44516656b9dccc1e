package broker

// DescribeAcls, key 29, versions 0–3.
//
//   - v0: resource pattern type absent (LITERAL); v1+: pattern type filter
//     (ANY, MATCH, LITERAL, PREFIXED). v2+: flexible. v3: USER resources.
//   - The filter selects bindings as Kafka's AclBindingFilter
//     (broker/acl); a filter with an UNKNOWN field gets INVALID_REQUEST.
//   - No authorizer configured: SECURITY_DISABLED, as Kafka answers.
//   - The caller needs DESCRIBE on the cluster (authorize.go).
//   - Bindings are grouped by resource pattern, sorted by type, name and
//     pattern, each resource's entries by principal, host, operation.

import (
	"cmp"
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/acl"
	"github.com/moldau/moldau/protocol"
)

// noAuthorizerMessage is Kafka's message with SECURITY_DISABLED.
const noAuthorizerMessage = "No Authorizer is configured."

func (b *Broker) handleDescribeACLs(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DescribeACLsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeACLsResponse)
	if b.authz == nil {
		resp.ErrorCode = kerr.SecurityDisabled.Code
		resp.ErrorMessage = kmsg.StringPtr(noAuthorizerMessage)
		return respond(resp)
	}
	f := acl.Filter{
		ResourceType: acl.ResourceType(r.ResourceType), Name: r.ResourceName, Pattern: acl.PatternType(r.ResourcePatternType),
		Principal: r.Principal, Host: r.Host, Operation: acl.Operation(r.Operation), Permission: acl.Permission(r.PermissionType),
	}
	if r.Version == 0 {
		f.Pattern = acl.PatternLiteral
	}
	if what := f.Unknown(); what != "" {
		resp.ErrorCode = kerr.InvalidRequest.Code
		resp.ErrorMessage = kmsg.StringPtr("The filter's " + what + " is UNKNOWN")
		return respond(resp)
	}
	bs := b.authz.Bindings(f)
	slices.SortFunc(bs, compareBindings)
	for i := 0; i < len(bs); {
		j := i
		rr := kmsg.NewDescribeACLsResponseResource()
		rr.ResourceType, rr.ResourceName, rr.ResourcePatternType = kmsg.ACLResourceType(bs[i].ResourceType), bs[i].Name, kmsg.ACLResourcePatternType(bs[i].Pattern)
		for ; j < len(bs) && bs[j].ResourceType == bs[i].ResourceType && bs[j].Name == bs[i].Name && bs[j].Pattern == bs[i].Pattern; j++ {
			e := kmsg.NewDescribeACLsResponseResourceACL()
			e.Principal, e.Host = bs[j].Principal, bs[j].Host
			e.Operation, e.PermissionType = kmsg.ACLOperation(bs[j].Operation), kmsg.ACLPermissionType(bs[j].Permission)
			rr.ACLs = append(rr.ACLs, e)
		}
		resp.Resources = append(resp.Resources, rr)
		i = j
	}
	return respond(resp)
}

func compareBindings(a, b acl.Binding) int {
	return cmp.Or(cmp.Compare(a.ResourceType, b.ResourceType), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Pattern, b.Pattern),
		cmp.Compare(a.Principal, b.Principal), cmp.Compare(a.Host, b.Host), cmp.Compare(a.Operation, b.Operation), cmp.Compare(a.Permission, b.Permission))
}
