package tlsconf

import (
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/moldau/moldau/protocol"
)

// ErrNoRule: no ssl.principal.mapping.rules rule applies to a DN (Kafka
// then refuses the connection).
var ErrNoRule = errors.New("tlsconf: no principal mapping rule applies")

// Rule is one rule of ssl.principal.mapping.rules, Kafka's syntax:
//
//	RULE:pattern/replacement/[LU]   pattern must match the whole DN; the
//	                                 replacement ($1 for groups) is the name,
//	                                 lower- (L) or upper-cased (U)
//	DEFAULT                          the DN itself
//
// Rules are separated by commas (a pattern may contain commas) and tried
// in order; the first that matches gives the principal's name.
type Rule struct {
	isDefault bool
	full      *regexp.Regexp // the pattern anchored: must match the whole DN
	pattern   *regexp.Regexp
	repl      string // in Go's Expand syntax
	lower     bool
	upper     bool
}

// ParseRules parses ssl.principal.mapping.rules.
func ParseRules(s string) ([]Rule, error) {
	var rules []Rule
	i := 0
	skipSpace := func() {
		for i < len(s) && strings.ContainsRune(" \t\r\n", rune(s[i])) {
			i++
		}
	}
	// part reads up to an unescaped '/', keeping escapes as written.
	part := func() (string, bool) {
		start := i
		for i < len(s) {
			switch s[i] {
			case '\\':
				i += 2
				continue
			case '/':
				p := s[start:i]
				i++
				return p, true
			}
			i++
		}
		return "", false
	}
	for {
		skipSpace()
		if i >= len(s) {
			break
		}
		switch {
		case strings.HasPrefix(s[i:], "DEFAULT"):
			i += len("DEFAULT")
			rules = append(rules, Rule{isDefault: true})
		case strings.HasPrefix(s[i:], "RULE:"):
			i += len("RULE:")
			pat, ok1 := part()
			repl, ok2 := part()
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("rule at %d: want RULE:pattern/replacement/[LU]", i)
			}
			r := Rule{repl: javaReplacement(repl)}
			if i < len(s) && (s[i] == 'L' || s[i] == 'U') {
				r.lower, r.upper = s[i] == 'L', s[i] == 'U'
				i++
			}
			var err error
			if r.pattern, err = regexp.Compile(pat); err != nil {
				return nil, fmt.Errorf("pattern %q: %v", pat, err)
			}
			if r.full, err = regexp.Compile(`^(?:` + pat + `)$`); err != nil {
				return nil, fmt.Errorf("pattern %q: %v", pat, err)
			}
			rules = append(rules, r)
		default:
			return nil, fmt.Errorf("invalid rule %q: want DEFAULT or RULE:pattern/replacement/[LU]", strings.TrimSpace(s[i:]))
		}
		skipSpace()
		if i >= len(s) {
			break
		}
		if s[i] != ',' {
			return nil, fmt.Errorf("unexpected %q after a rule: rules are separated by commas", s[i:])
		}
		i++
	}
	if len(rules) == 0 {
		return nil, errors.New("no rules")
	}
	return rules, nil
}

// javaReplacement turns a Java Matcher replacement ($1, \x escapes) into
// Go's Expand template (${1}, $$).
func javaReplacement(r string) string {
	var b strings.Builder
	for i := 0; i < len(r); i++ {
		switch c := r[i]; {
		case c == '\\' && i+1 < len(r):
			i++
			if r[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(r[i])
			}
		case c == '$':
			j := i + 1
			for j < len(r) && r[j] >= '0' && r[j] <= '9' {
				j++
			}
			if j == i+1 {
				b.WriteString("$$")
				continue
			}
			b.WriteString("${" + r[i+1:j] + "}")
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// apply returns the rule's name for dn, and false when it does not match.
func (r Rule) apply(dn string) (string, bool) {
	if r.isDefault {
		return dn, true
	}
	if !r.full.MatchString(dn) {
		return "", false
	}
	// As Kafka: String.replaceAll with the pattern on the whole DN.
	out := r.pattern.ReplaceAllString(dn, r.repl)
	switch {
	case r.lower:
		out = strings.ToLower(out)
	case r.upper:
		out = strings.ToUpper(out)
	}
	return out, true
}

// MapDN applies rules to a DN (RFC 2253, as protocol.SubjectDN) and
// returns the name of the principal; errors match ErrNoRule.
func MapDN(rules []Rule, dn string) (string, error) {
	for _, r := range rules {
		if name, ok := r.apply(dn); ok {
			return name, nil
		}
	}
	return "", fmt.Errorf("%w to %q", ErrNoRule, dn)
}

// PrincipalFunc returns the protocol.ListenerConfig.Principal of rules:
// "User:" + the mapped subject DN of the leaf certificate.
func PrincipalFunc(rules []Rule) func([]*x509.Certificate) (string, error) {
	return func(chain []*x509.Certificate) (string, error) {
		name, err := MapDN(rules, protocol.SubjectDN(chain[0]))
		if err != nil {
			return "", err
		}
		return "User:" + name, nil
	}
}
