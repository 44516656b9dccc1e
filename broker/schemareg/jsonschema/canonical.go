package jsonschema

// The registry stores and compares a JSON schema in Confluent's canonical
// form: the text parsed by Jackson (floats as exact BigDecimals) and written
// back compactly with object keys in document order. Normalized() is the
// same with every object's keys sorted (Confluent's normalize() reads the
// canonical text with a sorting node factory). This file holds an
// order-keeping JSON tree and a writer that prints it the way Jackson does.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonValue is one of: nil, bool, string, json.Number, *jsonObject, []jsonValue.
type jsonValue = any

// jsonObject keeps its keys in document order. A duplicated key keeps its
// first position and its last value (as Jackson's ObjectNode.set does).
type jsonObject struct {
	keys []string
	vals map[string]jsonValue
}

// parseOrdered parses one JSON document, keeping object key order.
func parseOrdered(text string) (jsonValue, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	v, err := readValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the top-level value")
	}
	return v, nil
}

func readValue(dec *json.Decoder) (jsonValue, error) {
	tok, err := dec.Token()
	if err == io.EOF {
		return nil, errors.New("unexpected end of input")
	}
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := &jsonObject{vals: map[string]jsonValue{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key %v is not a string", kt)
				}
				v, err := readValue(dec)
				if err != nil {
					return nil, err
				}
				if _, dup := obj.vals[key]; !dup {
					obj.keys = append(obj.keys, key)
				}
				obj.vals[key] = v
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return obj, nil
		case '[':
			arr := []jsonValue{}
			for dec.More() {
				v, err := readValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return arr, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return tok, nil // nil, bool, string, json.Number
	}
}

// writeJackson prints v compactly as Jackson's ObjectMapper does; sorted
// sorts every object's keys (Confluent's normalize()).
func writeJackson(buf *bytes.Buffer, v jsonValue, sorted bool) {
	switch t := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(t))
	case string:
		writeJacksonString(buf, t)
	case json.Number:
		buf.WriteString(jacksonNumber(string(t)))
	case []jsonValue:
		buf.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJackson(buf, e, sorted)
		}
		buf.WriteByte(']')
	case *jsonObject:
		keys := t.keys
		if sorted {
			keys = append([]string(nil), keys...)
			sort.Strings(keys)
		}
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJacksonString(buf, k)
			buf.WriteByte(':')
			writeJackson(buf, t.vals[k], sorted)
		}
		buf.WriteByte('}')
	default:
		panic(fmt.Sprintf("jsonschema: unexpected JSON value %T", v))
	}
}

// writeJacksonString escapes as Jackson's default: '"', '\\' and control
// characters only (short forms for \b \t \n \f \r, \u00XX otherwise);
// everything else, '/' and non-ASCII included, is written as is.
func writeJacksonString(buf *bytes.Buffer, s string) {
	const hex = "0123456789ABCDEF"
	buf.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			buf.WriteRune(r)
			i += size
			continue
		}
		switch c {
		case '"':
			buf.WriteString(`\"`)
		case '\\':
			buf.WriteString(`\\`)
		case '\b':
			buf.WriteString(`\b`)
		case '\t':
			buf.WriteString(`\t`)
		case '\n':
			buf.WriteString(`\n`)
		case '\f':
			buf.WriteString(`\f`)
		case '\r':
			buf.WriteString(`\r`)
		default:
			if c < 0x20 {
				buf.WriteString(`\u00`)
				buf.WriteByte(hex[c>>4])
				buf.WriteByte(hex[c&0xF])
			} else {
				buf.WriteByte(c)
			}
		}
		i++
	}
	buf.WriteByte('"')
}

// jacksonNumber prints a JSON number literal as Jackson re-serializes it:
// an integer literal as its value (a BigInteger if large), a literal with a
// fraction or exponent as java.math.BigDecimal.toString() of the exact
// value (Confluent enables USE_BIG_DECIMAL_FOR_FLOATS with exact decimals):
// "1.50" stays "1.50", "1e2" becomes "1E+2", "1e-7" becomes "1E-7".
func jacksonNumber(lit string) string {
	if !strings.ContainsAny(lit, ".eE") {
		var n big.Int
		if _, ok := n.SetString(lit, 10); !ok {
			return lit
		}
		return n.String() // "-0" -> "0"
	}
	mant, exp := lit, 0
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		mant = lit[:i]
		e, err := strconv.Atoi(strings.TrimPrefix(lit[i+1:], "+"))
		if err != nil {
			return lit
		}
		exp = e
	}
	neg := strings.HasPrefix(mant, "-")
	mant = strings.TrimPrefix(mant, "-")
	intPart, frac, _ := strings.Cut(mant, ".")
	scale := len(frac) - exp
	var unscaled big.Int
	if _, ok := unscaled.SetString(intPart+frac, 10); !ok {
		return lit
	}
	coeff := unscaled.String() // no sign, no leading zeros ("0" for zero)
	if unscaled.Sign() == 0 {
		neg = false
	}
	adjusted := -scale + (len(coeff) - 1)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	if scale >= 0 && adjusted >= -6 {
		switch {
		case scale == 0:
			b.WriteString(coeff)
		case len(coeff) > scale:
			b.WriteString(coeff[:len(coeff)-scale])
			b.WriteByte('.')
			b.WriteString(coeff[len(coeff)-scale:])
		default:
			b.WriteString("0.")
			b.WriteString(strings.Repeat("0", scale-len(coeff)))
			b.WriteString(coeff)
		}
		return b.String()
	}
	b.WriteByte(coeff[0])
	if len(coeff) > 1 {
		b.WriteByte('.')
		b.WriteString(coeff[1:])
	}
	b.WriteByte('E')
	if adjusted > 0 {
		b.WriteByte('+')
	}
	b.WriteString(strconv.Itoa(adjusted))
	return b.String()
}
