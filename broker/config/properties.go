package config

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// property is one key=value of a properties file. Line is the 1-based line
// where its logical line starts.
type property struct {
	Key, Value string
	Line       int
}

// parseProperties parses text in java.util.Properties syntax:
//
//   - natural lines end in \n, \r or \r\n; a line ending in an odd number of
//     backslashes continues on the next, whose leading whitespace is dropped;
//   - a line whose first non-blank character is # or ! is a comment (comment
//     lines do not continue);
//   - the key runs to the first unescaped '=', ':' or whitespace; whitespace
//     and then one '=' or ':' and more whitespace separate it from the value;
//   - \t \n \r \f \uXXXX are escapes, and a backslash before any other
//     character stands for that character (so \= \: \# \  and \\ work).
//
// Duplicate keys are all returned, in order; the caller lets the last win.
// name is only used in error messages.
func parseProperties(name, text string) ([]property, error) {
	var out []property
	lines := splitNaturalLines(text)
	for i := 0; i < len(lines); i++ {
		start := i + 1
		line := strings.TrimLeft(lines[i], " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		// Join continuation lines.
		var logical strings.Builder
		for {
			cont := endsWithOddBackslashes(line)
			if !cont {
				logical.WriteString(line)
				break
			}
			logical.WriteString(line[:len(line)-1])
			i++
			if i >= len(lines) {
				break
			}
			line = strings.TrimLeft(lines[i], " \t\f")
		}
		key, value, err := splitKeyValue(logical.String())
		if err != nil {
			return nil, fmt.Errorf("config: %s (line %d): %w", name, start, err)
		}
		out = append(out, property{Key: key, Value: value, Line: start})
	}
	return out, nil
}

func splitNaturalLines(text string) []string {
	var lines []string
	for len(text) > 0 {
		j := strings.IndexAny(text, "\r\n")
		if j < 0 {
			lines = append(lines, text)
			break
		}
		lines = append(lines, text[:j])
		if text[j] == '\r' && j+1 < len(text) && text[j+1] == '\n' {
			j++
		}
		text = text[j+1:]
	}
	return lines
}

func endsWithOddBackslashes(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitKeyValue splits a logical line (leading whitespace already removed)
// into its unescaped key and value.
func splitKeyValue(s string) (key, value string, err error) {
	// Find the end of the key: first unescaped '=', ':' or whitespace.
	end := len(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' {
			i++
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			end = i
			break
		}
	}
	rawKey := s[:end]
	rest := s[end:]
	rest = strings.TrimLeft(rest, " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	if key, err = unescape(rawKey); err != nil {
		return "", "", err
	}
	if value, err = unescape(rest); err != nil {
		return "", "", err
	}
	return key, value, nil
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			break // a lone trailing backslash stands for nothing, as in Java
		}
		switch c = s[i]; c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			r, ok := hex4(safeSlice(s, i+1, i+5))
			if !ok {
				return "", fmt.Errorf(`malformed \uXXXX escape %q`, s[i-1:min(i+5, len(s))])
			}
			i += 4
			// A UTF-16 surrogate pair written as two escapes.
			if r >= 0xD800 && r < 0xDC00 && strings.HasPrefix(s[i+1:], `\u`) {
				if lo, ok := hex4(safeSlice(s, i+3, i+7)); ok && lo >= 0xDC00 && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				}
			}
			if !utf8.ValidRune(r) {
				r = utf8.RuneError
			}
			b.WriteRune(r)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func safeSlice(s string, i, j int) string {
	if i < 0 || j > len(s) || i > j {
		return ""
	}
	return s[i:j]
}

func hex4(s string) (rune, bool) {
	if len(s) != 4 {
		return 0, false
	}
	var r rune
	for i := 0; i < 4; i++ {
		c := s[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}
