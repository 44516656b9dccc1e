package acl

import (
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
)

// Source is where the authorizer reads its bindings from (the broker's
// entity store).
//
// Contract: Version never decreases and moves whenever the bindings
// change; Bindings returns every binding as of a version at least as new
// as the Version read just before it. Both are safe for concurrent use and
// do not block on I/O.
type Source interface {
	Version() uint64
	Bindings() []Binding
}

// Config is the authorizer's static configuration.
type Config struct {
	// SuperUsers are always allowed ("User:admin").
	SuperUsers []string
	// AllowIfNoACL allows every principal on a resource no binding
	// matches (allow.everyone.if.no.acl.found).
	AllowIfNoACL bool
}

// Request is one question to the authorizer.
type Request struct {
	Principal string // "User:alice"
	Host      string // the client's IP address
}

// Authorizer answers whether a principal may perform an operation on a
// resource.
//
// Locking: the index is immutable once built and swapped atomically; a
// rebuild (when the source's Version moved) is serialised by rebuildMu, and
// readers never wait for it except the first one to notice the move.
type Authorizer struct {
	cfg    Config
	super  map[string]bool
	src    Source
	logger *slog.Logger

	idx       atomic.Pointer[index]
	rebuildMu sync.Mutex

	// ready, when set, reports whether the ACLs are loaded (a cluster node
	// that has caught up with the metadata log). Until then every
	// principal but the super users is denied, as Kafka's StandardAuthorizer
	// denies before its first load: serving with a partial ACL set could
	// miss a DENY, or open resources under allow.everyone.if.no.acl.found.
	ready func() bool
}

// SetReadyGate sets the function that reports whether the ACLs are loaded
// (nil: always). Call it before the authorizer is used.
func (a *Authorizer) SetReadyGate(ready func() bool) { a.ready = ready }

func (a *Authorizer) notReady() bool { return a.ready != nil && !a.ready() }

// New returns an authorizer over src.
func New(cfg Config, src Source, logger *slog.Logger) *Authorizer {
	if logger == nil {
		logger = slog.Default()
	}
	a := &Authorizer{cfg: cfg, src: src, logger: logger, super: make(map[string]bool)}
	for _, s := range cfg.SuperUsers {
		a.super[s] = true
	}
	return a
}

// index is the bindings of one source version, grouped for lookup.
type index struct {
	version  uint64
	literal  map[ResourceType]map[string][]Binding // by name, "*" included
	prefixed map[ResourceType][]Binding
	count    int
}

func buildIndex(version uint64, bs []Binding) *index {
	ix := &index{version: version, literal: make(map[ResourceType]map[string][]Binding), prefixed: make(map[ResourceType][]Binding), count: len(bs)}
	for _, b := range bs {
		switch b.Pattern {
		case PatternLiteral:
			m := ix.literal[b.ResourceType]
			if m == nil {
				m = make(map[string][]Binding)
				ix.literal[b.ResourceType] = m
			}
			m[b.Name] = append(m[b.Name], b)
		case PatternPrefixed:
			ix.prefixed[b.ResourceType] = append(ix.prefixed[b.ResourceType], b)
		}
	}
	return ix
}

// current returns the index for the source's current version, rebuilding
// it when the version moved.
func (a *Authorizer) current() *index {
	v := a.src.Version()
	if ix := a.idx.Load(); ix != nil && ix.version == v {
		return ix
	}
	a.rebuildMu.Lock()
	defer a.rebuildMu.Unlock()
	v = a.src.Version()
	if ix := a.idx.Load(); ix != nil && ix.version == v {
		return ix
	}
	ix := buildIndex(v, a.src.Bindings())
	a.idx.Store(ix)
	a.logger.Debug("acl index rebuilt", "version", v, "bindings", ix.count)
	return ix
}

// Authorize reports whether r may perform op on the resource (typ, name).
func (a *Authorizer) Authorize(r Request, op Operation, typ ResourceType, name string) bool {
	if a.super[r.Principal] {
		return true
	}
	if a.notReady() {
		return false
	}
	ix := a.current()
	var found, allowed bool
	check := func(bs []Binding) bool { // returns true on a matching DENY
		for i := range bs {
			b := &bs[i]
			found = true
			if !principalMatches(b.Principal, r.Principal) || !hostMatches(b.Host, r.Host) {
				continue
			}
			if b.Permission == Deny {
				if b.Operation == OpAll || b.Operation == op {
					return true
				}
				continue
			}
			if !allowed && allowImplies(b.Operation, op) {
				allowed = true
			}
		}
		return false
	}
	if m := ix.literal[typ]; m != nil {
		if check(m[name]) || check(m[WildcardResource]) {
			return false
		}
	}
	pre := ix.prefixed[typ]
	for i := range pre {
		if strings.HasPrefix(name, pre[i].Name) && check(pre[i:i+1]) {
			return false
		}
	}
	if allowed {
		return true
	}
	return !found && a.cfg.AllowIfNoACL
}

// AuthorizeAny reports whether r may perform op on at least one resource of
// type typ, as Kafka's authorizeByResourceType (KIP-679: WRITE on any topic
// stands in for IDEMPOTENT_WRITE): some ALLOW binding (literal or prefixed)
// for the principal, host and operation that no DENY of the same
// principal, host and operation covers; or, with allow.everyone.if.no.acl.found,
// no binding of the type at all.
func (a *Authorizer) AuthorizeAny(r Request, op Operation, typ ResourceType) bool {
	if a.super[r.Principal] {
		return true
	}
	if a.notReady() {
		return false
	}
	// Kafka's authorizeByResourceType first asks about a literal name no
	// ACL is likely to mention: allowed there (a wildcard or prefixed
	// grant, or allow.everyone.if.no.acl.found with no ACL matching that
	// name) means allowed for the type, even when unrelated literal ACLs
	// of the type exist.
	if a.Authorize(r, op, typ, "hardcode") {
		return true
	}
	ix := a.current()
	var denyLiteral, denyPrefix []string
	var allowLiteral, allowPrefix []string
	any := false
	visit := func(b *Binding) {
		any = true
		if !principalMatches(b.Principal, r.Principal) || !hostMatches(b.Host, r.Host) {
			return
		}
		if b.Permission == Deny {
			if b.Operation != OpAll && b.Operation != op {
				return
			}
			if b.Pattern == PatternLiteral {
				denyLiteral = append(denyLiteral, b.Name)
			} else {
				denyPrefix = append(denyPrefix, b.Name)
			}
			return
		}
		if !allowImplies(b.Operation, op) {
			return
		}
		if b.Pattern == PatternLiteral {
			allowLiteral = append(allowLiteral, b.Name)
		} else {
			allowPrefix = append(allowPrefix, b.Name)
		}
	}
	for _, bs := range ix.literal[typ] {
		for i := range bs {
			visit(&bs[i])
		}
	}
	for i := range ix.prefixed[typ] {
		visit(&ix.prefixed[typ][i])
	}
	if !any {
		return a.cfg.AllowIfNoACL
	}
	for _, d := range denyLiteral {
		if d == WildcardResource {
			return false
		}
	}
	deniedBy := func(name string) bool {
		for _, d := range denyPrefix {
			if strings.HasPrefix(name, d) {
				return true
			}
		}
		return false
	}
	for _, n := range allowPrefix {
		if !deniedBy(n) {
			return true
		}
	}
	for _, n := range allowLiteral {
		if deniedBy(n) {
			continue
		}
		denied := false
		for _, d := range denyLiteral {
			if d == n {
				denied = true
				break
			}
		}
		if !denied {
			return true
		}
	}
	return false
}

// AuthorizedOperations returns KIP-430's authorized-operations bit field for the
// resource: bit n set when operation n is allowed, over the operations
// Kafka defines for the type.
func (a *Authorizer) AuthorizedOperations(r Request, typ ResourceType, name string) int32 {
	var bits int32
	for _, op := range Operations[typ] {
		if a.Authorize(r, op, typ, name) {
			bits |= 1 << op
		}
	}
	return bits
}

// Bindings returns the current bindings matching f.
func (a *Authorizer) Bindings(f Filter) []Binding {
	ix := a.current()
	var out []Binding
	for _, m := range ix.literal {
		for _, bs := range m {
			for _, b := range bs {
				if f.Matches(b) {
					out = append(out, b)
				}
			}
		}
	}
	for _, bs := range ix.prefixed {
		for _, b := range bs {
			if f.Matches(b) {
				out = append(out, b)
			}
		}
	}
	return out
}

func principalMatches(acl, p string) bool { return acl == p || acl == WildcardPrincipal }

func hostMatches(acl, h string) bool { return acl == h || acl == WildcardHost }

// allowImplies reports whether an ALLOW binding for op grants want: ALL
// grants everything; READ, WRITE, DELETE and ALTER grant DESCRIBE;
// ALTER_CONFIGS grants DESCRIBE_CONFIGS.
func allowImplies(op, want Operation) bool {
	if op == want || op == OpAll {
		return true
	}
	switch want {
	case OpDescribe:
		return op == OpRead || op == OpWrite || op == OpDelete || op == OpAlter
	case OpDescribeConfigs:
		return op == OpAlterConfigs
	}
	return false
}
