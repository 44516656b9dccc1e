package serde

import (
	"math"
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string; bytes that are not UTF-8
// become U+FFFD (as Java's decoders replace them).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			b = appendJSONRune(b, rune(c))
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		b = appendJSONRune(b, r) // RuneError for invalid bytes
		i += size
	}
	return append(b, '"')
}

// appendLatin1JSON appends bytes as Avro's JSON encoding writes bytes and
// fixed: a string with one ISO-8859-1 character per byte.
func appendLatin1JSON(b []byte, data []byte) []byte {
	b = append(b, '"')
	for _, c := range data {
		b = appendJSONRune(b, rune(c))
	}
	return append(b, '"')
}

func appendJSONRune(b []byte, r rune) []byte {
	switch {
	case r == '"' || r == '\\':
		return append(b, '\\', byte(r))
	case r == '\n':
		return append(b, '\\', 'n')
	case r == '\r':
		return append(b, '\\', 'r')
	case r == '\t':
		return append(b, '\\', 't')
	case r < 0x20, r == 0x7f, r == 0x2028, r == 0x2029:
		return append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
	case r < utf8.RuneSelf:
		return append(b, byte(r))
	}
	return utf8.AppendRune(b, r)
}

// appendJSONFloat appends f as a JSON number, NaN and the infinities as
// the strings Jackson writes for them ("NaN", "Infinity", "-Infinity").
func appendJSONFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}
