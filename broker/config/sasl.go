package config

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moldau/moldau/broker/sasl"
)

// SASLConfig is the sasl part of Security (security.go): Kafka's keys
//
//	sasl.enabled.mechanisms, listener.name.<l>.sasl.enabled.mechanisms
//	sasl.jaas.config, listener.name.<l>.<mechanism>.sasl.jaas.config
//	sasl.oauthbearer.{jwks.endpoint.url, jwks.endpoint.refresh.ms,
//	  expected.audience, expected.issuer, sub.claim.name, scope.claim.name,
//	  clock.skew.seconds} (also as listener.name.<l>.oauthbearer.<key>)
//	sasl.server.callback.handler.class (also listener.name.<l>.oauthbearer.)
//	connections.max.reauth.ms, listener.name.<l>[.<mechanism>].connections.max.reauth.ms
//	connection.failed.authentication.delay.ms
//
// and the --add-scram flag (kafka-storage format's syntax).
//
// Enabled mechanisms: Kafka's default for sasl.enabled.mechanisms is GSSAPI,
// which Moldau does not serve. Without the key (globally and for the
// listener), a SASL listener enables SCRAM-SHA-256 and SCRAM-SHA-512 (their
// credentials come from --add-scram and AlterUserScramCredentials), PLAIN
// when a PlainLoginModule JAAS config applies to the listener, and
// OAUTHBEARER when an OAuthBearerLoginModule JAAS config applies or a JWKS
// endpoint is configured. Naming a mechanism Moldau does not serve
// (GSSAPI) is a configuration error.
//
// JAAS: a listener's mechanism uses listener.name.<l>.<mechanism>.sasl.jaas.config,
// else sasl.jaas.config when its login module is the mechanism's. The
// SCRAM line (`ScramLoginModule required;`) is accepted as is and not
// required. Listener names are matched case-insensitively (Kafka's are
// lower case in the prefix).
type SASLConfig struct {
	// Mechanisms is sasl.enabled.mechanisms; nil when unset.
	Mechanisms []string
	// ListenerMechanisms: listener.name.<l>.sasl.enabled.mechanisms, by
	// lower-case listener name.
	ListenerMechanisms map[string][]string
	// JAAS: sasl.jaas.config under "", and
	// listener.name.<l>.<mech>.sasl.jaas.config under "<l>/<MECH>" (lower
	// case listener, upper case mechanism).
	JAAS map[string]sasl.JAASEntry
	// OAuth: the sasl.oauthbearer.* and callback handler keys under "",
	// and their listener.name.<l>.oauthbearer. forms under "<l>".
	OAuth map[string]OAuthBearerConfig
	// MaxReauth is connections.max.reauth.ms (KIP-368); 0: off (Kafka's
	// default). ListenerMaxReauth: the listener (and mechanism) forms,
	// under "<l>" and "<l>/<MECH>".
	MaxReauth         time.Duration
	ListenerMaxReauth map[string]time.Duration
	// ScramUsers are the --add-scram bootstrap credentials, salted.
	ScramUsers []ScramUser
	// FailedAuthDelay is connection.failed.authentication.delay.ms when
	// FailedAuthDelaySet; AuthFailureDelay applies Kafka's default.
	FailedAuthDelay    time.Duration
	FailedAuthDelaySet bool
}

// AuthFailureDelay is how long the answer to a failed authentication (and
// the close after it) is held back: connection.failed.authentication.delay.ms,
// default 100 ms.
func (s *SASLConfig) AuthFailureDelay() time.Duration {
	if s.FailedAuthDelaySet {
		return s.FailedAuthDelay
	}
	return defaultFailedAuthDelay
}

// defaultFailedAuthDelay is Kafka's connection.failed.authentication.delay.ms.
const defaultFailedAuthDelay = 100 * time.Millisecond

// OAuthBearerConfig is one scope's (global or a listener's) OAUTHBEARER
// server settings; zero values mean "not set here".
type OAuthBearerConfig struct {
	JWKSURL          string        // sasl.oauthbearer.jwks.endpoint.url
	JWKSRefresh      time.Duration // sasl.oauthbearer.jwks.endpoint.refresh.ms
	ExpectedAudience []string      // sasl.oauthbearer.expected.audience
	ExpectedIssuer   string        // sasl.oauthbearer.expected.issuer
	SubClaimName     string        // sasl.oauthbearer.sub.claim.name
	ScopeClaimName   string        // sasl.oauthbearer.scope.claim.name
	ClockSkew        time.Duration // sasl.oauthbearer.clock.skew.seconds
	ClockSkewSet     bool
	CallbackHandler  string // sasl.server.callback.handler.class
}

// ScramUser is one --add-scram credential.
type ScramUser struct {
	User       string
	Credential sasl.ScramCredential
}

// Kafka's validator callback handler class: naming it selects JWKS
// validation (Moldau selects it too whenever a JWKS endpoint is set).
const oauthValidatorHandler = "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler"

var oauthKeys = []string{
	"sasl.oauthbearer.jwks.endpoint.url", "sasl.oauthbearer.jwks.endpoint.refresh.ms",
	"sasl.oauthbearer.expected.audience", "sasl.oauthbearer.expected.issuer",
	"sasl.oauthbearer.sub.claim.name", "sasl.oauthbearer.scope.claim.name",
	"sasl.oauthbearer.clock.skew.seconds", "sasl.server.callback.handler.class",
}

// saslKey classifies key: scope is "" for a global key or the lower-case
// listener name, mech the upper-case mechanism of a mechanism-prefixed key,
// base the key without its prefixes.
func saslKey(key string) (scope, mech, base string, ok bool) {
	base = key
	if rest, found := strings.CutPrefix(key, "listener.name."); found {
		l, after, found := strings.Cut(rest, ".")
		if !found || l == "" {
			return "", "", "", false
		}
		scope, base = strings.ToLower(l), after
		for _, m := range sasl.Mechanisms {
			if r, found := strings.CutPrefix(base, strings.ToLower(m)+"."); found {
				mech, base = m, r
				break
			}
		}
	}
	switch {
	case base == "sasl.enabled.mechanisms":
		return scope, "", base, mech == ""
	case base == "sasl.jaas.config":
		return scope, mech, base, (scope == "") == (mech == "")
	case base == "connections.max.reauth.ms":
		return scope, mech, base, true
	case base == "connection.failed.authentication.delay.ms":
		return scope, mech, base, scope == ""
	case slices.Contains(oauthKeys, base):
		return scope, mech, base, scope == "" && mech == "" || mech == sasl.OAuthBearer
	}
	return "", "", "", false
}

func saslHandles(key string) bool {
	_, _, _, ok := saslKey(key)
	return ok
}

func parseSASL(c *Config, props map[string]string) error {
	s := SASLConfig{
		ListenerMechanisms: map[string][]string{},
		JAAS:               map[string]sasl.JAASEntry{},
		OAuth:              map[string]OAuthBearerConfig{},
		ListenerMaxReauth:  map[string]time.Duration{},
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		scope, mech, base, ok := saslKey(k)
		if !ok {
			continue
		}
		v := strings.TrimSpace(props[k])
		bad := func(reason string) error { return &InvalidConfigError{Name: k, Value: v, Reason: reason} }
		switch base {
		case "sasl.enabled.mechanisms":
			var ms []string
			for _, m := range strings.Split(v, ",") {
				m = strings.ToUpper(strings.TrimSpace(m))
				if m == "" {
					continue
				}
				if !slices.Contains(sasl.Mechanisms, m) {
					return bad(fmt.Sprintf("mechanism %s is not served by Moldau (it serves %s)", m, strings.Join(sasl.Mechanisms, ", ")))
				}
				if !slices.Contains(ms, m) {
					ms = append(ms, m)
				}
			}
			if ms == nil {
				ms = []string{}
			}
			if scope == "" {
				s.Mechanisms = ms
			} else {
				s.ListenerMechanisms[scope] = ms
			}
		case "sasl.jaas.config":
			// The value holds passwords: errors never show it.
			hidden := &InvalidConfigError{Name: k, Value: "[hidden]"}
			entries, err := sasl.ParseJAAS(v)
			if err != nil {
				hidden.Reason = err.Error()
				return hidden
			}
			if len(entries) != 1 {
				hidden.Reason = fmt.Sprintf("has %d login modules, want 1 (as Kafka)", len(entries))
				return hidden
			}
			e := entries[0]
			switch {
			case mech != "" && e.LoginModule != sasl.LoginModuleFor(mech):
				hidden.Reason = fmt.Sprintf("login module %s does not serve %s (want %s)", e.LoginModule, mech, sasl.LoginModuleFor(mech))
				return hidden
			case mech == "" && e.LoginModule != sasl.PlainLoginModule && e.LoginModule != sasl.ScramLoginModule && e.LoginModule != sasl.OAuthBearerLoginModule:
				hidden.Reason = fmt.Sprintf("login module %s is not one Moldau serves (PLAIN, SCRAM or OAUTHBEARER)", e.LoginModule)
				return hidden
			}
			if e.LoginModule == sasl.OAuthBearerLoginModule {
				if _, err := sasl.NewUnsecuredValidator(e.Options); err != nil {
					hidden.Reason = err.Error()
					return hidden
				}
			}
			if scope == "" {
				s.JAAS[""] = e
			} else {
				s.JAAS[scope+"/"+mech] = e
			}
		case "connection.failed.authentication.delay.ms":
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil || n < 0 {
				return bad("want a non-negative number of milliseconds")
			}
			s.FailedAuthDelay, s.FailedAuthDelaySet = time.Duration(n)*time.Millisecond, true
		case "connections.max.reauth.ms":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return bad("want a non-negative number of milliseconds")
			}
			d := time.Duration(n) * time.Millisecond
			switch {
			case scope == "":
				s.MaxReauth = d
			case mech == "":
				s.ListenerMaxReauth[scope] = d
			default:
				s.ListenerMaxReauth[scope+"/"+mech] = d
			}
		default: // an OAUTHBEARER key
			o := s.OAuth[scope]
			switch base {
			case "sasl.oauthbearer.jwks.endpoint.url":
				if !strings.HasPrefix(v, "file:") && !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
					return bad("want a file:, http:// or https:// URL")
				}
				o.JWKSURL = v
			case "sasl.oauthbearer.jwks.endpoint.refresh.ms":
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n <= 0 {
					return bad("want a positive number of milliseconds")
				}
				o.JWKSRefresh = time.Duration(n) * time.Millisecond
			case "sasl.oauthbearer.expected.audience":
				for _, a := range strings.Split(v, ",") {
					if a = strings.TrimSpace(a); a != "" {
						o.ExpectedAudience = append(o.ExpectedAudience, a)
					}
				}
			case "sasl.oauthbearer.expected.issuer":
				o.ExpectedIssuer = v
			case "sasl.oauthbearer.sub.claim.name":
				o.SubClaimName = v
			case "sasl.oauthbearer.scope.claim.name":
				o.ScopeClaimName = v
			case "sasl.oauthbearer.clock.skew.seconds":
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n < 0 {
					return bad("want a non-negative number of seconds")
				}
				o.ClockSkew, o.ClockSkewSet = time.Duration(n)*time.Second, true
			case "sasl.server.callback.handler.class":
				if v != oauthValidatorHandler && v != "org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler" {
					return bad("Moldau serves Kafka's OAuthBearerValidatorCallbackHandler (JWKS) and the unsecured validator only")
				}
				o.CallbackHandler = v
			}
			s.OAuth[scope] = o
		}
	}
	for scope, o := range s.OAuth {
		if o.CallbackHandler == oauthValidatorHandler && s.OAuthFor(scope).JWKSURL == "" {
			return &InvalidConfigError{Name: "sasl.oauthbearer.jwks.endpoint.url", Reason: "OAuthBearerValidatorCallbackHandler needs a JWKS endpoint"}
		}
	}
	s.ScramUsers = c.Security.SASL.ScramUsers // set by --add-scram before parseSecurity
	// Unset stays nil, so that a Config without SASL keys equals Default().
	if len(s.ListenerMechanisms) == 0 {
		s.ListenerMechanisms = nil
	}
	if len(s.JAAS) == 0 {
		s.JAAS = nil
	}
	if len(s.OAuth) == 0 {
		s.OAuth = nil
	}
	if len(s.ListenerMaxReauth) == 0 {
		s.ListenerMaxReauth = nil
	}
	c.Security.SASL = s
	return nil
}

// MechanismsFor returns the mechanisms enabled on listener (see the type's
// comment for the default).
func (s *SASLConfig) MechanismsFor(listener string) []string {
	l := strings.ToLower(listener)
	if ms, ok := s.ListenerMechanisms[l]; ok {
		return ms
	}
	if s.Mechanisms != nil {
		return s.Mechanisms
	}
	var ms []string
	if _, ok := s.JAASFor(listener, sasl.Plain); ok {
		ms = append(ms, sasl.Plain)
	}
	ms = append(ms, sasl.ScramSHA256, sasl.ScramSHA512)
	if _, ok := s.JAASFor(listener, sasl.OAuthBearer); ok || s.OAuthFor(listener).JWKSURL != "" {
		ms = append(ms, sasl.OAuthBearer)
	}
	return ms
}

// JAASFor returns the JAAS entry for mechanism on listener.
func (s *SASLConfig) JAASFor(listener, mechanism string) (sasl.JAASEntry, bool) {
	if e, ok := s.JAAS[strings.ToLower(listener)+"/"+mechanism]; ok {
		return e, true
	}
	if e, ok := s.JAAS[""]; ok && e.LoginModule == sasl.LoginModuleFor(mechanism) {
		return e, true
	}
	return sasl.JAASEntry{}, false
}

// PlainUsers returns listener's PLAIN users and passwords (user_NAME
// options of its PlainLoginModule JAAS config).
func (s *SASLConfig) PlainUsers(listener string) map[string]string {
	e, ok := s.JAASFor(listener, sasl.Plain)
	if !ok {
		return nil
	}
	return e.PlainUsers()
}

// OAuthFor returns listener's OAUTHBEARER settings: its
// listener.name.<l>.oauthbearer. keys over the global ones.
func (s *SASLConfig) OAuthFor(listener string) OAuthBearerConfig {
	o := s.OAuth[""]
	l, ok := s.OAuth[strings.ToLower(listener)]
	if !ok {
		return o
	}
	if l.JWKSURL != "" {
		o.JWKSURL = l.JWKSURL
	}
	if l.JWKSRefresh != 0 {
		o.JWKSRefresh = l.JWKSRefresh
	}
	if l.ExpectedAudience != nil {
		o.ExpectedAudience = l.ExpectedAudience
	}
	if l.ExpectedIssuer != "" {
		o.ExpectedIssuer = l.ExpectedIssuer
	}
	if l.SubClaimName != "" {
		o.SubClaimName = l.SubClaimName
	}
	if l.ScopeClaimName != "" {
		o.ScopeClaimName = l.ScopeClaimName
	}
	if l.ClockSkewSet {
		o.ClockSkew, o.ClockSkewSet = l.ClockSkew, true
	}
	if l.CallbackHandler != "" {
		o.CallbackHandler = l.CallbackHandler
	}
	return o
}

// JWKS reports whether OAUTHBEARER on this listener validates with a JWKS
// endpoint (else: Kafka's unsecured validator).
func (o OAuthBearerConfig) JWKS() bool { return o.JWKSURL != "" }

// MaxReauthFor is the KIP-368 maximum session lifetime for mechanism on
// listener; 0: no re-authentication required.
func (s *SASLConfig) MaxReauthFor(listener, mechanism string) time.Duration {
	l := strings.ToLower(listener)
	if d, ok := s.ListenerMaxReauth[l+"/"+mechanism]; ok {
		return d
	}
	if d, ok := s.ListenerMaxReauth[l]; ok {
		return d
	}
	return s.MaxReauth
}

// ParseAddScram parses one --add-scram value, kafka-storage format's
// syntax: MECHANISM=[name=USER,password=PW] or
// MECHANISM=[name=USER,salt=B64,saltedpassword=B64,iterations=N]; values may
// be double-quoted; iterations default to 4096 and must be 4096–16384; salt
// is random when not given with a password.
func ParseAddScram(arg string) (ScramUser, error) {
	bad := func(reason string) error {
		return &InvalidConfigError{Name: "--add-scram", Value: redactScramArg(arg), Reason: reason}
	}
	mech, rest, ok := strings.Cut(strings.TrimSpace(arg), "=")
	mech = strings.ToUpper(strings.TrimSpace(mech))
	if !ok || !sasl.IsScram(mech) {
		return ScramUser{}, bad("want SCRAM-SHA-256=[...] or SCRAM-SHA-512=[...]")
	}
	rest = strings.TrimSpace(rest)
	if !strings.HasPrefix(rest, "[") || !strings.HasSuffix(rest, "]") {
		return ScramUser{}, bad("want [key=value,...] after the mechanism")
	}
	fields := map[string]string{}
	for _, kv := range splitScramFields(rest[1 : len(rest)-1]) {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			return ScramUser{}, bad("want key=value pairs")
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		switch k {
		case "name", "password", "salt", "saltedpassword", "iterations":
		default:
			return ScramUser{}, bad(fmt.Sprintf("unknown key %q (want name, password, salt, saltedpassword, iterations)", k))
		}
		if _, dup := fields[k]; dup {
			return ScramUser{}, bad(fmt.Sprintf("%s given twice", k))
		}
		fields[k] = v
	}
	name := fields["name"]
	if name == "" {
		return ScramUser{}, bad("name is required")
	}
	iterations := sasl.MinIterations
	if s, ok := fields["iterations"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < sasl.MinIterations || n > sasl.MaxIterations {
			return ScramUser{}, bad(fmt.Sprintf("iterations must be from %d to %d", sasl.MinIterations, sasl.MaxIterations))
		}
		iterations = n
	}
	var salt []byte
	if s, ok := fields["salt"]; ok {
		var err error
		if salt, err = base64.StdEncoding.DecodeString(s); err != nil || len(salt) == 0 {
			return ScramUser{}, bad("salt must be base64")
		}
	}
	pw, hasPW := fields["password"]
	sp, hasSP := fields["saltedpassword"]
	var cred sasl.ScramCredential
	var err error
	switch {
	case hasPW && hasSP:
		return ScramUser{}, bad("give password or saltedpassword, not both")
	case hasPW:
		if pw == "" {
			return ScramUser{}, bad("password is empty")
		}
		cred, err = sasl.NewScramCredential(mech, pw, salt, iterations)
	case hasSP:
		if salt == nil {
			return ScramUser{}, bad("saltedpassword needs a salt")
		}
		raw, derr := base64.StdEncoding.DecodeString(sp)
		if derr != nil || len(raw) == 0 {
			return ScramUser{}, bad("saltedpassword must be base64")
		}
		cred, err = sasl.ScramCredentialFromSalted(mech, salt, raw, iterations)
	default:
		return ScramUser{}, bad("password or saltedpassword is required")
	}
	if err != nil {
		return ScramUser{}, bad(err.Error())
	}
	return ScramUser{User: name, Credential: cred}, nil
}

// splitScramFields splits at commas outside double quotes.
func splitScramFields(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// redactScramArg hides password values in an --add-scram argument.
func redactScramArg(arg string) string { return scramSecret.ReplaceAllString(arg, "${1}[hidden]") }

var scramSecret = regexp.MustCompile(`(?i)((?:salted)?password\s*=)("[^"]*"|[^,\]]*)`)
