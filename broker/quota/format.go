package quota

// Encoding of quotas in the broker's entity store (kind "quota"); the layout
// is written down in FORMAT.md.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
)

// ErrCorrupt is returned for a stored key or value that does not decode.
var ErrCorrupt = errors.New("quota: corrupt stored quota")

// formatVersion is the first byte of every stored value.
const formatVersion = 1

// EncodeKey is e's entity-store key: its components in type order, joined
// with ',', each "type=name" with the name query-escaped, or "type" alone for
// the type's default entity.
func EncodeKey(e Entity) string {
	e = slices.Clone(e)
	e.Sort()
	var b strings.Builder
	for i, c := range e {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(c.Type)
		if c.Name != nil {
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(*c.Name))
		}
	}
	return b.String()
}

// DecodeKey reverses EncodeKey.
func DecodeKey(key string) (Entity, error) {
	if key == "" {
		return nil, fmt.Errorf("%w: empty key", ErrCorrupt)
	}
	var e Entity
	for _, part := range strings.Split(key, ",") {
		typ, name, named := strings.Cut(part, "=")
		c := Component{Type: typ}
		if named {
			n, err := url.QueryUnescape(name)
			if err != nil {
				return nil, fmt.Errorf("%w: key %q: %v", ErrCorrupt, key, err)
			}
			c.Name = &n
		}
		e = append(e, c)
	}
	e.Sort()
	return e, nil
}

// Value is one quota key and its value.
type Value struct {
	Key   string
	Value float64
}

// EncodeValues encodes an entity's quotas: the version byte, an uvarint
// count, then per quota (sorted by key) an uvarint key length, the key and
// the value as a big-endian IEEE 754 double.
func EncodeValues(vs []Value) []byte {
	vs = slices.Clone(vs)
	slices.SortFunc(vs, func(a, b Value) int { return strings.Compare(a.Key, b.Key) })
	out := []byte{formatVersion}
	out = binary.AppendUvarint(out, uint64(len(vs)))
	for _, v := range vs {
		out = binary.AppendUvarint(out, uint64(len(v.Key)))
		out = append(out, v.Key...)
		out = binary.BigEndian.AppendUint64(out, math.Float64bits(v.Value))
	}
	return out
}

// DecodeValues reverses EncodeValues.
func DecodeValues(b []byte) ([]Value, error) {
	if len(b) == 0 || b[0] != formatVersion {
		return nil, fmt.Errorf("%w: unknown version", ErrCorrupt)
	}
	b = b[1:]
	n, l := binary.Uvarint(b)
	if l <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: bad count", ErrCorrupt)
	}
	b = b[l:]
	out := make([]Value, 0, n)
	for range n {
		kl, l := binary.Uvarint(b)
		if l <= 0 || kl > uint64(len(b)-l) || uint64(len(b)-l)-kl < 8 {
			return nil, fmt.Errorf("%w: truncated", ErrCorrupt)
		}
		b = b[l:]
		key := string(b[:kl])
		b = b[kl:]
		out = append(out, Value{Key: key, Value: math.Float64frombits(binary.BigEndian.Uint64(b[:8]))})
		b = b[8:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: trailing bytes", ErrCorrupt)
	}
	return out, nil
}
