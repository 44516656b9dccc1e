package schemareg

// The registry's operations (Confluent's KafkaSchemaRegistry): what the
// HTTP handlers call. Reads hold mu for reading; writes go through
// Registry.write.

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/moldau/moldau/broker/schemareg/schema"
)

// Compatibility levels and modes.
var compatibilityLevels = map[string]bool{
	"NONE": true, "BACKWARD": true, "BACKWARD_TRANSITIVE": true, "FORWARD": true,
	"FORWARD_TRANSITIVE": true, "FULL": true, "FULL_TRANSITIVE": true,
}

var modes = map[string]bool{"READWRITE": true, "READONLY": true, "READONLY_OVERRIDE": true, "IMPORT": true}

// maxParsedCache bounds the parse cache (cleared when full).
const maxParsedCache = 4096

// registerRequest is the body of POST /subjects/{s}/versions and of
// lookups and compatibility checks (Confluent's RegisterSchemaRequest).
type registerRequest struct {
	Schema     string      `json:"schema"`
	SchemaType string      `json:"schemaType"`
	References []Reference `json:"references"`
	Version    int         `json:"version"`
	ID         int         `json:"id"`
}

// schemaType is q's type as sent (AVRO when left out). Confluent looks
// its providers up by the exact name: "protobuf" is an invalid type.
func (q *registerRequest) schemaType() string {
	if q.SchemaType == "" {
		return schema.Avro
	}
	return q.SchemaType
}

// schemaJSON is Confluent's Schema entity (null/empty fields left out;
// schemaType left out for AVRO as 7.x does).
type schemaJSON struct {
	Subject    string      `json:"subject,omitempty"`
	Version    int         `json:"version,omitempty"`
	ID         int         `json:"id,omitempty"`
	SchemaType string      `json:"schemaType,omitempty"`
	References []Reference `json:"references,omitempty"`
	Schema     string      `json:"schema"`
}

func entityOf(v schemaValue) schemaJSON {
	t := v.SchemaType
	if t == schema.Avro {
		t = ""
	}
	return schemaJSON{Subject: v.Subject, Version: v.Version, ID: v.ID, SchemaType: t, References: v.References, Schema: v.Schema}
}

// existingParser is implemented by formats that parse schemas already
// registered more leniently than new ones (Confluent's
// validateAsNew=false), so that what an older registry stored still loads.
type existingParser interface {
	ParseExisting(schema string, refs []schema.Resolved) (schema.Parsed, error)
}

// parsedEntry is a parse cache entry: a parsed schema or the format's
// error (failures to resolve references are not cached).
type parsedEntry struct {
	parsed schema.Parsed
	err    *apiError
}

// parse parses text of schemaType with its references resolved from st
// (caller holds mu for reading); existing: text is a registered version.
// Results are cached by content, so a parse done by preparse (without
// mu) is not repeated under mu.
func (r *Registry) parse(st *state, schemaType, text string, refs []Reference, existing bool) (schema.Parsed, *apiError) {
	f := r.formats[schemaType]
	if f == nil {
		return nil, errInvalidSchema(fmt.Sprintf("Invalid schema type %s", schemaType))
	}
	// References are resolved every time (map look-ups): a cached parse
	// must not hide a reference deleted or replaced since.
	resolved, aerr := st.resolve(refs, nil, map[string]bool{})
	if aerr == nil {
		aerr = checkResolved(resolved)
	}
	if aerr != nil {
		return nil, aerr
	}
	ck := parseKey(schemaType, text, resolved, existing)
	r.parsedMu.Lock()
	e, ok := r.parsed[ck]
	r.parsedMu.Unlock()
	if ok {
		return e.parsed, e.err
	}
	return r.parseResolved(f, ck, text, refs, resolved, existing)
}

func (r *Registry) parseResolved(f schema.Format, ck, text string, refs []Reference, resolved []schema.Resolved, existing bool) (schema.Parsed, *apiError) {
	var p schema.Parsed
	var err error
	if ep, ok := f.(existingParser); ok && existing {
		p, err = ep.ParseExisting(text, resolved)
	} else {
		p, err = f.Parse(text, resolved)
	}
	e := parsedEntry{parsed: p}
	if err != nil {
		ae := errInvalidSchema(invalidMessage(text, refs, f.Type(), err))
		ae.failure = &parseFailure{text: text, refs: refs, schemaType: f.Type(), details: strings.TrimPrefix(err.Error(), schema.ErrInvalid.Error()+": ")}
		e = parsedEntry{err: ae}
	}
	r.parsedMu.Lock()
	if len(r.parsed) >= maxParsedCache {
		r.parsed = map[string]parsedEntry{}
	}
	r.parsed[ck] = e
	r.parsedMu.Unlock()
	return e.parsed, e.err
}

// preparse parses a request's schema holding mu only to resolve its
// references, so that a slow parse does not hold up the tailer (and,
// through it, every reader); the parse that follows under mu hits the cache.
func (r *Registry) preparse(schemaType, text string, refs []Reference) {
	f := r.formats[schemaType]
	if f == nil {
		return
	}
	r.mu.RLock()
	resolved, aerr := r.st.resolve(refs, nil, map[string]bool{})
	r.mu.RUnlock()
	if aerr != nil || checkResolved(resolved) != nil {
		return
	}
	ck := parseKey(schemaType, text, resolved, false)
	r.parsedMu.Lock()
	_, ok := r.parsed[ck]
	r.parsedMu.Unlock()
	if !ok {
		r.parseResolved(f, ck, text, refs, resolved, false)
	}
}

// parseKey is the parse cache's key: the text with the resolved
// references' names and texts.
func parseKey(schemaType, text string, resolved []schema.Resolved, existing bool) string {
	var b strings.Builder
	b.WriteString(schemaType)
	if existing {
		b.WriteString("\x00existing")
	}
	b.WriteByte(0)
	b.WriteString(text)
	for _, r := range resolved {
		b.WriteByte(0)
		b.WriteString(r.Name)
		b.WriteByte(0)
		b.WriteString(r.Schema)
	}
	return b.String()
}

// invalidMessage is the 42201 message for a parse failure: the format's
// own when it is already Confluent's "Invalid schema ..." sentence, else
// that sentence around the format's details.
func invalidMessage(text string, refs []Reference, schemaType string, err error) string {
	details := strings.TrimPrefix(err.Error(), schema.ErrInvalid.Error()+": ")
	if strings.HasPrefix(details, "Invalid schema") {
		return details
	}
	return fmt.Sprintf("Invalid schema %s with refs %s of type %s, details: %s", abbreviate(text), refsString(refs), schemaType, details)
}

// formattedParser is implemented by parsed schemas that render
// Confluent's formattedString(format) (the ?format= of schema reads, e.g.
// Protobuf's "serialized" and "ignore_extensions").
type formattedParser interface {
	Formatted(format string) string
}

// formatted renders a registered schema in format ("" or unsupported:
// the stored text, as Confluent's default).
func (r *Registry) formatted(schemaType, text string, refs []Reference, format string) string {
	if strings.TrimSpace(format) == "" {
		return text
	}
	r.mu.RLock()
	p, aerr := r.parse(r.st, schemaType, text, refs, true)
	r.mu.RUnlock()
	if aerr != nil {
		return text
	}
	if f, ok := p.(formattedParser); ok {
		return f.Formatted(format)
	}
	return text
}

func abbreviate(s string) string {
	if len(s) > 512 {
		return s[:512] + "..."
	}
	return s
}

func refsString(refs []Reference) string {
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = fmt.Sprintf("{name='%s', subject='%s', version=%d}", r.Name, r.Subject, r.Version)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// resolve resolves refs transitively, dependencies first, each name once.
func (s *state) resolve(refs []Reference, out []schema.Resolved, seen map[string]bool) ([]schema.Resolved, *apiError) {
	for _, ref := range refs {
		if seen[ref.Name] {
			continue
		}
		e := s.lookupVersion(ref.Subject, ref.Version, ref.Version != -1) // "latest" means a live one
		if e == nil {
			return nil, errInvalidSchema(fmt.Sprintf("No schema reference found for subject \"%s\" and version %d", ref.Subject, ref.Version))
		}
		if len(seen) >= maxReferences {
			return nil, errTooManyReferences()
		}
		seen[ref.Name] = true
		var aerr *apiError
		if out, aerr = s.resolve(e.value.References, out, seen); aerr != nil {
			return nil, aerr
		}
		out = append(out, schema.Resolved{Name: ref.Name, Type: e.value.schemaTypeOrAvro(), Schema: e.value.Schema})
	}
	return out, nil
}

// lookupVersion finds subject's version (-1: the latest, non-deleted
// unless deleted).
func (s *state) lookupVersion(subject string, version int, deleted bool) *versionEntry {
	if version == -1 {
		vs := s.versionList(subject, deleted)
		if len(vs) == 0 {
			return nil
		}
		return vs[len(vs)-1]
	}
	e := s.subjects[subject][version]
	if e == nil || (e.value.Deleted && !deleted) {
		return nil
	}
	return e
}

// validSubject is Confluent's QualifiedSubject.isValidSubject: no ISO
// control characters, and not the reserved names "__GLOBAL" and "__EMPTY"
// (an empty subject is refused too: it cannot be told from the global scope).
func validSubject(subject string) bool {
	if subject == "" || subject == "__GLOBAL" || subject == "__EMPTY" {
		return false
	}
	for _, c := range subject {
		if c < 0x20 || (c >= 0x7f && c <= 0x9f) {
			return false
		}
	}
	return true
}

// readOnly reports whether writes to subject are refused.
func (s *state) readOnly(subject string) bool {
	if m, ok := s.mode[""]; ok && m.mode == "READONLY_OVERRIDE" {
		return true
	}
	m := s.modeOf(subject)
	return m == "READONLY" || m == "READONLY_OVERRIDE"
}

// ---- register, lookup ----

// register registers q under subject and returns what is registered
// (the existing version when the schema already is). idOnly: the schema
// was found already registered by Confluent 7.9's registerOrForward
// lookup, which answers only {"id": n} (8.x answers the whole schema).
func (r *Registry) register(ctx context.Context, subject string, q registerRequest, normalize bool) (result schemaValue, idOnly bool, err error) {
	if !validSubject(subject) {
		return result, false, errInvalidSubject(subject)
	}
	request := q
	if strings.TrimSpace(q.Schema) != "" {
		r.preparse(q.schemaType(), q.Schema, q.References)
	}
	err = r.write(ctx, func(st *state) ([]pendingRecord, error) {
		q := request // plan may run again: nothing kept from a run
		idOnly = false
		normalize := normalize || st.normalizeFor(subject)
		if strings.TrimSpace(q.Schema) == "" {
			// Confluent's maybePopulateFromPrevious (after
			// checkRegisterMode): an empty schema registers the latest
			// version again; with none, "Empty schema".
			if aerr := checkRegisterMode(st, subject, q); aerr != nil {
				return nil, aerr
			}
			latest := st.lookupVersion(subject, -1, false)
			if latest == nil || st.modeOf(subject) == "IMPORT" {
				return nil, errInvalidSchema("Empty schema")
			}
			q.Schema, q.SchemaType, q.References = latest.value.Schema, latest.value.schemaTypeOrAvro(), latest.value.References
		}
		schemaType := q.schemaType()
		parsed, aerr := r.parse(st, schemaType, q.Schema, q.References, false)
		if aerr != nil {
			return nil, aerr.forRequest(subject, q)
		}
		text := parsed.Canonical()
		if normalize {
			text = parsed.Normalized()
		}
		existingID, known := st.byContent[contentKey(schemaType, text, q.References)]
		live := st.versionList(subject, false)
		// Already registered under subject: answered before the mode is
		// checked, as Confluent's registerOrForward looks it up first (a
		// serializer auto-registering against a READONLY registry works).
		if known && q.Version <= 0 && (q.ID <= 0 || q.ID == existingID) {
			for _, e := range live {
				if e.value.ID == existingID {
					result = e.value
					// An empty request schema was filled from the latest
					// version: Confluent's register() answers it in full.
					idOnly = strings.TrimSpace(request.Schema) != ""
					return nil, nil
				}
			}
		}
		if aerr := checkRegisterMode(st, subject, q); aerr != nil {
			return nil, aerr
		}
		mode := st.modeOf(subject)
		if q.ID > 0 {
			if e := st.ids[q.ID]; e != nil && (e.schema != text || e.schemaType != schemaType) {
				return nil, errIDDoesNotMatch(q.ID)
			}
		}
		if mode != "IMPORT" {
			msgs := r.checkAgainst(st, st.compatibility(subject), schemaType, parsed, live, true)
			r.metrics.compatibilityChecked(len(msgs) == 0)
			if len(msgs) > 0 {
				return nil, errIncompatible(subject, "["+strings.Join(msgs, ", ")+"]")
			}
		}
		version := st.maxVersion(subject) + 1
		if q.Version > 0 {
			if mode != "IMPORT" && q.Version != version {
				return nil, errInvalidSchema("Version is not one more than previous version")
			}
			version = q.Version
		}
		var id int
		switch {
		case q.ID > 0:
			id = q.ID
		case known:
			id = existingID
		default:
			id = st.maxID + 1
		}
		t := schemaType
		if t == schema.Avro {
			t = "" // Confluent leaves schemaType out for AVRO
		}
		result = schemaValue{Subject: subject, Version: version, ID: id, SchemaType: t, References: q.References, Schema: text}
		sub := subject
		rec := pendingRecord{key: recordKey{KeyType: keySchema, Subject: &sub, Version: version}, value: mustJSON(result)}
		// Confluent's register tombstones the subject's soft-deleted
		// versions holding the same id below the new one (re-registering
		// a soft-deleted schema leaves one version of it).
		var deletes []subjectVersionJSON
		var recs []pendingRecord
		for _, e := range st.versionList(subject, true) {
			if e.value.Deleted && e.value.ID == id && e.value.Version < version {
				deletes = append(deletes, subjectVersionJSON{subject, e.value.Version})
				recs = append(recs, tombstones(st.tombstoneKeys(logicalKey{keySchema, subject, e.value.Version}, e.rawKey))...)
			}
		}
		if len(deletes) == 0 {
			return []pendingRecord{rec}, nil
		}
		return append(append([]pendingRecord{fence(deletes...)}, recs...), rec), nil
	})
	return result, idOnly, err
}

// normalizeFor is the normalize setting in force for subject (its own,
// else the global one): Confluent's getConfigInScope(subject).isNormalize(),
// which register, lookup and compatibility checks consult when the
// request does not ask for ?normalize=true.
func (s *state) normalizeFor(subject string) bool {
	if c, ok := s.config[subject]; ok && c.normalize != nil {
		return *c.normalize
	}
	if c, ok := s.config[""]; ok && c.normalize != nil {
		return *c.normalize
	}
	return false
}

// checkRegisterMode is Confluent's checkRegisterMode, in 7.9's words
// (8.x adds "in context .").
func checkRegisterMode(st *state, subject string, q registerRequest) *apiError {
	if st.readOnly(subject) {
		return errReadOnly(subject)
	}
	mode := st.modeOf(subject)
	if q.ID > 0 && mode != "IMPORT" {
		return errNotPermitted(fmt.Sprintf("Subject %s is not in import mode", subject))
	}
	if q.ID <= 0 && mode != "READWRITE" {
		return errNotPermitted(fmt.Sprintf("Subject %s is not in read-write mode", subject))
	}
	return nil
}

// lookup finds q among subject's versions (POST /subjects/{s}).
func (r *Registry) lookup(subject string, q registerRequest, normalize, deleted bool) (schemaJSON, error) {
	r.preparse(q.schemaType(), q.Schema, q.References)
	r.mu.RLock()
	defer r.mu.RUnlock()
	st := r.st
	normalize = normalize || st.normalizeFor(subject) // as SubjectsResource does
	schemaType := q.schemaType()
	parsed, aerr := r.parse(st, schemaType, q.Schema, q.References, false)
	if aerr != nil {
		return schemaJSON{}, aerr.forRequest(subject, q)
	}
	if !st.hasSubject(subject, deleted) {
		return schemaJSON{}, errSubjectNotFound(subject)
	}
	candidates := []string{parsed.Canonical()}
	if normalize {
		candidates = append(candidates, parsed.Normalized())
	}
	vs := st.versionList(subject, deleted)
	for i := len(vs) - 1; i >= 0; i-- {
		e := vs[i]
		if e.value.schemaTypeOrAvro() != schemaType || !sameRefs(e.value.References, q.References) {
			continue
		}
		for _, c := range candidates {
			if e.value.Schema == c || e.value.Schema == q.Schema {
				return entityOf(e.value), nil
			}
		}
		if normalize {
			if p, aerr := r.parse(st, schemaType, e.value.Schema, e.value.References, true); aerr == nil && p.Normalized() == parsed.Normalized() {
				return entityOf(e.value), nil
			}
		}
	}
	return schemaJSON{}, errSchemaNotFound()
}

func sameRefs(a, b []Reference) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ---- compatibility ----

// checkAgainst checks parsed against previous (ascending) under level:
// the latest only, or all of them for *_TRANSITIVE (newest first,
// stopping at the first incompatible one, as Confluent does). It returns
// Confluent's messages; nil when compatible.
func (r *Registry) checkAgainst(st *state, level, schemaType string, parsed schema.Parsed, previous []*versionEntry, trailer bool) []string {
	if level == "NONE" || len(previous) == 0 {
		return nil
	}
	transitive := strings.HasSuffix(level, "_TRANSITIVE")
	direction := strings.TrimSuffix(level, "_TRANSITIVE")
	var msgs []string
	for i := len(previous) - 1; i >= 0; i-- {
		msgs = r.checkOne(st, direction, schemaType, parsed, previous[i])
		if len(msgs) > 0 || !transitive {
			break
		}
	}
	if len(msgs) > 0 && trailer {
		msgs = append(msgs, fmt.Sprintf("{validateFields: 'false', compatibility: '%s'}", level))
	}
	return msgs
}

// checkOne checks parsed against one earlier version in direction
// (BACKWARD, FORWARD or FULL), with Confluent's SchemaValidatorBuilder
// strategies: messages get their role verbs filled ("new"/"old", reader
// first), and a non-empty list of the new-reads-old kind (or of
// old-reads-new under FORWARD) ends with the old version and schema.
func (r *Registry) checkOne(st *state, direction, schemaType string, parsed schema.Parsed, old *versionEntry) []string {
	if old.value.schemaTypeOrAvro() != schemaType {
		return []string{"Incompatible because of different schema type"}
	}
	oldParsed, aerr := r.parse(st, schemaType, old.value.Schema, old.value.References, true)
	if aerr != nil {
		return []string{fmt.Sprintf("Earlier schema version %d cannot be parsed: %s", old.value.Version, aerr.msg)}
	}
	withOld := func(msgs []string, reader, writer string) []string {
		if len(msgs) == 0 {
			return nil
		}
		out := make([]string, 0, len(msgs)+2)
		for _, m := range msgs {
			out = append(out, schema.Label(m, reader, writer))
		}
		out = append(out, fmt.Sprintf("{oldSchemaVersion: %d}", old.value.Version))
		if len(old.value.Schema) <= maxSchemaInMessage {
			return append(out, fmt.Sprintf("{oldSchema: '%s'}", old.value.Schema))
		}
		return append(out, fmt.Sprintf("{oldSchema: <truncated> '%s...'}", old.value.Schema[:maxSchemaInMessage]))
	}
	switch direction {
	case "BACKWARD":
		return withOld(parsed.CanRead(oldParsed), "new", "old")
	case "FORWARD":
		return withOld(oldParsed.CanRead(parsed), "old", "new")
	default: // FULL: Confluent's mutualReadStrategy
		var msgs []string
		for _, m := range oldParsed.CanRead(parsed) {
			msgs = append(msgs, schema.Label(m, "old", "new"))
		}
		return append(msgs, withOld(parsed.CanRead(oldParsed), "new", "old")...)
	}
}

// maxSchemaInMessage is Confluent's MAX_SCHEMA_SIZE_FOR_LOGGING.
const maxSchemaInMessage = 10 * 1024

// compatibility answers POST /compatibility/subjects/{s}/versions[/{v}]:
// version 0 means "as a registration would" (every version the level
// asks for), otherwise that one version (-1 latest).
func (r *Registry) compatibility(subject string, version int, q registerRequest, normalize bool) ([]string, error) {
	r.preparse(q.schemaType(), q.Schema, q.References)
	r.mu.RLock()
	defer r.mu.RUnlock()
	st := r.st
	normalize = normalize || st.normalizeFor(subject) // as CompatibilityResource does
	var previous []*versionEntry
	if version == 0 {
		previous = st.versionList(subject, false)
	} else if e := st.lookupVersion(subject, version, false); e != nil {
		previous = []*versionEntry{e}
	} else if version != -1 {
		return nil, errVersionNotFound(version)
	} // "latest" of a subject without versions: compatible, as Confluent
	schemaType := q.schemaType()
	parsed, aerr := r.parse(st, schemaType, q.Schema, q.References, false)
	if aerr != nil {
		return nil, aerr.forRequest(subject, q)
	}
	if normalize {
		if p, aerr := r.parse(st, schemaType, parsed.Normalized(), q.References, false); aerr == nil {
			parsed = p
		}
	}
	msgs := r.checkAgainst(st, st.compatibility(subject), schemaType, parsed, previous, true)
	r.metrics.compatibilityChecked(len(msgs) == 0)
	return msgs, nil
}

// ---- deletes ----

// deleteVersion soft or permanently deletes subject's version (-1: the
// latest live one, also for a permanent delete: Confluent's get(subject,
// -1, true) ignores deleted versions, so "latest" can never be deleted
// for good). The checks run in Confluent's order: 40406 (soft delete of a
// soft-deleted version), 40401/40402 (SubjectVersionsResource), then
// 42205 (read-only), 42206 (referenced) and 40407 (not soft-deleted
// first) in KafkaSchemaRegistry.deleteSchemaVersion.
func (r *Registry) deleteVersion(ctx context.Context, subject string, version int, permanent bool) (int, error) {
	deleted := 0
	err := r.write(ctx, func(st *state) ([]pendingRecord, error) {
		var e *versionEntry
		if version == -1 {
			e = st.lookupVersion(subject, -1, false)
		} else {
			e = st.subjects[subject][version]
		}
		if e != nil && !permanent && e.value.Deleted {
			return nil, errVersionSoftDeleted(subject, e.value.Version)
		}
		if e == nil {
			if !st.hasSubject(subject, true) {
				return nil, errSubjectNotFound(subject)
			}
			return nil, errVersionNotFound(version)
		}
		v := e.value.Version
		if st.readOnly(subject) {
			return nil, errReadOnly(subject)
		}
		// Live referrers only: Confluent's referencedBy index drops a
		// referrer when it is soft-deleted (InMemoryCache.schemaDeleted).
		if len(st.referencedBy(subject, v, false)) > 0 {
			return nil, errReferenceExists(subject, v)
		}
		if permanent && !e.value.Deleted {
			return nil, errVersionNotSoftDeleted(subject, v)
		}
		deleted = v
		sub := subject
		if !permanent {
			val := e.value
			val.Deleted = true
			recs := []pendingRecord{{key: recordKey{KeyType: keySchema, Subject: &sub, Version: v}, value: mustJSON(val)}}
			if live := st.versionList(subject, false); len(live) == 1 && live[0] == e {
				// The last live version: Confluent drops the subject's
				// config and mode with it.
				recs = append(recs, r.subjectConfigModeTombstones(st, subject)...)
			}
			return recs, nil
		}
		recs := []pendingRecord{fence(subjectVersionJSON{subject, v})}
		recs = append(recs, tombstones(st.tombstoneKeys(logicalKey{keySchema, subject, v}, e.rawKey))...)
		if len(st.subjects[subject]) == 1 { // the last version: drop the subject's config and mode too
			recs = append(recs, r.subjectSettingTombstones(st, subject)...)
		}
		return recs, nil
	})
	return deleted, err
}

// fence is the NOOP record that permanently deletes versions for every
// instance at one offset, before their tombstones (records.go).
func fence(deletes ...subjectVersionJSON) pendingRecord {
	return pendingRecord{key: recordKey{KeyType: keyNoop}, value: mustJSON(fenceValue{PermanentDelete: deletes}), transient: true}
}

// subjectSettingTombstones removes subject's config, mode and
// DELETE_SUBJECT records for good.
func (r *Registry) subjectSettingTombstones(st *state, subject string) []pendingRecord {
	recs := tombstones(st.tombstoneKeys(logicalKey{keyDeleteSubject, subject, 0}, nil))
	return append(recs, r.subjectConfigModeTombstones(st, subject)...)
}

// subjectConfigModeTombstones removes subject's config and mode (what
// Confluent's deleteConfig and deleteMode write when a subject's last
// live version goes).
func (r *Registry) subjectConfigModeTombstones(st *state, subject string) []pendingRecord {
	var recs []pendingRecord
	var cur []byte
	if c, ok := st.config[subject]; ok {
		cur = c.rawKey
	}
	recs = append(recs, tombstones(st.tombstoneKeys(logicalKey{keyConfig, subject, 0}, cur))...)
	cur = nil
	if m, ok := st.mode[subject]; ok {
		cur = m.rawKey
	}
	recs = append(recs, tombstones(st.tombstoneKeys(logicalKey{keyMode, subject, 0}, cur))...)
	return recs
}

// deleteSubject soft or permanently deletes every version of subject.
func (r *Registry) deleteSubject(ctx context.Context, subject string, permanent bool) ([]int, error) {
	var deleted []int
	err := r.write(ctx, func(st *state) ([]pendingRecord, error) {
		deleted = []int{}
		// Confluent's order: 40401 and 40404 (SubjectsResource), 42205,
		// then per version ascending 42206 and 40405
		// (KafkaSchemaRegistry.deleteSubject).
		all := st.versionList(subject, true)
		live := st.versionList(subject, false)
		if len(all) == 0 {
			return nil, errSubjectNotFound(subject)
		}
		if !permanent && len(live) == 0 {
			return nil, errSubjectSoftDeleted(subject)
		}
		if st.readOnly(subject) {
			return nil, errReadOnly(subject)
		}
		targets := live
		if permanent {
			targets = all
		}
		for _, e := range targets {
			for referrer := range st.referencingSubjects(subject, e.value.Version, false) { // live ones, as above
				if referrer != subject { // references inside the subject go with it
					return nil, errReferenceExists(subject, e.value.Version)
				}
			}
			if permanent && !e.value.Deleted {
				return nil, errSubjectNotSoftDeleted(subject)
			}
			deleted = append(deleted, e.value.Version)
		}
		sub := subject
		if !permanent {
			v := deleteSubjectValue{Subject: subject, Version: targets[len(targets)-1].value.Version}
			recs := []pendingRecord{{key: recordKey{KeyType: keyDeleteSubject, Subject: &sub}, value: mustJSON(v)}}
			// Confluent drops the subject's config and mode on a soft delete.
			return append(recs, r.subjectConfigModeTombstones(st, subject)...), nil
		}
		deletes := make([]subjectVersionJSON, 0, len(targets))
		for _, e := range targets {
			deletes = append(deletes, subjectVersionJSON{subject, e.value.Version})
		}
		recs := []pendingRecord{fence(deletes...)}
		for i := len(targets) - 1; i >= 0; i-- { // descending, for references inside the subject
			e := targets[i]
			recs = append(recs, tombstones(st.tombstoneKeys(logicalKey{keySchema, subject, e.value.Version}, e.rawKey))...)
		}
		return append(recs, r.subjectSettingTombstones(st, subject)...), nil
	})
	return deleted, err
}

// ---- config and mode ----

// setConfig updates subject's ("" global) config the way Confluent's
// ConfigValue.update does: a field left out (nil) keeps its stored value.
// Checks in ConfigResource's order: 42203, 42208, then 42205.
func (r *Registry) setConfig(ctx context.Context, subject string, level *string, normalize *bool) error {
	newLevel := ""
	if level != nil {
		newLevel = strings.ToUpper(*level)
		if !compatibilityLevels[newLevel] {
			return errInvalidCompatibility()
		}
	}
	if subject != "" && !validSubject(subject) {
		return errInvalidSubject(subject)
	}
	return r.write(ctx, func(st *state) ([]pendingRecord, error) {
		if st.readOnly(subject) {
			return nil, errReadOnly(subject)
		}
		old := st.config[subject]
		k := recordKey{KeyType: keyConfig}
		v := configValue{CompatibilityLevel: newLevel, Normalize: normalize}
		if level == nil {
			v.CompatibilityLevel = old.level
		}
		if normalize == nil {
			v.Normalize = old.normalize
		}
		if subject != "" {
			sub := subject
			k.Subject, v.Subject = &sub, &sub
		}
		return []pendingRecord{{key: k, value: mustJSON(v)}}, nil
	})
}

// deleteConfig removes subject's ("" global) config; it returns the
// removed one (for the global scope the one in force, default included,
// as Confluent's getConfig(null)). Subject-level: 40401 before 42205.
func (r *Registry) deleteConfig(ctx context.Context, subject string) (configJSON, error) {
	var old configJSON
	err := r.write(ctx, func(st *state) ([]pendingRecord, error) {
		c, ok := st.config[subject]
		if !ok && subject != "" {
			return nil, errSubjectNotFound(subject)
		}
		if st.readOnly(subject) {
			return nil, errReadOnly(subject)
		}
		if !ok {
			old = configJSON{CompatibilityLevel: st.compatibility("")}
			return nil, nil
		}
		old = configJSON{Normalize: c.normalize, CompatibilityLevel: c.level}
		if c.level == "" {
			old.CompatibilityLevel = defaultCompatibility // as InMemoryCache.config fills it
		}
		return tombstones(st.tombstoneKeys(logicalKey{keyConfig, subject, 0}, c.rawKey)), nil
	})
	return old, err
}

// setMode sets subject's ("" global) mode.
// Checks in ModeResource's order: 42208, then 42204.
func (r *Registry) setMode(ctx context.Context, subject, mode string, force bool) error {
	if subject != "" && !validSubject(subject) {
		return errInvalidSubject(subject)
	}
	mode = strings.ToUpper(mode)
	if !modes[mode] {
		return errInvalidMode()
	}
	return r.write(ctx, func(st *state) ([]pendingRecord, error) {
		var recs []pendingRecord
		if mode == "IMPORT" && st.modeOf(subject) != "IMPORT" && !force {
			// Confluent: IMPORT needs the subject (registry) empty; the
			// soft-deleted versions left are deleted for good.
			for name := range st.subjects {
				if subject != "" && name != subject {
					continue
				}
				if st.hasSubject(name, false) {
					return nil, errNotPermitted("Cannot import since found existing subjects")
				}
			}
			var deletes []subjectVersionJSON
			for name, versions := range st.subjects {
				if subject != "" && name != subject {
					continue
				}
				for v, e := range versions {
					if len(st.referencedBy(name, v, false)) > 0 { // live referrers, as Confluent's index
						return nil, errReferenceExists(name, v)
					}
					deletes = append(deletes, subjectVersionJSON{name, v})
					recs = append(recs, tombstones(st.tombstoneKeys(logicalKey{keySchema, name, v}, e.rawKey))...)
				}
			}
			if len(deletes) > 0 {
				recs = append([]pendingRecord{fence(deletes...)}, recs...)
			}
		}
		k := recordKey{KeyType: keyMode}
		v := modeValue{Mode: mode}
		if subject != "" {
			sub := subject
			k.Subject, v.Subject = &sub, &sub
		}
		return append(recs, pendingRecord{key: k, value: mustJSON(v)}), nil
	})
}

// deleteMode removes subject's ("" global) mode; it returns the old one.
func (r *Registry) deleteMode(ctx context.Context, subject string) (string, error) {
	old := ""
	err := r.write(ctx, func(st *state) ([]pendingRecord, error) {
		m, ok := st.mode[subject]
		if !ok {
			if subject != "" {
				return nil, errSubjectNotFound(subject)
			}
			old = st.modeOf("")
			return nil, nil
		}
		old = m.mode
		return tombstones(st.tombstoneKeys(logicalKey{keyMode, subject, 0}, m.rawKey)), nil
	})
	return old, err
}

// sortedSubjectsOfID lists the subjects (and versions) using id.
func (s *state) usersOf(id int, deleted bool) []subjectVersion {
	e := s.ids[id]
	if e == nil {
		return nil
	}
	var out []subjectVersion
	for sv := range e.users {
		if v := s.subjects[sv.subject][sv.version]; v != nil && (deleted || !v.value.Deleted) {
			out = append(out, sv)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].subject != out[j].subject {
			return out[i].subject < out[j].subject
		}
		return out[i].version < out[j].version
	})
	return out
}
