package sasl

import (
	"errors"
	"fmt"
	"strings"
)

// JAASEntry is one login module of a Kafka JAAS configuration
// (sasl.jaas.config): `<class> <flag> key=value ... ;`.
type JAASEntry struct {
	LoginModule string // e.g. org.apache.kafka.common.security.plain.PlainLoginModule
	Control     string // required, requisite, sufficient or optional
	Options     map[string]string
}

// Kafka's login modules, one per mechanism family.
const (
	PlainLoginModule       = "org.apache.kafka.common.security.plain.PlainLoginModule"
	ScramLoginModule       = "org.apache.kafka.common.security.scram.ScramLoginModule"
	OAuthBearerLoginModule = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
)

// LoginModuleFor is the login module Kafka requires for mechanism.
func LoginModuleFor(mechanism string) string {
	switch mechanism {
	case Plain:
		return PlainLoginModule
	case ScramSHA256, ScramSHA512:
		return ScramLoginModule
	case OAuthBearer:
		return OAuthBearerLoginModule
	}
	return ""
}

// PlainUsers returns the PLAIN users of a PlainLoginModule entry: its
// options user_NAME="password".
func (e JAASEntry) PlainUsers() map[string]string {
	users := map[string]string{}
	for k, v := range e.Options {
		if name, ok := strings.CutPrefix(k, "user_"); ok && name != "" {
			users[name] = v
		}
	}
	return users
}

// ErrJAAS is wrapped by every JAAS parse error. Errors never quote option
// values (they hold passwords).
var ErrJAAS = errors.New("sasl: bad JAAS config")

// ParseJAAS parses a JAAS configuration value as Kafka's JaasConfig does:
// one or more `LoginModuleClass controlFlag (key=value)* ;` entries; values
// are bare words or single- or double-quoted strings with backslash
// escapes; `//` and `/* */` comments are skipped.
func ParseJAAS(s string) ([]JAASEntry, error) {
	toks, err := jaasTokens(s)
	if err != nil {
		return nil, err
	}
	var out []JAASEntry
	for len(toks) > 0 {
		if len(toks) < 2 || toks[0].punct != 0 || toks[1].punct != 0 || toks[0].quoted || toks[1].quoted {
			return nil, fmt.Errorf("%w: want `LoginModule controlFlag options ;`", ErrJAAS)
		}
		e := JAASEntry{LoginModule: toks[0].text, Control: strings.ToLower(toks[1].text), Options: map[string]string{}}
		switch e.Control {
		case "required", "requisite", "sufficient", "optional":
		default:
			return nil, fmt.Errorf("%w: login module control flag %q: want required, requisite, sufficient or optional", ErrJAAS, toks[1].text)
		}
		toks = toks[2:]
		for {
			if len(toks) == 0 {
				return nil, fmt.Errorf("%w: login module %s: missing ';'", ErrJAAS, e.LoginModule)
			}
			if toks[0].punct == ';' {
				toks = toks[1:]
				break
			}
			if len(toks) < 3 || toks[0].punct != 0 || toks[1].punct != '=' || toks[2].punct != 0 {
				return nil, fmt.Errorf("%w: login module %s: want key=value options", ErrJAAS, e.LoginModule)
			}
			e.Options[toks[0].text] = toks[2].text
			toks = toks[3:]
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no login module", ErrJAAS)
	}
	return out, nil
}

type jaasToken struct {
	text   string
	punct  byte // '=' or ';' for those, 0 for a word or a string
	quoted bool
}

func jaasTokens(s string) ([]jaasToken, error) {
	var out []jaasToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.HasPrefix(s[i:], "//"):
			if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(s)
			}
		case strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("%w: unterminated comment", ErrJAAS)
			}
			i += j + 4
		case c == '=' || c == ';':
			out = append(out, jaasToken{punct: c})
			i++
		case c == '"' || c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
					switch s[j] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case 'r':
						b.WriteByte('\r')
					default:
						b.WriteByte(s[j])
					}
					continue
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("%w: unterminated quoted value", ErrJAAS)
			}
			out = append(out, jaasToken{text: b.String(), quoted: true})
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n=;\"'", rune(s[j])) && !strings.HasPrefix(s[j:], "//") && !strings.HasPrefix(s[j:], "/*") {
				j++
			}
			out = append(out, jaasToken{text: s[i:j]})
			i = j
		}
	}
	return out, nil
}
