package metadata

// Entities: the cluster's security state (issue 16): SCRAM credentials,
// ACLs, client quotas and delegation tokens, as small keyed values of a
// kind, replicated with the rest of the metadata (record 16, FORMAT.md
// "Entities"). The values are opaque here: each feature encodes its own.
//
// Copy-on-write: a View points to one immutable *Entities; a record that
// changes entities of one kind makes a new *Entities that shares every
// other kind, and a record of any other type shares the whole set (View
// clone copies the pointer), so an unrelated record costs nothing here.

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// TypePutEntities is the entity record's type (12 to 15 belong to
// reassignment and peers).
const TypePutEntities RecordType = 16

func init() { typeNames[TypePutEntities] = "PutEntities" }

// Entity rejections.
var (
	// ErrInvalidEntities: a PutEntities that breaks a rule of FORMAT.md
	// (kind, key or value size, no change, zero id).
	ErrInvalidEntities = errors.New("metadata: invalid entity change")
	// ErrDuplicateEntities: a PutEntities whose id was applied already
	// (a proposal forwarded twice); the first one stands.
	ErrDuplicateEntities = errors.New("metadata: entity change applied already")
)

// Limits of one entity change (FORMAT.md "Entities").
const (
	MaxEntityKindBytes  = 64
	MaxEntityKeyBytes   = 16 << 10
	MaxEntityValueBytes = 1 << 20
	// RecentEntityChanges is how many change ids the state remembers
	// to refuse a proposal applied twice (and for proposers to see
	// theirs applied).
	RecentEntityChanges = 1024
)

// Entity is one keyed value of a kind. Value is opaque here.
type Entity struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

// PutEntities changes entities of one kind as one change: first the
// deletes, then the puts (a key in both ends up put; a key put twice takes
// the last value). ID is chosen by the proposer (random, non-zero): a
// change carrying an id applied in the last RecentEntityChanges entity
// changes is refused (ErrDuplicateEntities), so a proposal forwarded again
// after a leader change cannot undo a later change.
type PutEntities struct {
	ID      UUID     `json:"id"`
	Kind    string   `json:"kind"`
	Puts    []Entity `json:"puts,omitempty"`
	Deletes []string `json:"deletes,omitempty"`
}

func (PutEntities) Type() RecordType { return TypePutEntities }

// ValidateEntityKind checks a kind name: 1..64 bytes of [a-z0-9._-].
func ValidateEntityKind(kind string) error {
	if kind == "" || len(kind) > MaxEntityKindBytes {
		return fmt.Errorf("%w: kind %q", ErrInvalidEntities, kind)
	}
	for _, c := range []byte(kind) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: kind %q", ErrInvalidEntities, kind)
		}
	}
	return nil
}

// ValidateEntity checks one key and value against the size limits.
func ValidateEntity(key string, value []byte) error {
	if len(key) > MaxEntityKeyBytes {
		return fmt.Errorf("%w: key of %d bytes (limit %d)", ErrInvalidEntities, len(key), MaxEntityKeyBytes)
	}
	if len(value) > MaxEntityValueBytes {
		return fmt.Errorf("%w: value of %d bytes under key %.64q (limit %d)", ErrInvalidEntities, len(value), key, MaxEntityValueBytes)
	}
	return nil
}

// ValidateEntityChange checks a change as Apply does (without the
// duplicate check): a valid kind, at least one put or delete, keys and
// values within the limits. Proposers call it before proposing.
func ValidateEntityChange(kind string, puts []Entity, dels []string) error {
	if err := ValidateEntityKind(kind); err != nil {
		return err
	}
	if len(puts) == 0 && len(dels) == 0 {
		return fmt.Errorf("%w: kind %s: no change", ErrInvalidEntities, kind)
	}
	for _, e := range puts {
		if err := ValidateEntity(e.Key, e.Value); err != nil {
			return err
		}
	}
	for _, k := range dels {
		if err := ValidateEntity(k, nil); err != nil {
			return err
		}
	}
	return nil
}

// entityKind is one kind's entities: by key, and sorted by key (List).
type entityKind struct {
	byKey  map[string][]byte
	sorted []Entity
}

// Entities is an immutable set of entities of every kind. The zero value
// and nil are the empty set. Every slice it returns is shared and must
// not be modified.
type Entities struct {
	kinds map[string]*entityKind
}

// Get returns the value under kind and key.
func (e *Entities) Get(kind, key string) ([]byte, bool) {
	if e == nil {
		return nil, false
	}
	k := e.kinds[kind]
	if k == nil {
		return nil, false
	}
	v, ok := k.byKey[key]
	return v, ok
}

// List returns the entities of a kind sorted by key (shared: do not
// modify).
func (e *Entities) List(kind string) []Entity {
	if e == nil || e.kinds[kind] == nil {
		return nil
	}
	return e.kinds[kind].sorted
}

// Kinds returns the kinds that have entities, sorted.
func (e *Entities) Kinds() []string {
	if e == nil {
		return nil
	}
	out := make([]string, 0, len(e.kinds))
	for k := range e.kinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Len is the number of entities of every kind.
func (e *Entities) Len() int {
	if e == nil {
		return 0
	}
	n := 0
	for _, k := range e.kinds {
		n += len(k.byKey)
	}
	return n
}

// With returns the set changed by deleting dels and then putting puts
// into kind; e is unchanged. It costs O(n + p log p) for n entities of
// that kind and p puts, and shares every other kind. Values are copied
// (nil becomes empty); the caller validates (ValidateEntityChange).
func (e *Entities) With(kind string, puts []Entity, dels []string) *Entities {
	n := &Entities{kinds: make(map[string]*entityKind, len(e.kindsOrNil())+1)}
	for k, v := range e.kindsOrNil() {
		n.kinds[k] = v
	}
	old := n.kinds[kind]
	if old == nil {
		old = &entityKind{}
	}
	// The puts, the last of a key winning, sorted.
	put := make(map[string][]byte, len(puts))
	for _, p := range puts {
		put[p.Key] = append(make([]byte, 0, len(p.Value)), p.Value...)
	}
	added := make([]Entity, 0, len(put))
	for k, v := range put {
		added = append(added, Entity{Key: k, Value: v})
	}
	slices.SortFunc(added, func(a, b Entity) int { return strings.Compare(a.Key, b.Key) })
	byKey := maps.Clone(old.byKey) // the runtime's copy: 3x a range loop
	if byKey == nil {
		byKey = make(map[string][]byte, len(put))
	}
	for _, k := range dels {
		delete(byKey, k)
	}
	for _, a := range added {
		byKey[a.Key] = a.Value
	}
	if len(byKey) == 0 {
		delete(n.kinds, kind)
		return n
	}
	// Merge the old order (less what was deleted or replaced) with the
	// sorted puts.
	sorted := make([]Entity, 0, len(byKey))
	i := 0
	for _, o := range old.sorted {
		if _, replaced := put[o.Key]; replaced {
			continue
		}
		if _, kept := byKey[o.Key]; !kept {
			continue
		}
		for i < len(added) && added[i].Key < o.Key {
			sorted = append(sorted, added[i])
			i++
		}
		sorted = append(sorted, o)
	}
	sorted = append(sorted, added[i:]...)
	n.kinds[kind] = &entityKind{byKey: byKey, sorted: sorted}
	return n
}

func (e *Entities) kindsOrNil() map[string]*entityKind {
	if e == nil {
		return nil
	}
	return e.kinds
}

// entityState is the View's part for entities: the set, the ids of the
// last RecentEntityChanges applied changes (oldest first) and the index
// of the last applied change. Immutable once in a View.
type entityState struct {
	set     *Entities
	recent  []UUID
	changed uint64
}

// Entities returns the view's entities (shared, immutable).
func (v *View) Entities() *Entities {
	if v.entities == nil {
		return nil
	}
	return v.entities.set
}

// EntitiesChanged is the index of the last applied entity change (0:
// none since the state was created; a restored snapshot's applied index
// when it holds entities). It never decreases.
func (v *View) EntitiesChanged() uint64 {
	if v.entities == nil {
		return 0
	}
	return v.entities.changed
}

// EntityChangeApplied reports whether the change with this id is among
// the last RecentEntityChanges applied ones.
func (v *View) EntityChangeApplied(id UUID) bool {
	return v.entities != nil && slices.Contains(v.entities.recent, id)
}

// putEntities applies r to v (a clone whose applied index is r's).
func (v *View) putEntities(r PutEntities) error {
	if r.ID.IsZero() {
		return fmt.Errorf("%w: zero id", ErrInvalidEntities)
	}
	if err := ValidateEntityChange(r.Kind, r.Puts, r.Deletes); err != nil {
		return err
	}
	if v.EntityChangeApplied(r.ID) {
		return fmt.Errorf("%w: %s", ErrDuplicateEntities, r.ID)
	}
	var cur entityState
	if v.entities != nil {
		cur = *v.entities
	}
	recent := cur.recent
	if len(recent) >= RecentEntityChanges {
		recent = recent[len(recent)-RecentEntityChanges+1:]
	}
	v.entities = &entityState{
		set:     cur.set.With(r.Kind, r.Puts, r.Deletes),
		recent:  append(append(make([]UUID, 0, len(recent)+1), recent...), r.ID),
		changed: v.applied,
	}
	return nil
}

// snapshotEntities is one kind in a snapshot (version 4).
type snapshotEntities struct {
	Kind     string   `json:"kind"`
	Entities []Entity `json:"entities"`
}

// entitiesForSnapshot returns the kinds sorted by name, each sorted by
// key, and the recent change ids (nil, nil: no entities and no change).
func (v *View) entitiesForSnapshot() ([]snapshotEntities, []UUID) {
	if v.entities == nil {
		return nil, nil
	}
	var out []snapshotEntities
	for _, k := range v.entities.set.Kinds() {
		out = append(out, snapshotEntities{Kind: k, Entities: v.entities.set.List(k)})
	}
	return out, v.entities.recent
}

// restoreEntities validates a snapshot's entities into v (applied: the
// snapshot's applied index).
func (v *View) restoreEntities(kinds []snapshotEntities, recent []UUID) error {
	if len(kinds) == 0 && len(recent) == 0 {
		return nil
	}
	if len(recent) > RecentEntityChanges {
		return fmt.Errorf("%w: %d recent change ids (limit %d)", ErrInvalidEntities, len(recent), RecentEntityChanges)
	}
	for i, id := range recent {
		if id.IsZero() || slices.Contains(recent[:i], id) {
			return fmt.Errorf("%w: recent change id %s zero or twice", ErrInvalidEntities, id)
		}
	}
	var set *Entities
	for i, k := range kinds {
		if err := ValidateEntityKind(k.Kind); err != nil {
			return err
		}
		if i > 0 && kinds[i-1].Kind >= k.Kind {
			return fmt.Errorf("%w: kind %s out of order", ErrInvalidEntities, k.Kind)
		}
		if len(k.Entities) == 0 {
			return fmt.Errorf("%w: kind %s without entities", ErrInvalidEntities, k.Kind)
		}
		for j, e := range k.Entities {
			if err := ValidateEntity(e.Key, e.Value); err != nil {
				return err
			}
			if j > 0 && k.Entities[j-1].Key >= e.Key {
				return fmt.Errorf("%w: kind %s: key %.64q out of order", ErrInvalidEntities, k.Kind, e.Key)
			}
		}
		set = set.With(k.Kind, k.Entities, nil)
	}
	v.entities = &entityState{set: set, recent: slices.Clone(recent), changed: v.applied}
	return nil
}
