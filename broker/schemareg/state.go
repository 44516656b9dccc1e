package schemareg

// The registry's state: what applying the schemas topic's records in
// offset order builds (Confluent's lookup cache). Guarded by
// Registry.mu (writes by the tailer only; see registry.go).

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"sort"
	"strings"
)

// versionEntry is one (subject, version).
type versionEntry struct {
	value  schemaValue
	rawKey []byte // the key of the record that set value
	offset int64
}

// idEntry is one schema id: its content and the versions using it.
type idEntry struct {
	schemaType string
	schema     string
	refs       []Reference
	users      map[subjectVersion]struct{}
}

type subjectVersion struct {
	subject string
	version int
}

type configEntry struct {
	level     string
	normalize *bool
	rawKey    []byte
}

type modeEntry struct {
	mode   string
	rawKey []byte
}

type state struct {
	applied   int64 // the next offset to apply
	subjects  map[string]map[int]*versionEntry
	ids       map[int]*idEntry
	byContent map[string]int // contentKey -> id
	maxID     int
	config    map[string]configEntry // "" = global
	mode      map[string]modeEntry   // "" = global
	// rawKeys holds every key bytes a logical key was written under
	// (including records the write protocol ignored), so that a permanent
	// delete can tombstone all of them (compaction works on exact bytes).
	rawKeys map[logicalKey][][]byte
	ignored int64 // records ignored (lost races, duplicate ids, undecodable)
	logger  *slog.Logger
}

func newState(logger *slog.Logger) *state {
	return &state{
		subjects:  map[string]map[int]*versionEntry{},
		ids:       map[int]*idEntry{},
		byContent: map[string]int{},
		config:    map[string]configEntry{},
		mode:      map[string]modeEntry{},
		rawKeys:   map[logicalKey][][]byte{},
		logger:    logger,
	}
}

// contentKey identifies a schema's content: type, text and references.
func contentKey(schemaType, schema string, refs []Reference) string {
	if schemaType == "" {
		schemaType = "AVRO"
	}
	var b strings.Builder
	b.WriteString(schemaType)
	b.WriteByte(0)
	b.WriteString(schema)
	for _, r := range refs {
		b.WriteByte(0)
		b.Write(mustJSON(r))
	}
	return b.String()
}

// apply applies one record; records below applied are skipped (a re-read).
func (s *state) apply(rec Record) {
	if rec.Offset < s.applied {
		return
	}
	s.applied = rec.Offset + 1
	k, err := decodeKey(rec.Key)
	if err != nil {
		s.ignored++
		s.logger.Warn("schemareg: skipping record", "offset", rec.Offset, "err", err)
		return
	}
	lk := k.logical()
	switch k.KeyType {
	case keySchema, keyConfig, keyMode, keyDeleteSubject:
		if rec.Value == nil {
			s.forgetRawKey(lk, rec.Key)
		} else {
			s.rememberRawKey(lk, rec.Key)
		}
	}
	if rec.Value == nil {
		s.applyTombstone(k, lk, rec.Key)
		return
	}
	if k.Seq != nil && *k.Seq != rec.Offset {
		// Lost a race (write.go): every instance ignores it.
		s.ignored++
		return
	}
	switch k.KeyType {
	case keySchema:
		var v schemaValue
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			s.bad(rec, err)
			return
		}
		v.Subject, v.Version = lk.subject, lk.version // the key is what the store maps
		s.putVersion(v, rec)
	case keyConfig:
		var v configValue
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			s.bad(rec, err)
			return
		}
		s.config[lk.subject] = configEntry{level: strings.ToUpper(v.CompatibilityLevel), normalize: v.Normalize, rawKey: rec.Key}
	case keyMode:
		var v modeValue
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			s.bad(rec, err)
			return
		}
		s.mode[lk.subject] = modeEntry{mode: strings.ToUpper(v.Mode), rawKey: rec.Key}
	case keyDeleteSubject:
		var v deleteSubjectValue
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			s.bad(rec, err)
			return
		}
		subject := v.Subject
		if subject == "" {
			subject = lk.subject
		}
		for ver, e := range s.subjects[subject] {
			if ver <= v.Version {
				e.value.Deleted = true
			}
		}
	case keyClearSubject:
		var v clearSubjectValue
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			s.bad(rec, err)
			return
		}
		for subject, versions := range s.subjects {
			if v.Subject != "" && subject != v.Subject && !strings.HasPrefix(subject, v.Subject) {
				continue
			}
			for ver, e := range versions {
				if e.value.Deleted {
					s.removeVersion(subject, ver)
				}
			}
		}
	case keyNoop:
		var v fenceValue
		if json.Unmarshal(rec.Value, &v) != nil {
			return // Confluent's NOOPs (no value) and anything else
		}
		for _, sv := range v.PermanentDelete {
			s.removeVersion(sv.Subject, sv.Version)
		}
	default:
		// CONTEXT, ASSOC and unknown types: nothing to apply.
	}
}

func (s *state) bad(rec Record, err error) {
	s.ignored++
	s.logger.Warn("schemareg: skipping record with undecodable value", "offset", rec.Offset, "err", err)
}

// putVersion sets (subject, version) unless its id is taken by another
// schema (Confluent's store rejects such a record the same way).
func (s *state) putVersion(v schemaValue, rec Record) {
	if e, ok := s.ids[v.ID]; ok && e.schema != v.Schema {
		s.ignored++
		s.logger.Warn("schemareg: ignoring schema record with an id already used by another schema",
			"offset", rec.Offset, "id", v.ID, "subject", v.Subject, "version", v.Version)
		return
	}
	versions := s.subjects[v.Subject]
	if versions == nil {
		versions = map[int]*versionEntry{}
		s.subjects[v.Subject] = versions
	}
	if old := versions[v.Version]; old != nil && old.value.ID != v.ID {
		s.unlinkID(old.value.ID, subjectVersion{v.Subject, v.Version})
	}
	versions[v.Version] = &versionEntry{value: v, rawKey: rec.Key, offset: rec.Offset}
	e := s.ids[v.ID]
	if e == nil {
		e = &idEntry{schemaType: v.schemaTypeOrAvro(), schema: v.Schema, refs: v.References, users: map[subjectVersion]struct{}{}}
		s.ids[v.ID] = e
		s.byContent[contentKey(e.schemaType, e.schema, e.refs)] = v.ID
	}
	e.users[subjectVersion{v.Subject, v.Version}] = struct{}{}
	if v.ID > s.maxID {
		s.maxID = v.ID
	}
}

func (s *state) unlinkID(id int, sv subjectVersion) {
	e := s.ids[id]
	if e == nil {
		return
	}
	delete(e.users, sv)
	if len(e.users) == 0 {
		delete(s.ids, id)
		ck := contentKey(e.schemaType, e.schema, e.refs)
		if s.byContent[ck] == id {
			delete(s.byContent, ck)
		}
	}
}

func (s *state) removeVersion(subject string, version int) {
	versions := s.subjects[subject]
	e := versions[version]
	if e == nil {
		return
	}
	delete(versions, version)
	if len(versions) == 0 {
		delete(s.subjects, subject)
	}
	s.unlinkID(e.value.ID, subjectVersion{subject, version})
}

// applyTombstone: a tombstone written by the write protocol (its key has a
// seq) removes the entry only if the entry was set under exactly that key,
// so a tombstone of an older record never removes a newer one; a
// tombstone without seq (Confluent's) removes the logical key.
func (s *state) applyTombstone(k recordKey, lk logicalKey, raw []byte) {
	exact := k.Seq != nil
	matches := func(cur []byte) bool { return !exact || bytes.Equal(cur, raw) }
	switch k.KeyType {
	case keySchema:
		if e := s.subjects[lk.subject][lk.version]; e != nil && matches(e.rawKey) {
			s.removeVersion(lk.subject, lk.version)
		}
	case keyConfig:
		if e, ok := s.config[lk.subject]; ok && matches(e.rawKey) {
			delete(s.config, lk.subject)
		}
	case keyMode:
		if e, ok := s.mode[lk.subject]; ok && matches(e.rawKey) {
			delete(s.mode, lk.subject)
		}
	}
}

func (s *state) rememberRawKey(lk logicalKey, raw []byte) {
	for _, r := range s.rawKeys[lk] {
		if bytes.Equal(r, raw) {
			return
		}
	}
	s.rawKeys[lk] = append(s.rawKeys[lk], bytes.Clone(raw))
}

func (s *state) forgetRawKey(lk logicalKey, raw []byte) {
	keys := s.rawKeys[lk]
	for i, r := range keys {
		if bytes.Equal(r, raw) {
			keys = append(keys[:i:i], keys[i+1:]...)
			break
		}
	}
	if len(keys) == 0 {
		delete(s.rawKeys, lk)
	} else {
		s.rawKeys[lk] = keys
	}
}

// tombstoneKeys lists the keys to tombstone to remove lk for good: every
// key it was written under, the current one (cur) last.
func (s *state) tombstoneKeys(lk logicalKey, cur []byte) [][]byte {
	var out [][]byte
	for _, r := range s.rawKeys[lk] {
		if !bytes.Equal(r, cur) {
			out = append(out, r)
		}
	}
	if cur != nil {
		out = append(out, cur)
	}
	return out
}

// ---- queries (callers hold Registry.mu for reading) ----

// subjectNames lists subjects with at least one version (non-deleted
// unless deleted), sorted.
func (s *state) subjectNames(deleted bool, prefix string) []string {
	out := []string{}
	for name, versions := range s.subjects {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		for _, e := range versions {
			if deleted || !e.value.Deleted {
				out = append(out, name)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// versionList lists a subject's versions ascending.
func (s *state) versionList(subject string, deleted bool) []*versionEntry {
	var out []*versionEntry
	for _, e := range s.subjects[subject] {
		if deleted || !e.value.Deleted {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].value.Version < out[j].value.Version })
	return out
}

func (s *state) hasSubject(subject string, deleted bool) bool {
	return len(s.versionList(subject, deleted)) > 0
}

// maxVersion is the highest version ever kept for subject (deleted too).
func (s *state) maxVersion(subject string) int {
	m := 0
	for v := range s.subjects[subject] {
		m = max(m, v)
	}
	return m
}

// defaultCompatibility is the level of a config without one (Confluent's
// schema.compatibility.level default).
const defaultCompatibility = "BACKWARD"

// compatibility is the level in force for subject: Confluent's
// getConfigInScope, where a subject config without a level (one that set
// only normalize) means the default level, not the global one
// (InMemoryCache.config fills a missing level with the default).
func (s *state) compatibility(subject string) string {
	if subject != "" {
		if c, ok := s.config[subject]; ok {
			if c.level == "" {
				return defaultCompatibility
			}
			return c.level
		}
	}
	if c, ok := s.config[""]; ok && c.level != "" {
		return c.level
	}
	return defaultCompatibility
}

// modeOf is the mode in force for subject.
func (s *state) modeOf(subject string) string {
	if subject != "" {
		if m, ok := s.mode[subject]; ok {
			return m.mode
		}
	}
	if m, ok := s.mode[""]; ok {
		return m.mode
	}
	return "READWRITE"
}

// referencedBy lists the ids of schemas (versions) referencing subject/version.
func (s *state) referencedBy(subject string, version int, deleted bool) []int {
	seen := map[int]bool{}
	var out []int
	for _, versions := range s.subjects {
		for _, e := range versions {
			if e.value.Deleted && !deleted {
				continue
			}
			for _, r := range e.value.References {
				if r.Subject == subject && r.Version == version && !seen[e.value.ID] {
					seen[e.value.ID] = true
					out = append(out, e.value.ID)
				}
			}
		}
	}
	sort.Ints(out)
	return out
}

// referencingSubjects lists the subjects with a version referencing
// subject/version.
func (s *state) referencingSubjects(subject string, version int, deleted bool) map[string]bool {
	out := map[string]bool{}
	for name, versions := range s.subjects {
		for _, e := range versions {
			if e.value.Deleted && !deleted {
				continue
			}
			for _, r := range e.value.References {
				if r.Subject == subject && r.Version == version {
					out[name] = true
				}
			}
		}
	}
	return out
}
