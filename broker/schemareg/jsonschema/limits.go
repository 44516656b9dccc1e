package jsonschema

// Regular expressions: Go's regexp matches in linear time, but compiling
// costs the size of the program, which a repetition multiplies (a{1000}
// is a thousand instructions). Confluent's Everit compiles each pattern
// of a schema; so does the compiler here, more than once. An 8 MB literal
// pattern took 7.4 s, 20,000 copies of [a-z]{50} 0.8 s. The patterns of a
// schema and its references together may have at most maxPatternProgram
// instructions (as regexp/syntax would compile them), checked before
// anything compiles them, and their text at most maxPatternBytes (parsing
// a 3 MB alternation took 5.3 s).

import (
	"regexp/syntax"
)

const (
	maxPatternProgram = 500_000
	maxPatternBytes   = 256 << 10
)

const patternMessage = "Invalid JSON schema: its regular expressions (pattern, patternProperties) are longer than %d bytes or compile to more than %d instructions"

// patternCost adds the program sizes of the patterns in doc (a decoded
// JSON document) to *total and reports whether it stays within
// maxPatternProgram. Texts that regexp/syntax cannot parse cost their
// length (the compiler reports them).
func patternCost(doc any, total, bytes *int) bool {
	add := func(p string) bool {
		if *bytes += len(p); *bytes > maxPatternBytes {
			return false
		}
		re, err := syntax.Parse(p, syntax.Perl)
		if err != nil {
			*total += len(p)
		} else {
			*total += programSize(re)
		}
		return *total <= maxPatternProgram
	}
	switch v := doc.(type) {
	case map[string]any:
		if p, ok := v["pattern"].(string); ok && !add(p) {
			return false
		}
		if pp, ok := v["patternProperties"].(map[string]any); ok {
			for p := range pp {
				if !add(p) {
					return false
				}
			}
		}
		for _, sub := range v {
			if !patternCost(sub, total, bytes) {
				return false
			}
		}
	case []any:
		for _, sub := range v {
			if !patternCost(sub, total, bytes) {
				return false
			}
		}
	}
	return true
}

// programSize estimates the instructions regexp compiles re into
// (repetitions expanded), saturating at maxPatternProgram+1.
func programSize(re *syntax.Regexp) int {
	const limit = maxPatternProgram + 1
	sat := func(n int) int { return min(n, limit) }
	switch re.Op {
	case syntax.OpLiteral:
		return sat(len(re.Rune) + 1)
	case syntax.OpConcat, syntax.OpAlternate:
		n := 1
		for _, s := range re.Sub {
			n = sat(n + programSize(s) + 1)
		}
		return n
	case syntax.OpCapture, syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		return sat(programSize(re.Sub[0]) + 2)
	case syntax.OpRepeat:
		count := re.Max
		if count < 0 {
			count = re.Min + 1
		}
		return sat(max(count, 1)*programSize(re.Sub[0]) + 2)
	}
	return 1
}
