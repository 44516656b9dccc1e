package serde

// Avro: schemas are parsed with github.com/hamba/avro/v2 (named types of
// referenced schemas first, into one schema cache, so that the schema can
// name them); the binary encoding is read and written here, straight to
// and from Avro's JSON encoding (hamba's generic Go values are a different
// shape: unions as maps keyed by branch, bytes as []byte, logical types
// converted).

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

const (
	// maxAvroDepth bounds the nesting of values (records in records,
	// arrays in arrays) decoded or encoded.
	maxAvroDepth = 128
	// maxAvroItems bounds the array and map items of one value: an array
	// of nulls costs no bytes per item, so the input's size does not bound
	// them.
	maxAvroItems = 1 << 20
	// maxAvroOutput bounds the JSON one decoded value produces.
	maxAvroOutput = 64 << 20
)

type avroSchema struct {
	root avro.Schema
}

func (s *Serde) parseAvro(ctx context.Context, sch sr.Schema) (*avroSchema, error) {
	refs, err := s.references(ctx, sch.References)
	if err != nil {
		return nil, err
	}
	cache := &avro.SchemaCache{}
	for _, r := range refs {
		if r.schema.Type != sr.TypeAvro {
			return nil, fmt.Errorf("%w: reference %q is %v, not AVRO", ErrInvalidSchema, r.name, r.schema.Type)
		}
		if _, err := avro.ParseWithCache(r.schema.Schema, "", cache); err != nil {
			return nil, fmt.Errorf("%w: reference %q: %v", ErrInvalidSchema, r.name, err)
		}
	}
	root, err := avro.ParseWithCache(sch.Schema, "", cache)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	return &avroSchema{root: root}, nil
}

// deref returns the named schema a reference stands for.
func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

// branchName is a union branch's name in Avro's JSON encoding: a named
// type's full name, else the type's name (logical types go by their
// underlying type).
func branchName(s avro.Schema) string {
	s = deref(s)
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.Type())
}

// decode reads one binary-encoded value and returns its JSON encoding.
func (a *avroSchema) decode(payload []byte) (json.RawMessage, error) {
	r := &avroReader{b: payload}
	if err := r.value(a.root, 0); err != nil {
		return nil, fmt.Errorf("%w: avro: %v", ErrInvalidData, err)
	}
	if r.pos != len(r.b) {
		return nil, fmt.Errorf("%w: avro: %d bytes left over after the value", ErrInvalidData, len(r.b)-r.pos)
	}
	return r.out, nil
}

type avroReader struct {
	b     []byte
	pos   int
	items int
	out   []byte
}

var errAvroShort = errors.New("value cut short")

func (r *avroReader) long() (int64, error) {
	v, n := binary.Varint(r.b[r.pos:])
	if n <= 0 {
		if n == 0 {
			return 0, errAvroShort
		}
		return 0, errors.New("varint overflows a long")
	}
	r.pos += n
	return v, nil
}

func (r *avroReader) int() (int32, error) {
	v, err := r.long()
	if err != nil {
		return 0, err
	}
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, fmt.Errorf("int %d out of range", v)
	}
	return int32(v), nil
}

func (r *avroReader) take(n int64) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("negative length %d", n)
	}
	if n > int64(len(r.b)-r.pos) {
		return nil, errAvroShort
	}
	b := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b, nil
}

// blockCount reads an array's or map's next block count (0: the end).
func (r *avroReader) blockCount() (int64, error) {
	n, err := r.long()
	if err != nil {
		return 0, err
	}
	if n < 0 {
		if n == math.MinInt64 {
			return 0, errors.New("bad block count")
		}
		n = -n
		if _, err := r.long(); err != nil { // the block's size in bytes
			return 0, err
		}
	}
	if n > maxAvroItems-int64(r.items) {
		return 0, fmt.Errorf("more than %d array or map items", maxAvroItems)
	}
	r.items += int(n)
	return n, nil
}

func (r *avroReader) value(s avro.Schema, depth int) error {
	if depth > maxAvroDepth {
		return fmt.Errorf("values nest deeper than %d", maxAvroDepth)
	}
	if len(r.out) > maxAvroOutput {
		return fmt.Errorf("value larger than %d bytes as JSON", maxAvroOutput)
	}
	s = deref(s)
	switch s.Type() {
	case avro.Null:
		r.out = append(r.out, "null"...)
	case avro.Boolean:
		b, err := r.take(1)
		if err != nil {
			return err
		}
		switch b[0] {
		case 0:
			r.out = append(r.out, "false"...)
		case 1:
			r.out = append(r.out, "true"...)
		default:
			return fmt.Errorf("bad boolean byte %d", b[0])
		}
	case avro.Int:
		v, err := r.int()
		if err != nil {
			return err
		}
		r.out = strconv.AppendInt(r.out, int64(v), 10)
	case avro.Long:
		v, err := r.long()
		if err != nil {
			return err
		}
		r.out = strconv.AppendInt(r.out, v, 10)
	case avro.Float:
		b, err := r.take(4)
		if err != nil {
			return err
		}
		r.out = appendJSONFloat(r.out, float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 32)
	case avro.Double:
		b, err := r.take(8)
		if err != nil {
			return err
		}
		r.out = appendJSONFloat(r.out, math.Float64frombits(binary.LittleEndian.Uint64(b)), 64)
	case avro.String, avro.Bytes:
		n, err := r.long()
		if err != nil {
			return err
		}
		b, err := r.take(n)
		if err != nil {
			return err
		}
		if s.Type() == avro.String {
			r.out = appendJSONString(r.out, string(b))
		} else {
			r.out = appendLatin1JSON(r.out, b)
		}
	case avro.Fixed:
		b, err := r.take(int64(s.(*avro.FixedSchema).Size()))
		if err != nil {
			return err
		}
		r.out = appendLatin1JSON(r.out, b)
	case avro.Enum:
		i, err := r.int()
		if err != nil {
			return err
		}
		symbols := s.(*avro.EnumSchema).Symbols()
		if i < 0 || int(i) >= len(symbols) {
			return fmt.Errorf("enum index %d out of range", i)
		}
		r.out = appendJSONString(r.out, symbols[i])
	case avro.Array:
		items := s.(*avro.ArraySchema).Items()
		r.out = append(r.out, '[')
		first := true
		for {
			n, err := r.blockCount()
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
			for range n {
				if !first {
					r.out = append(r.out, ',')
				}
				first = false
				if err := r.value(items, depth+1); err != nil {
					return err
				}
			}
		}
		r.out = append(r.out, ']')
	case avro.Map:
		values := s.(*avro.MapSchema).Values()
		r.out = append(r.out, '{')
		first := true
		for {
			n, err := r.blockCount()
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
			for range n {
				if !first {
					r.out = append(r.out, ',')
				}
				first = false
				kl, err := r.long()
				if err != nil {
					return err
				}
				k, err := r.take(kl)
				if err != nil {
					return err
				}
				r.out = appendJSONString(r.out, string(k))
				r.out = append(r.out, ':')
				if err := r.value(values, depth+1); err != nil {
					return fmt.Errorf("%q: %w", k, err)
				}
			}
		}
		r.out = append(r.out, '}')
	case avro.Union:
		i, err := r.long()
		if err != nil {
			return err
		}
		branches := s.(*avro.UnionSchema).Types()
		if i < 0 || i >= int64(len(branches)) {
			return fmt.Errorf("union branch %d out of range", i)
		}
		b := branches[i]
		if deref(b).Type() == avro.Null {
			r.out = append(r.out, "null"...)
			return nil
		}
		r.out = append(r.out, '{')
		r.out = appendJSONString(r.out, branchName(b))
		r.out = append(r.out, ':')
		if err := r.value(b, depth+1); err != nil {
			return err
		}
		r.out = append(r.out, '}')
	case avro.Record, avro.Error:
		r.out = append(r.out, '{')
		for i, f := range s.(*avro.RecordSchema).Fields() {
			if i > 0 {
				r.out = append(r.out, ',')
			}
			r.out = appendJSONString(r.out, f.Name())
			r.out = append(r.out, ':')
			if err := r.value(f.Type(), depth+1); err != nil {
				return fmt.Errorf("%s: %w", f.Name(), err)
			}
		}
		r.out = append(r.out, '}')
	default:
		return fmt.Errorf("unsupported schema type %s", s.Type())
	}
	return nil
}

// encode appends value, in Avro's JSON encoding, binary-encoded to out.
func (a *avroSchema) encode(out []byte, value json.RawMessage) ([]byte, error) {
	v, err := decodeJSON(value)
	if err != nil {
		return nil, err
	}
	out, err = appendAvro(out, a.root, v, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: avro: %v", ErrInvalidData, err)
	}
	return out, nil
}

// decodeJSON parses exactly one JSON value, numbers kept as json.Number.
func decodeJSON(value json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", ErrInvalidData, err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("%w: more than one JSON value", ErrInvalidData)
	}
	return v, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func mismatch(want string, v any) error {
	return fmt.Errorf("expected %s, got %s", want, jsonType(v))
}

// jsonInteger reads an integral JSON number (1, -3, 1e3, 2.0).
func jsonInteger(v any, min, max int64) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, mismatch("an integer", v)
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		if i < min || i > max {
			return 0, fmt.Errorf("%s out of range", n)
		}
		return i, nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f != math.Trunc(f) || f < float64(min) || f >= -float64(math.MinInt64) || f > float64(max) {
		return 0, fmt.Errorf("%s is not an integer in range", n)
	}
	return int64(f), nil
}

// jsonFloat reads a JSON number, or "NaN", "Infinity" or "-Infinity" as
// Avro's JsonDecoder accepts them.
func jsonFloat(v any) (float64, error) {
	switch t := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("bad number %s", t)
		}
		return f, nil
	case string:
		switch t {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
	}
	return 0, mismatch("a number", v)
}

// latin1 reads a JSON string of ISO-8859-1 characters as bytes.
func latin1(v any) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return nil, mismatch("a string (bytes as ISO-8859-1 characters)", v)
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF {
			return nil, fmt.Errorf("character %q is not ISO-8859-1 (bytes are one character per byte, \\u0000-\\u00ff)", r)
		}
		b = append(b, byte(r))
	}
	return b, nil
}

func appendAvro(out []byte, s avro.Schema, v any, depth int) ([]byte, error) {
	if depth > maxAvroDepth {
		return nil, fmt.Errorf("values nest deeper than %d", maxAvroDepth)
	}
	s = deref(s)
	switch s.Type() {
	case avro.Null:
		if v != nil {
			return nil, mismatch("null", v)
		}
		return out, nil
	case avro.Boolean:
		b, ok := v.(bool)
		if !ok {
			return nil, mismatch("a boolean", v)
		}
		if b {
			return append(out, 1), nil
		}
		return append(out, 0), nil
	case avro.Int:
		i, err := jsonInteger(v, math.MinInt32, math.MaxInt32)
		if err != nil {
			return nil, err
		}
		return binary.AppendVarint(out, i), nil
	case avro.Long:
		i, err := jsonInteger(v, math.MinInt64, math.MaxInt64)
		if err != nil {
			return nil, err
		}
		return binary.AppendVarint(out, i), nil
	case avro.Float:
		f, err := jsonFloat(v)
		if err != nil {
			return nil, err
		}
		return binary.LittleEndian.AppendUint32(out, math.Float32bits(float32(f))), nil
	case avro.Double:
		f, err := jsonFloat(v)
		if err != nil {
			return nil, err
		}
		return binary.LittleEndian.AppendUint64(out, math.Float64bits(f)), nil
	case avro.String:
		str, ok := v.(string)
		if !ok {
			return nil, mismatch("a string", v)
		}
		out = binary.AppendVarint(out, int64(len(str)))
		return append(out, str...), nil
	case avro.Bytes:
		b, err := latin1(v)
		if err != nil {
			return nil, err
		}
		out = binary.AppendVarint(out, int64(len(b)))
		return append(out, b...), nil
	case avro.Fixed:
		b, err := latin1(v)
		if err != nil {
			return nil, err
		}
		if size := s.(*avro.FixedSchema).Size(); len(b) != size {
			return nil, fmt.Errorf("fixed %s needs %d bytes, got %d", branchName(s), size, len(b))
		}
		return append(out, b...), nil
	case avro.Enum:
		str, ok := v.(string)
		if !ok {
			return nil, mismatch("an enum symbol string", v)
		}
		i := slices.Index(s.(*avro.EnumSchema).Symbols(), str)
		if i < 0 {
			return nil, fmt.Errorf("%q is not a symbol of enum %s", str, branchName(s))
		}
		return binary.AppendVarint(out, int64(i)), nil
	case avro.Array:
		items, ok := v.([]any)
		if !ok {
			return nil, mismatch("an array", v)
		}
		if len(items) > 0 {
			out = binary.AppendVarint(out, int64(len(items)))
			for i, item := range items {
				var err error
				if out, err = appendAvro(out, s.(*avro.ArraySchema).Items(), item, depth+1); err != nil {
					return nil, fmt.Errorf("[%d]: %w", i, err)
				}
			}
		}
		return append(out, 0), nil
	case avro.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, mismatch("an object", v)
		}
		if len(m) > 0 {
			out = binary.AppendVarint(out, int64(len(m)))
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				out = binary.AppendVarint(out, int64(len(k)))
				out = append(out, k...)
				var err error
				if out, err = appendAvro(out, s.(*avro.MapSchema).Values(), m[k], depth+1); err != nil {
					return nil, fmt.Errorf("%q: %w", k, err)
				}
			}
		}
		return append(out, 0), nil
	case avro.Union:
		return appendAvroUnion(out, s.(*avro.UnionSchema), v, depth)
	case avro.Record, avro.Error:
		return appendAvroRecord(out, s.(*avro.RecordSchema), v, depth)
	}
	return nil, fmt.Errorf("unsupported schema type %s", s.Type())
}

// appendAvroUnion writes a union value as Avro's JsonDecoder reads it:
// null bare, any other branch as {"<branch's full name>": value}.
func appendAvroUnion(out []byte, u *avro.UnionSchema, v any, depth int) ([]byte, error) {
	branches := u.Types()
	names := make([]string, len(branches))
	for i, b := range branches {
		names[i] = branchName(b)
	}
	if v == nil {
		i := slices.Index(names, "null")
		if i < 0 {
			return nil, fmt.Errorf("null is not a branch of union %v", names)
		}
		return binary.AppendVarint(out, int64(i)), nil
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return nil, fmt.Errorf("a union's non-null value must be an object with one key, the branch (one of %s), got %s",
			strings.Join(names, ", "), jsonType(v))
	}
	for k, inner := range m {
		i := slices.Index(names, k)
		if i < 0 || k == "null" {
			return nil, fmt.Errorf("%q is not a branch of union %v", k, names)
		}
		out = binary.AppendVarint(out, int64(i))
		var err error
		if out, err = appendAvro(out, branches[i], inner, depth+1); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	return out, nil
}

// appendAvroRecord writes a record: every field present (by name or an
// alias), no unknown keys, as Avro's JsonDecoder requires.
func appendAvroRecord(out []byte, rec *avro.RecordSchema, v any, depth int) ([]byte, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, mismatch("an object (record "+rec.FullName()+")", v)
	}
	used := 0
	for _, f := range rec.Fields() {
		fv, ok := m[f.Name()]
		if !ok {
			for _, alias := range f.Aliases() {
				if fv, ok = m[alias]; ok {
					break
				}
			}
		}
		if !ok {
			return nil, fmt.Errorf("field %q of record %s is missing", f.Name(), rec.FullName())
		}
		used++
		var err error
		if out, err = appendAvro(out, f.Type(), fv, depth+1); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name(), err)
		}
	}
	if used != len(m) {
		for k := range m {
			if !slices.ContainsFunc(rec.Fields(), func(f *avro.Field) bool {
				return f.Name() == k || slices.Contains(f.Aliases(), k)
			}) {
				return nil, fmt.Errorf("record %s has no field %q", rec.FullName(), k)
			}
		}
	}
	return out, nil
}
