package acl

import (
	"errors"
	"sync/atomic"
	"testing"
)

type staticSource struct {
	v  atomic.Uint64
	bs []Binding
}

func (s *staticSource) Version() uint64     { return s.v.Load() }
func (s *staticSource) Bindings() []Binding { return s.bs }

func lit(rt ResourceType, name, principal, host string, op Operation, perm Permission) Binding {
	return Binding{ResourceType: rt, Name: name, Pattern: PatternLiteral, Principal: principal, Host: host, Operation: op, Permission: perm}
}

func pre(rt ResourceType, name, principal, host string, op Operation, perm Permission) Binding {
	b := lit(rt, name, principal, host, op, perm)
	b.Pattern = PatternPrefixed
	return b
}

func TestAuthorize(t *testing.T) {
	alice := Request{Principal: "User:alice", Host: "10.0.0.1"}
	bob := Request{Principal: "User:bob", Host: "10.0.0.2"}
	admin := Request{Principal: "User:admin", Host: "10.0.0.3"}
	tests := []struct {
		name     string
		bindings []Binding
		allowAll bool
		req      Request
		op       Operation
		rt       ResourceType
		res      string
		want     bool
	}{
		{"no acls: denied", nil, false, alice, OpRead, ResourceTopic, "t", false},
		{"no acls, allow.everyone: allowed", nil, true, alice, OpRead, ResourceTopic, "t", true},
		{"acl on other principal, allow.everyone: denied", []Binding{lit(ResourceTopic, "t", "User:bob", "*", OpRead, Allow)}, true, alice, OpRead, ResourceTopic, "t", false},
		{"acl on other resource, allow.everyone: allowed", []Binding{lit(ResourceTopic, "u", "User:bob", "*", OpRead, Allow)}, true, alice, OpRead, ResourceTopic, "t", true},
		{"super user", []Binding{lit(ResourceTopic, "t", "User:admin", "*", OpAll, Deny)}, false, admin, OpDelete, ResourceTopic, "t", true},
		{"literal allow", []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpRead, Allow)}, false, alice, OpRead, ResourceTopic, "t", true},
		{"literal allow other op", []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpRead, Allow)}, false, alice, OpWrite, ResourceTopic, "t", false},
		{"literal allow other principal", []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpRead, Allow)}, false, bob, OpRead, ResourceTopic, "t", false},
		{"literal other name", []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpRead, Allow)}, false, alice, OpRead, ResourceTopic, "t2", false},
		{"wildcard resource", []Binding{lit(ResourceTopic, "*", "User:alice", "*", OpRead, Allow)}, false, alice, OpRead, ResourceTopic, "anything", true},
		{"wildcard principal", []Binding{lit(ResourceTopic, "t", "User:*", "*", OpRead, Allow)}, false, bob, OpRead, ResourceTopic, "t", true},
		{"host match", []Binding{lit(ResourceTopic, "t", "User:alice", "10.0.0.1", OpRead, Allow)}, false, alice, OpRead, ResourceTopic, "t", true},
		{"host mismatch", []Binding{lit(ResourceTopic, "t", "User:alice", "10.9.9.9", OpRead, Allow)}, false, alice, OpRead, ResourceTopic, "t", false},
		{"prefixed allow", []Binding{pre(ResourceTopic, "orders-", "User:alice", "*", OpWrite, Allow)}, false, alice, OpWrite, ResourceTopic, "orders-eu", true},
		{"prefixed no match", []Binding{pre(ResourceTopic, "orders-", "User:alice", "*", OpWrite, Allow)}, false, alice, OpWrite, ResourceTopic, "order", false},
		{"deny wins over allow", []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpRead, Allow), lit(ResourceTopic, "t", "User:alice", "*", OpRead, Deny)}, false, alice, OpRead, ResourceTopic, "t", false},
		{"prefixed deny wins over literal allow", []Binding{lit(ResourceTopic, "t1", "User:alice", "*", OpRead, Allow), pre(ResourceTopic, "t", "User:*", "*", OpAll, Deny)}, false, alice, OpRead, ResourceTopic, "t1", false},
		{"deny from host", []Binding{lit(ResourceTopic, "t", "User:*", "*", OpRead, Allow), lit(ResourceTopic, "t", "User:*", "10.0.0.1", OpRead, Deny)}, false, alice, OpRead, ResourceTopic, "t", false},
		{"deny other host", []Binding{lit(ResourceTopic, "t", "User:*", "*", OpRead, Allow), lit(ResourceTopic, "t", "User:*", "10.0.0.1", OpRead, Deny)}, false, bob, OpRead, ResourceTopic, "t", true},
		{"deny on other op does not deny", []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpAll, Allow), lit(ResourceTopic, "t", "User:alice", "*", OpWrite, Deny)}, false, alice, OpRead, ResourceTopic, "t", true},
		{"deny read does not deny describe", []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpDescribe, Allow), lit(ResourceTopic, "t", "User:alice", "*", OpRead, Deny)}, false, alice, OpDescribe, ResourceTopic, "t", true},
		{"all allows", []Binding{lit(ResourceGroup, "g", "User:alice", "*", OpAll, Allow)}, false, alice, OpDelete, ResourceGroup, "g", true},
		{"read implies describe", []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpRead, Allow)}, false, alice, OpDescribe, ResourceTopic, "t", true},
		{"write implies describe", []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpWrite, Allow)}, false, alice, OpDescribe, ResourceTopic, "t", true},
		{"delete implies describe", []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpDelete, Allow)}, false, alice, OpDescribe, ResourceTopic, "t", true},
		{"alter implies describe", []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpAlter, Allow)}, false, alice, OpDescribe, ResourceTopic, "t", true},
		{"create does not imply describe", []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpCreate, Allow)}, false, alice, OpDescribe, ResourceTopic, "t", false},
		{"alter_configs implies describe_configs", []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpAlterConfigs, Allow)}, false, alice, OpDescribeConfigs, ResourceTopic, "t", true},
		{"describe does not imply read", []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpDescribe, Allow)}, false, alice, OpRead, ResourceTopic, "t", false},
		{"resource types are separate", []Binding{lit(ResourceGroup, "t", "User:alice", "*", OpRead, Allow)}, false, alice, OpRead, ResourceTopic, "t", false},
		{"cluster", []Binding{lit(ResourceCluster, ClusterName, "User:alice", "*", OpIdempotentWrite, Allow)}, false, alice, OpIdempotentWrite, ResourceCluster, ClusterName, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(Config{SuperUsers: []string{"User:admin"}, AllowIfNoACL: tt.allowAll}, &staticSource{bs: tt.bindings}, nil)
			if got := a.Authorize(tt.req, tt.op, tt.rt, tt.res); got != tt.want {
				t.Fatalf("Authorize(%v, %s, %s:%s) = %v, want %v", tt.req, tt.op, tt.rt, tt.res, got, tt.want)
			}
		})
	}
}

func TestAuthorizeAny(t *testing.T) {
	alice := Request{Principal: "User:alice", Host: "h"}
	tests := []struct {
		name     string
		bindings []Binding
		allowAll bool
		want     bool
	}{
		{"none", nil, false, false},
		{"none, allow.everyone", nil, true, true},
		{"literal allow", []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpWrite, Allow)}, false, true},
		{"literal allow denied literal", []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpWrite, Allow), lit(ResourceTopic, "t", "User:alice", "*", OpWrite, Deny)}, false, false},
		{"prefixed allow", []Binding{pre(ResourceTopic, "a", "User:*", "*", OpWrite, Allow)}, false, true},
		{"prefixed allow covered by deny prefix", []Binding{pre(ResourceTopic, "ab", "User:*", "*", OpWrite, Allow), pre(ResourceTopic, "a", "User:alice", "*", OpAll, Deny)}, false, false},
		{"deny wildcard", []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpWrite, Allow), lit(ResourceTopic, "*", "User:alice", "*", OpWrite, Deny)}, false, false},
		{"read does not count", []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpRead, Allow)}, false, false},
		// Kafka's authorizeByResourceType: an unrelated literal ACL does
		// not close the type under allow.everyone.if.no.acl.found.
		{"unrelated literal, allow.everyone", []Binding{lit(ResourceTopic, "x", "User:bob", "*", OpRead, Allow)}, true, true},
		{"wildcard deny, allow.everyone", []Binding{lit(ResourceTopic, "*", "User:alice", "*", OpWrite, Deny)}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(Config{AllowIfNoACL: tt.allowAll}, &staticSource{bs: tt.bindings}, nil)
			if got := a.AuthorizeAny(alice, OpWrite, ResourceTopic); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIndexFollowsVersion(t *testing.T) {
	src := &staticSource{}
	a := New(Config{}, src, nil)
	r := Request{Principal: "User:alice", Host: "h"}
	if a.Authorize(r, OpRead, ResourceTopic, "t") {
		t.Fatal("allowed with no bindings")
	}
	src.bs = []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpRead, Allow)}
	if a.Authorize(r, OpRead, ResourceTopic, "t") {
		t.Fatal("index rebuilt without a version change")
	}
	src.v.Add(1)
	if !a.Authorize(r, OpRead, ResourceTopic, "t") {
		t.Fatal("index not rebuilt after the version moved")
	}
	if got := a.AuthorizedOperations(r, ResourceTopic, "t"); got != 1<<OpRead|1<<OpDescribe {
		t.Fatalf("authorized operations %b", got)
	}
}

func TestFilterMatches(t *testing.T) {
	s := func(v string) *string { return &v }
	b := lit(ResourceTopic, "orders", "User:alice", "*", OpRead, Allow)
	p := pre(ResourceTopic, "ord", "User:alice", "*", OpRead, Allow)
	w := lit(ResourceTopic, "*", "User:alice", "*", OpRead, Allow)
	any := Filter{ResourceType: ResourceAny, Pattern: PatternAny, Operation: OpAny, Permission: PermissionAny}
	with := func(f func(*Filter)) Filter { g := any; f(&g); return g }
	tests := []struct {
		name string
		f    Filter
		b    Binding
		want bool
	}{
		{"any", any, b, true},
		{"type", with(func(f *Filter) { f.ResourceType = ResourceGroup }), b, false},
		{"literal name", with(func(f *Filter) { f.Name = s("orders"); f.Pattern = PatternLiteral }), b, true},
		{"literal filter, prefixed binding", with(func(f *Filter) { f.Name = s("ord"); f.Pattern = PatternLiteral }), p, false},
		{"any pattern exact name", with(func(f *Filter) { f.Name = s("ord") }), p, true},
		{"any pattern other name", with(func(f *Filter) { f.Name = s("orders") }), p, false},
		{"match: prefixed applies", with(func(f *Filter) { f.Name = s("orders"); f.Pattern = PatternMatch }), p, true},
		{"match: wildcard applies", with(func(f *Filter) { f.Name = s("orders"); f.Pattern = PatternMatch }), w, true},
		{"match: literal applies", with(func(f *Filter) { f.Name = s("orders"); f.Pattern = PatternMatch }), b, true},
		{"match: other literal", with(func(f *Filter) { f.Name = s("x"); f.Pattern = PatternMatch }), b, false},
		{"principal", with(func(f *Filter) { f.Principal = s("User:bob") }), b, false},
		{"host", with(func(f *Filter) { f.Host = s("*") }), b, true},
		{"operation", with(func(f *Filter) { f.Operation = OpWrite }), b, false},
		{"permission", with(func(f *Filter) { f.Permission = Deny }), b, false},
	}
	for _, tt := range tests {
		if got := tt.f.Matches(tt.b); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestValidateAndFormat(t *testing.T) {
	good := lit(ResourceTopic, "t|\"x", "User:alice", "*", OpRead, Allow)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []Binding{
		lit(ResourceAny, "t", "User:a", "*", OpRead, Allow),
		{ResourceType: ResourceTopic, Name: "t", Pattern: PatternMatch, Principal: "User:a", Host: "*", Operation: OpRead, Permission: Allow},
		lit(ResourceTopic, "t", "User:a", "*", OpAny, Allow),
		lit(ResourceTopic, "t", "User:a", "*", OpRead, PermissionAny),
		lit(ResourceTopic, "", "User:a", "*", OpRead, Allow),
		lit(ResourceTopic, "t", "alice", "*", OpRead, Allow),
		lit(ResourceCluster, "c", "User:a", "*", OpAlter, Allow),
		lit(ResourceGroup, "g", "User:a", "*", OpWrite, Allow),
	}
	for _, b := range bad {
		if err := b.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%v: %v", b, err)
		}
	}
	got, err := UnmarshalValue(good.MarshalValue())
	if err != nil || got != good {
		t.Fatalf("round trip: %v %v", got, err)
	}
	v := good.MarshalValue()
	for _, c := range [][]byte{v[:3], v[:len(v)-1], append(v, 0), append([]byte{2}, v[1:]...)} {
		if _, err := UnmarshalValue(c); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%x: %v", c, err)
		}
	}
	other := good
	other.Name = "t"
	if good.Key() == other.Key() {
		t.Fatal("keys collide")
	}
}

// TestAuthorizeAllocs: a check against an up-to-date index allocates
// nothing (it runs for every resource of every request).
func TestAuthorizeAllocs(t *testing.T) {
	src := &staticSource{bs: []Binding{
		lit(ResourceTopic, "t", "User:alice", "*", OpRead, Allow),
		pre(ResourceTopic, "t", "User:*", "10.0.0.9", OpAll, Deny),
		lit(ResourceTopic, "*", "User:bob", "*", OpWrite, Allow),
	}}
	a := New(Config{SuperUsers: []string{"User:admin"}}, src, nil)
	r := Request{Principal: "User:alice", Host: "10.0.0.1"}
	if !a.Authorize(r, OpDescribe, ResourceTopic, "t") {
		t.Fatal("denied")
	}
	if n := testing.AllocsPerRun(100, func() { a.Authorize(r, OpRead, ResourceTopic, "t") }); n != 0 {
		t.Fatalf("%v allocations per check", n)
	}
}

// TestReadyGate: until the ACLs are loaded only super users are allowed,
// whatever the ACLs or allow.everyone.if.no.acl.found say.
func TestReadyGate(t *testing.T) {
	var loaded atomic.Bool
	a := New(Config{SuperUsers: []string{"User:admin"}, AllowIfNoACL: true},
		&staticSource{bs: []Binding{lit(ResourceTopic, "t", "User:alice", "*", OpRead, Allow)}}, nil)
	a.SetReadyGate(loaded.Load)
	alice, admin := Request{Principal: "User:alice", Host: "h"}, Request{Principal: "User:admin", Host: "h"}
	if a.Authorize(alice, OpRead, ResourceTopic, "t") || a.Authorize(alice, OpRead, ResourceTopic, "other") || a.AuthorizeAny(alice, OpWrite, ResourceTopic) {
		t.Fatal("allowed before the ACLs were loaded")
	}
	if a.AuthorizedOperations(alice, ResourceTopic, "t") != 0 {
		t.Fatal("operations reported before the ACLs were loaded")
	}
	if !a.Authorize(admin, OpAlter, ResourceCluster, ClusterName) {
		t.Fatal("a super user was refused before the ACLs were loaded")
	}
	loaded.Store(true)
	if !a.Authorize(alice, OpRead, ResourceTopic, "t") || !a.Authorize(alice, OpRead, ResourceTopic, "other") {
		t.Fatal("refused once loaded")
	}
}
