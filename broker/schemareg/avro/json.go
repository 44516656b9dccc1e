package avro

// An order-preserving JSON tree, because Avro's Java parser keeps a
// schema's properties in the order they were written (Jackson's ObjectNode
// is a LinkedHashMap) and Schema.toString() writes them back in that order.
// encoding/json's map decoding would lose it.
//
// Jackson's behaviour that matters here and is reproduced:
//   - a duplicate key keeps its first position and takes the last value;
//   - integers are written back as their digits, other numbers as Java's
//     Double.toString (1.0, 1.0E10, 1.0E-4);
//   - strings are escaped minimally (", \, control characters), not HTML.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
)

type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

// jsonValue is one JSON value. Number keeps its literal (for integers) or
// its float64 (for others): isInt says which.
type jsonValue struct {
	kind   jsonKind
	b      bool
	str    string // jsonString
	num    string // jsonNumber: the literal as written
	isInt  bool   // jsonNumber: an integral literal (no '.', 'e' or 'E')
	f      float64
	arr    []*jsonValue
	keys   []string // jsonObject, in first-seen order
	values map[string]*jsonValue
}

func (v *jsonValue) get(key string) *jsonValue {
	if v == nil || v.kind != jsonObject {
		return nil
	}
	return v.values[key]
}

// text is Jackson's JsonNode.textValue(): the string, or "" and false for
// any other kind.
func (v *jsonValue) text() (string, bool) {
	if v == nil || v.kind != jsonString {
		return "", false
	}
	return v.str, true
}

func (v *jsonValue) set(key string, val *jsonValue) {
	if _, ok := v.values[key]; !ok {
		v.keys = append(v.keys, key)
	}
	v.values[key] = val
}

func newObject() *jsonValue {
	return &jsonValue{kind: jsonObject, values: map[string]*jsonValue{}}
}

func jsonStr(s string) *jsonValue { return &jsonValue{kind: jsonString, str: s} }

func jsonInt(n int64) *jsonValue {
	return &jsonValue{kind: jsonNumber, isInt: true, num: strconv.FormatInt(n, 10)}
}

func jsonFloat(f float64) *jsonValue { return &jsonValue{kind: jsonNumber, f: f} }

// parseJSON decodes exactly one JSON value (trailing content is an error,
// as the Avro parser's "dangling content after end of schema").
func parseJSON(s string) (*jsonValue, error) {
	s, err := stripComments(s)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	tok, err := dec.Token()
	if err == io.EOF {
		return nil, errors.New("no content to parse")
	}
	if err != nil {
		return nil, err
	}
	v, err := decodeFrom(dec, tok)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("dangling content after end of schema")
	}
	return v, nil
}

// stripComments removes /* */ and // comments outside strings: Avro's
// parser enables Jackson's ALLOW_COMMENTS, so .avsc files may carry them.
func stripComments(s string) (string, error) {
	if !strings.Contains(s, "/") {
		return s, nil
	}
	var b strings.Builder
	inString := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inString:
			b.WriteByte(c)
			if c == '\\' && i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
			b.WriteByte(c)
		case c == '/' && strings.HasPrefix(s[i:], "//"):
			end := strings.IndexByte(s[i:], '\n')
			if end < 0 {
				return b.String(), nil
			}
			i += end - 1
			b.WriteByte(' ')
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return "", errors.New("unexpected end-of-input in a comment")
			}
			i += end + 3
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func decodeValue(dec *json.Decoder) (*jsonValue, error) {
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("unexpected end-of-input")
		}
		return nil, err
	}
	return decodeFrom(dec, tok)
}

func decodeFrom(dec *json.Decoder, tok json.Token) (*jsonValue, error) {
	switch t := tok.(type) {
	case nil:
		return &jsonValue{kind: jsonNull}, nil
	case bool:
		return &jsonValue{kind: jsonBool, b: t}, nil
	case string:
		return jsonStr(t), nil
	case json.Number:
		return numberValue(string(t))
	case json.Delim:
		switch t {
		case '[':
			arr := &jsonValue{kind: jsonArray}
			for dec.More() {
				e, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				arr.arr = append(arr.arr, e)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return arr, nil
		case '{':
			obj := newObject()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("unexpected %v", kt)
				}
				val, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				obj.set(key, val)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return obj, nil
		}
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

func numberValue(lit string) (*jsonValue, error) {
	if !strings.ContainsAny(lit, ".eE") {
		// Jackson writes integers back as their value: "-0" is 0.
		n, ok := new(big.Int).SetString(lit, 10)
		if !ok {
			return nil, fmt.Errorf("bad number %q", lit)
		}
		return &jsonValue{kind: jsonNumber, isInt: true, num: n.String()}, nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, err
	}
	return jsonFloat(f), nil
}

// intValue is the integer if it fits in bits (Jackson's canConvertToInt /
// canConvertToLong on an integral node).
func (v *jsonValue) fitsInt(bits int) bool {
	if v.kind != jsonNumber || !v.isInt {
		return false
	}
	_, err := strconv.ParseInt(v.num, 10, bits)
	return err == nil
}

// String is the compact JSON Jackson writes.
func (v *jsonValue) String() string {
	var b bytes.Buffer
	v.write(&b)
	return b.String()
}

func (v *jsonValue) write(b *bytes.Buffer) {
	switch v.kind {
	case jsonNull:
		b.WriteString("null")
	case jsonBool:
		b.WriteString(strconv.FormatBool(v.b))
	case jsonNumber:
		if v.isInt {
			b.WriteString(v.num)
		} else {
			b.WriteString(javaDouble(v.f))
		}
	case jsonString:
		writeJSONString(b, v.str)
	case jsonArray:
		b.WriteByte('[')
		for i, e := range v.arr {
			if i > 0 {
				b.WriteByte(',')
			}
			e.write(b)
		}
		b.WriteByte(']')
	case jsonObject:
		b.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k)
			b.WriteByte(':')
			v.values[k].write(b)
		}
		b.WriteByte('}')
	}
}

// writeJSONString escapes as Jackson's default generator: '"', '\\' and
// control characters below 0x20 (as \n, \t, ... or \u00XX); everything
// else, '/' and non-ASCII included, is written as is.
func writeJSONString(b *bytes.Buffer, s string) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\f':
			b.WriteString(`\f`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xF])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// javaDouble formats f as Java's Double.toString: the shortest digits that
// round-trip, decimal notation for 1e-3 <= |f| < 1e7 (always with a
// fractional part), otherwise d.dddE±n. NaN and infinities are written as
// quoted strings, as Jackson does by default.
func javaDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return `"NaN"`
	case math.IsInf(f, 1):
		return `"Infinity"`
	case math.IsInf(f, -1):
		return `"-Infinity"`
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	abs := math.Abs(f)
	if abs >= 1e-3 && abs < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // e.g. 1.2345e+10, 1e-05
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	n, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(n)
}
