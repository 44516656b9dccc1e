package protocol

import (
	"encoding/asn1"
	"encoding/hex"
	"strings"
	"unicode/utf16"
)

// The RFC 2253 rendering of a certificate subject as Java's
// X500Principal.getName() gives it (Kafka's SSL principal before mapping):
// RDNs in reverse order of the encoding (most specific first), separated by
// ","; the attributes of a multi-valued RDN joined by "+"; keywords only for
// CN, C, L, ST, O, OU, STREET, DC and UID, every other type as its dotted OID
// with "#" and the hex of the value's DER encoding.

type rawATV struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// rawRDNSET is one RDN (encoding/asn1 treats a type named ...SET as SET OF).
type rawRDNSET []rawATV

var dnKeywords = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.9":                    "STREET",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
}

// formatDN renders a DER-encoded Name; "" when it does not parse.
func formatDN(raw []byte) string {
	var seq []rawRDNSET
	if rest, err := asn1.Unmarshal(raw, &seq); err != nil || len(rest) > 0 {
		return ""
	}
	var b strings.Builder
	for i := len(seq) - 1; i >= 0; i-- {
		if i != len(seq)-1 {
			b.WriteByte(',')
		}
		for j, atv := range seq[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			oid := atv.Type.String()
			kw, ok := dnKeywords[oid]
			s, isString := asn1String(atv.Value)
			if !ok || !isString {
				b.WriteString(oid)
				b.WriteString("=#")
				b.WriteString(hex.EncodeToString(atv.Value.FullBytes))
				continue
			}
			b.WriteString(kw)
			b.WriteByte('=')
			b.WriteString(escapeDNValue(s))
		}
	}
	return b.String()
}

// asn1String decodes the string types a DN attribute uses.
func asn1String(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal {
		return "", false
	}
	switch v.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagT61String, asn1.TagNumericString:
		return string(v.Bytes), true
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return "", false
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		return string(utf16.Decode(u)), true
	}
	return "", false
}

// escapeDNValue escapes as RFC 2253 section 2.4: the specials with a
// backslash, a leading '#' or space and a trailing space.
func escapeDNValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strings.IndexByte(",+\"\\<>;", c) >= 0,
			i == 0 && (c == '#' || c == ' '),
			i == len(s)-1 && c == ' ':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}
