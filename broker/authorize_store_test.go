package broker

// ACLs live in the entity store: they survive a restart of an on-disk
// broker, and in a cluster an ACL created on one broker applies on every
// broker once it has the metadata log's change.

import (
	"context"
	"fmt"
	"testing"

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
