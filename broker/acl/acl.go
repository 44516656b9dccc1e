// Package acl holds Kafka's access control lists and the authorizer that
// checks requests against them, with the semantics of Kafka's
// StandardAuthorizer (KIP-801): DENY wins over ALLOW, super users are
// always allowed, allow.everyone.if.no.acl.found allows a resource no ACL
// names, the wildcard principal User:* and host * match everyone, and
// READ/WRITE/DELETE/ALTER imply DESCRIBE, ALTER_CONFIGS implies
// DESCRIBE_CONFIGS, ALL implies every operation.
//
// The package is pure: it knows nothing of the wire or of the broker. The
// broker keeps bindings in its entity store (kind "acl", one entity per
// binding, key Binding.Key, value Binding.MarshalValue; FORMAT.md) and
// gives the authorizer a Source to read them from.
package acl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ResourceType is Kafka's ACL resource type; the numbers are Kafka's codes.
type ResourceType int8

const (
	ResourceUnknown         ResourceType = 0
	ResourceAny             ResourceType = 1 // filters only
	ResourceTopic           ResourceType = 2
	ResourceGroup           ResourceType = 3
	ResourceCluster         ResourceType = 4
	ResourceTransactionalID ResourceType = 5
	ResourceDelegationToken ResourceType = 6
	ResourceUser            ResourceType = 7
)

// ClusterName is the one name of the CLUSTER resource.
const ClusterName = "kafka-cluster"

// Wildcards: a LITERAL "*" resource name matches every resource of its
// type; principal "User:*" every principal; host "*" every host.
const (
	WildcardResource  = "*"
	WildcardPrincipal = "User:*"
	WildcardHost      = "*"
)

var resourceNames = map[ResourceType]string{
	ResourceUnknown: "UNKNOWN", ResourceAny: "ANY", ResourceTopic: "TOPIC", ResourceGroup: "GROUP",
	ResourceCluster: "CLUSTER", ResourceTransactionalID: "TRANSACTIONAL_ID",
	ResourceDelegationToken: "DELEGATION_TOKEN", ResourceUser: "USER",
}

func (r ResourceType) String() string {
	if s, ok := resourceNames[r]; ok {
		return s
	}
	return "UNKNOWN(" + strconv.Itoa(int(r)) + ")"
}

// concrete reports whether r names a real resource type (not UNKNOWN/ANY).
func (r ResourceType) concrete() bool { return r >= ResourceTopic && r <= ResourceUser }

// PatternType is how a binding's resource name is matched.
type PatternType int8

const (
	PatternUnknown  PatternType = 0
	PatternAny      PatternType = 1 // filters: LITERAL or PREFIXED, name compared exactly
	PatternMatch    PatternType = 2 // filters: every binding that would apply to the name
	PatternLiteral  PatternType = 3
	PatternPrefixed PatternType = 4
)

func (p PatternType) String() string {
	switch p {
	case PatternAny:
		return "ANY"
	case PatternMatch:
		return "MATCH"
	case PatternLiteral:
		return "LITERAL"
	case PatternPrefixed:
		return "PREFIXED"
	}
	return "UNKNOWN"
}

// Operation is Kafka's ACL operation; the numbers are Kafka's codes and the
// bit positions of KIP-430's authorized-operations fields.
type Operation int8

const (
	OpUnknown         Operation = 0
	OpAny             Operation = 1 // filters only
	OpAll             Operation = 2
	OpRead            Operation = 3
	OpWrite           Operation = 4
	OpCreate          Operation = 5
	OpDelete          Operation = 6
	OpAlter           Operation = 7
	OpDescribe        Operation = 8
	OpClusterAction   Operation = 9
	OpDescribeConfigs Operation = 10
	OpAlterConfigs    Operation = 11
	OpIdempotentWrite Operation = 12
	OpCreateTokens    Operation = 13
	OpDescribeTokens  Operation = 14
	OpTwoPhaseCommit  Operation = 15
)

var opNames = [...]string{"UNKNOWN", "ANY", "ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE",
	"CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE", "CREATE_TOKENS", "DESCRIBE_TOKENS", "TWO_PHASE_COMMIT"}

func (o Operation) String() string {
	if o >= 0 && int(o) < len(opNames) {
		return opNames[o]
	}
	return "UNKNOWN(" + strconv.Itoa(int(o)) + ")"
}

func (o Operation) concrete() bool { return o >= OpAll && o <= OpTwoPhaseCommit }

// Permission is ALLOW or DENY.
type Permission int8

const (
	PermissionUnknown Permission = 0
	PermissionAny     Permission = 1 // filters only
	Deny              Permission = 2
	Allow             Permission = 3
)

func (p Permission) String() string {
	switch p {
	case PermissionAny:
		return "ANY"
	case Deny:
		return "DENY"
	case Allow:
		return "ALLOW"
	}
	return "UNKNOWN"
}

// Operations lists, per resource type, the operations Kafka defines on it
// (AclEntry.supportedOperations); KIP-430's authorized-operations fields
// are computed over these.
var Operations = map[ResourceType][]Operation{
	ResourceTopic:           {OpRead, OpWrite, OpCreate, OpDescribe, OpDelete, OpAlter, OpDescribeConfigs, OpAlterConfigs},
	ResourceGroup:           {OpRead, OpDescribe, OpDelete, OpDescribeConfigs, OpAlterConfigs},
	ResourceCluster:         {OpCreate, OpClusterAction, OpDescribeConfigs, OpAlterConfigs, OpIdempotentWrite, OpAlter, OpDescribe},
	ResourceTransactionalID: {OpDescribe, OpWrite, OpTwoPhaseCommit},
	ResourceDelegationToken: {OpDescribe},
	ResourceUser:            {OpCreateTokens, OpDescribeTokens},
}

// Binding is one ACL: a resource pattern and an access control entry.
type Binding struct {
	ResourceType ResourceType
	Name         string
	Pattern      PatternType // LITERAL or PREFIXED
	Principal    string      // "User:alice", or "User:*"
	Host         string      // an IP address, or "*"
	Operation    Operation
	Permission   Permission
}

// Errors returned by Validate; the broker answers them with INVALID_REQUEST
// and the message.
var (
	ErrInvalid = errors.New("acl: invalid binding")
)

// Validate checks a binding to be created as Kafka's AclControlManager
// does. The error wraps ErrInvalid and says what is wrong.
func (b Binding) Validate() error {
	switch {
	case !b.ResourceType.concrete():
		return fmt.Errorf("%w: invalid resourceType %s", ErrInvalid, b.ResourceType)
	case b.Pattern != PatternLiteral && b.Pattern != PatternPrefixed:
		return fmt.Errorf("%w: invalid patternType %s", ErrInvalid, b.Pattern)
	case !b.Operation.concrete():
		return fmt.Errorf("%w: invalid operation %s", ErrInvalid, b.Operation)
	case b.Permission != Allow && b.Permission != Deny:
		return fmt.Errorf("%w: invalid permissionType %s", ErrInvalid, b.Permission)
	case b.Name == "":
		return fmt.Errorf("%w: resource name should not be empty", ErrInvalid)
	case b.ResourceType == ResourceCluster && b.Name != ClusterName:
		return fmt.Errorf("%w: the only valid name for the CLUSTER resource is %s", ErrInvalid, ClusterName)
	case b.Host == "":
		return fmt.Errorf("%w: host should not be empty", ErrInvalid)
	}
	if _, _, err := SplitPrincipal(b.Principal); err != nil {
		return err
	}
	if b.Operation != OpAll && !supports(b.ResourceType, b.Operation) {
		return fmt.Errorf("%w: operation %s is not valid for resource type %s", ErrInvalid, b.Operation, b.ResourceType)
	}
	return nil
}

func supports(rt ResourceType, op Operation) bool {
	for _, o := range Operations[rt] {
		if o == op {
			return true
		}
	}
	return false
}

// SplitPrincipal splits "Type:name" as Kafka's KafkaPrincipal.fromString:
// both parts must be present.
func SplitPrincipal(p string) (typ, name string, err error) {
	typ, name, ok := strings.Cut(p, ":")
	if !ok || typ == "" || name == "" {
		return "", "", fmt.Errorf("%w: could not parse principal from `%s` (no colon is found or the type or name is empty)", ErrInvalid, p)
	}
	return typ, name, nil
}

// Key is the binding's canonical form: equal bindings have equal keys, and
// the entity store keeps one entity per key. Quoting keeps it unambiguous
// whatever the names contain.
func (b Binding) Key() string {
	var sb strings.Builder
	sb.WriteString(b.ResourceType.String())
	sb.WriteByte(':')
	sb.WriteString(b.Pattern.String())
	sb.WriteByte(':')
	sb.WriteString(strconv.Quote(b.Name))
	sb.WriteByte('|')
	sb.WriteString(strconv.Quote(b.Principal))
	sb.WriteByte('|')
	sb.WriteString(strconv.Quote(b.Host))
	sb.WriteByte('|')
	sb.WriteString(b.Operation.String())
	sb.WriteByte('|')
	sb.WriteString(b.Permission.String())
	return sb.String()
}

func (b Binding) String() string {
	return fmt.Sprintf("(pattern=%s:%s:%s, principal=%s, host=%s, operation=%s, permission=%s)",
		b.ResourceType, b.Pattern, b.Name, b.Principal, b.Host, b.Operation, b.Permission)
}

// Filter selects bindings, as Kafka's AclBindingFilter: ANY (and MATCH for
// the pattern) match every value, a nil string matches every string.
type Filter struct {
	ResourceType ResourceType
	Name         *string
	Pattern      PatternType
	Principal    *string
	Host         *string
	Operation    Operation
	Permission   Permission
}

// Unknown reports which field of the filter is UNKNOWN, "" if none: Kafka
// refuses such filters (INVALID_REQUEST).
func (f Filter) Unknown() string {
	switch {
	case f.ResourceType == ResourceUnknown || !f.ResourceType.concrete() && f.ResourceType != ResourceAny:
		return "resource type"
	case f.Pattern == PatternUnknown || f.Pattern > PatternPrefixed || f.Pattern < 0:
		return "pattern type"
	case f.Operation == OpUnknown || !f.Operation.concrete() && f.Operation != OpAny:
		return "operation"
	case f.Permission == PermissionUnknown || f.Permission > Allow || f.Permission < 0:
		return "permission type"
	}
	return ""
}

// Matches reports whether the filter selects b (AclBindingFilter.matches).
func (f Filter) Matches(b Binding) bool {
	if f.ResourceType != ResourceAny && f.ResourceType != b.ResourceType {
		return false
	}
	if f.Pattern != PatternAny && f.Pattern != PatternMatch && f.Pattern != b.Pattern {
		return false
	}
	if f.Name != nil {
		name := *f.Name
		if f.Pattern == PatternMatch {
			switch b.Pattern {
			case PatternLiteral:
				if b.Name != name && b.Name != WildcardResource {
					return false
				}
			case PatternPrefixed:
				if !strings.HasPrefix(name, b.Name) {
					return false
				}
			default:
				return false
			}
		} else if b.Name != name {
			return false
		}
	}
	if f.Principal != nil && *f.Principal != b.Principal {
		return false
	}
	if f.Host != nil && *f.Host != b.Host {
		return false
	}
	if f.Operation != OpAny && f.Operation != b.Operation {
		return false
	}
	if f.Permission != PermissionAny && f.Permission != b.Permission {
		return false
	}
	return true
}

// MarshalValue encodes the binding as its entity value (FORMAT.md).
func (b Binding) MarshalValue() []byte {
	out := make([]byte, 0, 5+len(b.Name)+len(b.Principal)+len(b.Host)+15)
	out = append(out, formatVersion, byte(b.ResourceType), byte(b.Pattern), byte(b.Operation), byte(b.Permission))
	for _, s := range [...]string{b.Name, b.Principal, b.Host} {
		out = appendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	return out
}

// formatVersion is the first byte of every binding value.
const formatVersion = 1

// ErrCorrupt is returned for an entity value that does not decode.
var ErrCorrupt = errors.New("acl: corrupt binding value")

// UnmarshalValue decodes an entity value written by MarshalValue.
func UnmarshalValue(v []byte) (Binding, error) {
	var b Binding
	if len(v) < 5 {
		return b, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(v))
	}
	if v[0] != formatVersion {
		return b, fmt.Errorf("%w: version %d", ErrCorrupt, v[0])
	}
	b.ResourceType, b.Pattern, b.Operation, b.Permission = ResourceType(v[1]), PatternType(v[2]), Operation(v[3]), Permission(v[4])
	rest := v[5:]
	var strs [3]string
	for i := range strs {
		n, w := uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < n {
			return Binding{}, fmt.Errorf("%w: string %d", ErrCorrupt, i)
		}
		strs[i] = string(rest[w : w+int(n)])
		rest = rest[w+int(n):]
	}
	if len(rest) != 0 {
		return Binding{}, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(rest))
	}
	b.Name, b.Principal, b.Host = strs[0], strs[1], strs[2]
	return b, nil
}

func appendUvarint(b []byte, x uint64) []byte {
	for x >= 0x80 {
		b = append(b, byte(x)|0x80)
		x >>= 7
	}
	return append(b, byte(x))
}

func uvarint(buf []byte) (uint64, int) {
	var x uint64
	var s uint
	for i, c := range buf {
		if i == 10 {
			return 0, -1
		}
		if c < 0x80 {
			return x | uint64(c)<<s, i + 1
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	return 0, 0
}
