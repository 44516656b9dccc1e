package schemareg

// Records of the _schemas topic, in Confluent Schema Registry's JSON
// key/value format (see FORMAT.md). Unknown fields of a value are kept
// (extra) so that a record this registry rewrites (a soft delete) keeps
// what another writer put there (metadata, ruleSet, ...).

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Key types (Confluent's SchemaRegistryKeyType).
const (
	keySchema        = "SCHEMA"
	keyConfig        = "CONFIG"
	keyMode          = "MODE"
	keyNoop          = "NOOP"
	keyDeleteSubject = "DELETE_SUBJECT"
	keyClearSubject  = "CLEAR_SUBJECT"
	keyContext       = "CONTEXT"
	keyAssoc         = "ASSOC"
)

// ErrBadRecord: a record of the schemas topic that cannot be decoded; the
// registry logs it and skips it (as Confluent's reader does).
var ErrBadRecord = errors.New("schemareg: undecodable schemas record")

// recordKey is a record's key. Seq and Node are Moldau's (and Redpanda's)
// additions for the write protocol (write.go); Confluent ignores them.
type recordKey struct {
	KeyType string  `json:"keytype"`
	Subject *string `json:"subject,omitempty"`
	Version int     `json:"version,omitempty"`
	Magic   int     `json:"magic"`
	Seq     *int64  `json:"seq,omitempty"`
	Node    *int32  `json:"node,omitempty"`
}

func (k recordKey) subject() string {
	if k.Subject == nil {
		return ""
	}
	return *k.Subject
}

// logicalKey is what Confluent's store maps a key to: the key without
// magic, seq and node.
type logicalKey struct {
	keyType string
	subject string
	version int
}

func (k recordKey) logical() logicalKey {
	return logicalKey{keyType: k.KeyType, subject: k.subject(), version: k.Version}
}

// Reference is one schema reference (Confluent's SchemaReference).
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// schemaValue is a SCHEMA record's value.
type schemaValue struct {
	Subject    string      `json:"subject"`
	Version    int         `json:"version"`
	ID         int         `json:"id"`
	SchemaType string      `json:"schemaType,omitempty"` // "" = AVRO
	References []Reference `json:"references,omitempty"`
	Schema     string      `json:"schema"`
	Deleted    bool        `json:"deleted"`
	// extra holds the fields this registry does not interpret (md5,
	// metadata, ruleSet, ...), written back unchanged.
	extra map[string]json.RawMessage
}

var schemaValueFields = []string{"subject", "version", "id", "schemaType", "references", "schema", "deleted"}

func (v *schemaValue) UnmarshalJSON(b []byte) error {
	type plain schemaValue
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	for _, f := range schemaValueFields {
		delete(all, f)
	}
	if len(all) == 0 {
		all = nil
	}
	*v = schemaValue(p)
	v.extra = all
	return nil
}

func (v schemaValue) MarshalJSON() ([]byte, error) {
	type plain schemaValue
	b, err := json.Marshal(plain(v))
	if err != nil || len(v.extra) == 0 {
		return b, err
	}
	extra, err := json.Marshal(v.extra)
	if err != nil {
		return nil, err
	}
	// {...known} + {...extra} -> {...known,...extra}
	out := append(b[:len(b)-1:len(b)-1], ',')
	return append(out, extra[1:]...), nil
}

func (v schemaValue) schemaTypeOrAvro() string {
	if v.SchemaType == "" {
		return "AVRO"
	}
	return v.SchemaType
}

// configValue is a CONFIG record's value (only compatibilityLevel is
// interpreted; the rest is kept).
type configValue struct {
	Subject            *string `json:"subject,omitempty"`
	CompatibilityLevel string  `json:"compatibilityLevel,omitempty"`
	Normalize          *bool   `json:"normalize,omitempty"`
}

// modeValue is a MODE record's value.
type modeValue struct {
	Subject *string `json:"subject,omitempty"`
	Mode    string  `json:"mode"`
}

// deleteSubjectValue is a DELETE_SUBJECT record's value: versions 1..Version
// of Subject are soft deleted.
type deleteSubjectValue struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// clearSubjectValue is a CLEAR_SUBJECT record's value: the soft-deleted
// versions of the subjects matching Subject are forgotten.
type clearSubjectValue struct {
	Subject string `json:"subject"`
}

// fenceValue is the value of a NOOP record Moldau writes (with seq) before
// the tombstones of a permanent delete: applying it removes the listed
// versions at once, on every instance, so that no write computed on a
// state from before it can still use them (FORMAT.md, "Permanent
// deletes"). Confluent ignores NOOP records whatever their value.
type fenceValue struct {
	PermanentDelete []subjectVersionJSON `json:"moldauPermanentDelete"`
}

type subjectVersionJSON struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// magic is the key's magic byte Confluent writes per key type.
func magicFor(keyType string) int {
	if keyType == keySchema {
		return 1
	}
	return 0
}

// encodeKey encodes a key with the write protocol's seq and node.
func encodeKey(k recordKey) []byte {
	k.Magic = magicFor(k.KeyType)
	b, err := json.Marshal(k)
	if err != nil {
		panic(fmt.Sprintf("schemareg: encoding a key: %v", err)) // plain structs cannot fail
	}
	return b
}

func decodeKey(b []byte) (recordKey, error) {
	var k recordKey
	if err := json.Unmarshal(b, &k); err != nil {
		return k, fmt.Errorf("%w: key %q: %v", ErrBadRecord, truncate(b), err)
	}
	if k.KeyType == "" {
		return k, fmt.Errorf("%w: key %q has no keytype", ErrBadRecord, truncate(b))
	}
	return k, nil
}

func truncate(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("schemareg: encoding a value: %v", err))
	}
	return b
}
