// Package quota is Kafka's client quota model, without I/O: the entities a
// quota is set on (user, client-id, ip and their defaults), the quota keys and
// Kafka's rules for their values, the KIP-55 precedence that picks the quota
// applying to a (user, client-id) pair, the sampled rate windows of Kafka's
// metrics (quota.window.num samples of quota.window.size.seconds), the
// throttle time of Kafka's ClientQuotaManager, and the per-IP and broker-wide
// connection limits of Kafka's ConnectionQuotas.
//
// The broker stores quotas in its entity store (encoded as FORMAT.md
// describes), builds a Table from them and records traffic in a Manager; the
// protocol front end asks a ConnLimiter before serving a new connection.
package quota

import (
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strings"
)

// Entity types (Kafka's ClientQuotaEntity).
const (
	TypeUser     = "user"
	TypeClientID = "client-id"
	TypeIP       = "ip"
)

// Quota keys (Kafka's QuotaConfig).
const (
	KeyProducerByteRate       = "producer_byte_rate"       // LONG, bytes/s of produce requests
	KeyConsumerByteRate       = "consumer_byte_rate"       // LONG, bytes/s of fetch responses
	KeyRequestPercentage      = "request_percentage"       // DOUBLE, % of one handler thread per window
	KeyControllerMutationRate = "controller_mutation_rate" // DOUBLE, partition mutations/s (stored only)
	KeyConnectionCreationRate = "connection_creation_rate" // INT, new connections/s per IP
)

// keyTypes is each key's Kafka config type, per entity family.
var (
	userClientKeys = map[string]valueType{
		KeyProducerByteRate:       typeLong,
		KeyConsumerByteRate:       typeLong,
		KeyRequestPercentage:      typeDouble,
		KeyControllerMutationRate: typeDouble,
	}
	ipKeys = map[string]valueType{KeyConnectionCreationRate: typeInt}
)

type valueType int8

const (
	typeLong valueType = iota
	typeInt
	typeDouble
)

// Component is one part of an entity. A nil Name is the type's default
// entity (<default>, a null name on the wire).
type Component struct {
	Type string
	Name *string
}

// IsDefault reports whether c names its type's default entity.
func (c Component) IsDefault() bool { return c.Name == nil }

// Entity is a client-quota entity: at most one component per type, sorted by
// type (Kafka's entity is a map from type to name).
type Entity []Component

// Get returns the component of type typ.
func (e Entity) Get(typ string) (Component, bool) {
	for _, c := range e {
		if c.Type == typ {
			return c, true
		}
	}
	return Component{}, false
}

// Sort orders e's components by type, as every function here expects.
func (e Entity) Sort() {
	slices.SortFunc(e, func(a, b Component) int { return strings.Compare(a.Type, b.Type) })
}

// String is Kafka's rendering, "user=alice,client-id=<default>".
func (e Entity) String() string {
	var b strings.Builder
	for i, c := range e {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(c.Type)
		b.WriteByte('=')
		if c.Name == nil {
			b.WriteString("<default>")
		} else {
			b.WriteString(*c.Name)
		}
	}
	return b.String()
}

// ErrInvalid is wrapped by every *InvalidError: Kafka answers INVALID_REQUEST.
var ErrInvalid = errors.New("quota: invalid request")

// ErrUnsupportedType is returned for a describe filter on an entity type
// Kafka does not know: Kafka answers UNSUPPORTED_VERSION.
var ErrUnsupportedType = errors.New("quota: unsupported entity type")

// InvalidError carries Kafka's message for an INVALID_REQUEST answer.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return "quota: " + e.Msg }
func (e *InvalidError) Unwrap() error { return ErrInvalid }

func invalid(format string, args ...any) error {
	return &InvalidError{Msg: fmt.Sprintf(format, args...)}
}

// ValidateEntity checks e as Kafka's controller does before altering it:
// not empty, known types, no duplicates, no empty names, ip alone and a
// valid address.
func ValidateEntity(e Entity) error {
	if len(e) == 0 {
		return invalid("Invalid empty client quota entity")
	}
	seen := map[string]bool{}
	for _, c := range e {
		if seen[c.Type] {
			return invalid("Invalid client quota entity, duplicate entity entry %s", c.Type)
		}
		seen[c.Type] = true
		switch c.Type {
		case TypeUser, TypeClientID, TypeIP:
		default:
			return invalid("Unhandled client quota entity type: %s", c.Type)
		}
		if c.Name != nil && *c.Name == "" {
			return invalid("Empty %s not supported", c.Type)
		}
	}
	if seen[TypeIP] {
		if seen[TypeUser] || seen[TypeClientID] {
			return invalid("Invalid quota entity combination, IP entity should not be combined with User or ClientId")
		}
		if c, _ := e.Get(TypeIP); c.Name != nil && net.ParseIP(*c.Name) == nil {
			return invalid("%s is not a valid IP or resolvable host.", *c.Name)
		}
	}
	return nil
}

// ValidateValue checks one key and value for e (already validated), as
// Kafka's ClientQuotaControlManager.validateQuotaKeyValue.
func ValidateValue(e Entity, key string, value float64) error {
	keys := userClientKeys
	if _, ok := e.Get(TypeIP); ok {
		keys = ipKeys
	}
	typ, ok := keys[key]
	if !ok {
		return invalid("Invalid configuration key %s", key)
	}
	if !(value > 0) || math.IsInf(value, 0) {
		return invalid("Quota %s must be greater than 0", key)
	}
	switch typ {
	case typeInt:
		if value > math.MaxInt32 {
			return invalid("Proposed value for %s is too large for an INT.", key)
		}
	case typeLong:
		if value > math.MaxInt64 {
			return invalid("Proposed value for %s is too large for a LONG.", key)
		}
	case typeDouble:
		return nil
	}
	if math.Abs(math.Mod(value, 1)) > 1e-6 {
		return invalid("%s cannot be a fractional value.", key)
	}
	return nil
}

// Match types of a DescribeClientQuotas filter component.
const (
	MatchExact   int8 = 0 // the named entity (a null name: the default)
	MatchDefault int8 = 1 // the type's default entity
	MatchAny     int8 = 2 // any entity of the type, default included
)

// FilterComponent is one component of a describe filter.
type FilterComponent struct {
	Type  string
	Match int8
	Name  *string // MatchExact only
}

// Filter selects entities as DescribeClientQuotas does.
type Filter struct {
	Components []FilterComponent
	Strict     bool // only entities with exactly the filter's types
}

// Validate checks f as Kafka's controller does.
func (f Filter) Validate() error {
	seen := map[string]bool{}
	for _, c := range f.Components {
		if c.Type == "" {
			return invalid("Invalid empty entity type.")
		}
		if seen[c.Type] {
			return invalid("Entity type %s cannot appear more than once in the filter.", c.Type)
		}
		seen[c.Type] = true
		switch c.Type {
		case TypeUser, TypeClientID, TypeIP:
		default:
			return fmt.Errorf("%w: Unsupported entity type %s", ErrUnsupportedType, c.Type)
		}
		if c.Match < MatchExact || c.Match > MatchAny {
			return invalid("Unexpected match type %d", c.Match)
		}
	}
	if seen[TypeIP] && (seen[TypeUser] || seen[TypeClientID]) {
		return invalid("Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.")
	}
	return nil
}

// Matches reports whether e is selected by f.
func (f Filter) Matches(e Entity) bool {
	if f.Strict && len(e) != len(f.Components) {
		return false
	}
	for _, fc := range f.Components {
		c, ok := e.Get(fc.Type)
		if !ok {
			return false
		}
		switch fc.Match {
		case MatchExact:
			if (fc.Name == nil) != (c.Name == nil) || (fc.Name != nil && *fc.Name != *c.Name) {
				return false
			}
		case MatchDefault:
			if c.Name != nil {
				return false
			}
		}
	}
	return true
}
