package broker

// ACLs live in the entity store: they survive a restart of an on-disk
// broker, and in a cluster an ACL created on one broker applies on every
// broker once it has the metadata log's change.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/acl"
	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/protocol"
	"github.com/moldau/moldau/replication"
)

func enableAuthz(c *config.Config) {
	c.Security.Authz = config.AuthzConfig{Enabled: true, SuperUsers: []string{protocol.AnonymousPrincipal}}
}

func createACLVia(t *testing.T, b *Broker, g grant, principal string) {
	t.Helper()
	req := kmsg.NewPtrCreateACLsRequest()
	req.Creations = append(req.Creations, g.binding(principal))
	resp := do[*kmsg.CreateACLsResponse](t, b, 3, req)
	if resp.Results[0].ErrorCode != 0 {
		t.Fatalf("create ACL: %d %v", resp.Results[0].ErrorCode, resp.Results[0].ErrorMessage)
	}
}

func TestACLSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	onDisk := func(c *config.Config) {
		enableAuthz(c)
		c.Memory = false
		c.DataDir = dir
	}
	alice := acl.Request{Principal: "User:alice", Host: "10.0.0.1"}
	b := newAdminBroker(t, onDisk)
	createACLVia(t, b, grant{acl.ResourceTopic, "orders", acl.OpRead}, "User:alice")
	if !b.authz.Authorize(alice, acl.OpRead, acl.ResourceTopic, "orders") {
		t.Fatal("not applied")
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b = newAdminBroker(t, onDisk)
	if !b.authz.Authorize(alice, acl.OpRead, acl.ResourceTopic, "orders") {
		t.Fatal("the ACL did not survive the restart")
	}
	if b.authz.Authorize(alice, acl.OpWrite, acl.ResourceTopic, "orders") {
		t.Fatal("WRITE allowed")
	}
}

func TestACLCluster(t *testing.T) {
	nw := replication.NewLocalNetwork()
	var peers []config.Peer
	for i := 1; i <= 3; i++ {
		peers = append(peers, config.Peer{NodeID: int32(i), Addr: fmt.Sprintf("local:%d", i)})
	}
	tc := &testCluster{t: t, nw: nw}
	for i := 1; i <= 3; i++ {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.NodeID = int32(i)
		cfg.Peers = peers
		cfg.Addr = "127.0.0.1:0"
		enableAuthz(&cfg)
		tc.cfgs = append(tc.cfgs, cfg)
		tc.brokers = append(tc.brokers, nil)
		tc.start(i - 1)
	}
	t.Cleanup(func() {
		for _, b := range tc.brokers {
			_ = b.Close(context.Background())
		}
	})
	tc.waitFor("a controller", func() bool { return tc.controllerIndex(0) >= 0 })
	ctrl := tc.controllerIndex(0)
	follower := tc.brokers[(ctrl+1)%3]
	createACLVia(t, follower, grant{acl.ResourceGroup, "billing", acl.OpRead}, "User:bob")
	bob := acl.Request{Principal: "User:bob", Host: "10.0.0.2"}
	if !follower.authz.Authorize(bob, acl.OpRead, acl.ResourceGroup, "billing") {
		t.Fatal("the broker that created the ACL does not apply it")
	}
	tc.waitFor("every broker applies the ACL", func() bool {
		for _, b := range tc.brokers {
			if !b.authz.Authorize(bob, acl.OpDescribe, acl.ResourceGroup, "billing") {
				return false
			}
		}
		return true
	})
	// Deleted on another broker: refused everywhere.
	other := tc.brokers[(ctrl+2)%3]
	dl := kmsg.NewPtrDeleteACLsRequest()
	f := kmsg.NewDeleteACLsRequestFilter()
	f.ResourceType, f.ResourcePatternType, f.Operation, f.PermissionType = kmsg.ACLResourceTypeGroup, kmsg.ACLResourcePatternTypeAny, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	dl.Filters = append(dl.Filters, f)
	if r := do[*kmsg.DeleteACLsResponse](t, other, 3, dl); r.Results[0].ErrorCode != 0 || len(r.Results[0].MatchingACLs) != 1 {
		t.Fatalf("delete: %+v", r.Results)
	}
	tc.waitFor("every broker drops the ACL", func() bool {
		for _, b := range tc.brokers {
			if b.authz.Authorize(bob, acl.OpRead, acl.ResourceGroup, "billing") {
				return false
			}
		}
		return true
	})
}

// TestACLDelegationTokens checks the authorizer's part of the delegation
// token APIs through b.authorize directly (their handlers belong to the
// delegation-token work): CREATE_TOKENS on the owner to create a token for
// someone else, and which tokens DescribeDelegationToken shows.
func TestACLDelegationTokens(t *testing.T) {
	b := newAdminBroker(t, enableAuthz)
	createACLVia(t, b, grant{acl.ResourceUser, "User:bob", acl.OpCreateTokens}, "User:alice")
	createACLVia(t, b, grant{acl.ResourceUser, "User:bob", acl.OpDescribeTokens}, "User:alice")
	createACLVia(t, b, grant{acl.ResourceDelegationToken, "tok-carol-2", acl.OpDescribe}, "User:alice")
	as := func(principal string, body kmsg.Request) *protocol.Request {
		c := &protocol.ConnInfo{Listener: "SASL_PLAINTEXT", Security: protocol.SASLPlaintext}
		c.SetSession(&protocol.Session{Principal: principal, Mechanism: "SCRAM-SHA-512"})
		return &protocol.Request{Key: body.Key(), Version: body.MaxVersion(), Body: body, Parsed: true, Conn: c}
	}
	create := func(principal, owner string) int16 {
		r := kmsg.NewPtrCreateDelegationTokenRequest()
		r.SetVersion(3)
		if owner != "" {
			typ, name, _ := strings.Cut(owner, ":")
			r.OwnerPrincipalType, r.OwnerPrincipalName = &typ, &name
		}
		deny, _ := b.authorize(as(principal, r))
		if deny == nil {
			return 0
		}
		return deny.Resp.(*kmsg.CreateDelegationTokenResponse).ErrorCode
	}
	tokAuth := kerr.DelegationTokenAuthorizationFailed.Code
	for _, c := range []struct {
		principal, owner string
		want             int16
	}{
		{"User:alice", "", 0},                 // for itself
		{"User:alice", "User:alice", 0},       // itself, named
		{"User:alice", "User:bob", 0},         // CREATE_TOKENS on bob
		{"User:alice", "User:carol", tokAuth}, // nothing on carol
		{"User:carol", "User:bob", tokAuth},
	} {
		if got := create(c.principal, c.owner); got != c.want {
			t.Errorf("%s creating for %q: %d, want %d", c.principal, c.owner, got, c.want)
		}
	}

	token := func(id, owner string, renewers ...string) kmsg.DescribeDelegationTokenResponseTokenDetail {
		d := kmsg.NewDescribeDelegationTokenResponseTokenDetail()
		d.TokenID = id
		d.PrincipalType, d.PrincipalName, _ = strings.Cut(owner, ":")
		d.TokenRequesterPrincipalType, d.TokenRequesterPrincipalName = d.PrincipalType, d.PrincipalName
		for _, r := range renewers {
			rn := kmsg.NewDescribeDelegationTokenResponseTokenDetailRenewer()
			rn.PrincipalType, rn.PrincipalName, _ = strings.Cut(r, ":")
			d.Renewers = append(d.Renewers, rn)
		}
		return d
	}
	_, post := b.authorize(as("User:alice", kmsg.NewPtrDescribeDelegationTokenRequest()))
	resp := kmsg.NewPtrDescribeDelegationTokenResponse()
	resp.TokenDetails = []kmsg.DescribeDelegationTokenResponseTokenDetail{
		token("tok-alice", "User:alice"),             // own
		token("tok-bob", "User:bob"),                 // DESCRIBE_TOKENS on bob
		token("tok-carol-1", "User:carol"),           // nothing
		token("tok-carol-2", "User:carol"),           // DESCRIBE on the token
		token("tok-dave", "User:dave", "User:alice"), // renewer
	}
	post(resp)
	var ids []string
	for _, d := range resp.TokenDetails {
		ids = append(ids, d.TokenID)
	}
	if want := []string{"tok-alice", "tok-bob", "tok-carol-2", "tok-dave"}; !slices.Equal(ids, want) {
		t.Errorf("alice sees %v, want %v", ids, want)
	}
}
