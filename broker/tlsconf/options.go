// Package tlsconf turns a listener's Kafka ssl.* settings into the server
// side of TLS: the keystore (PEM file or inline, PKCS12, JKS) and the
// truststore, client authentication, protocol versions and cipher suites,
// Kafka's ssl.principal.mapping.rules for the principal of a client
// certificate, and certificate reload when the keystore or truststore files
// change. It is pure configuration: no sockets, nothing served.
package tlsconf

import (
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every *KeyError.
var ErrInvalid = errors.New("tlsconf: invalid TLS setting")

// KeyError is a bad ssl.* setting. Key is the property as written
// (listener.name.ssl.ssl.keystore.location, or the global key).
type KeyError struct {
	Key    string
	Value  string // "" for secrets (passwords, inline keys)
	Reason string
}

func (e *KeyError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("tlsconf: %s: %s", e.Key, e.Reason)
	}
	return fmt.Sprintf("tlsconf: %s=%q: %s", e.Key, e.Value, e.Reason)
}

func (e *KeyError) Is(target error) bool { return target == ErrInvalid }

// ClientAuth is ssl.client.auth.
type ClientAuth int8

const (
	ClientAuthNone      ClientAuth = iota // none: no client certificate asked
	ClientAuthRequested                   // requested: asked for, verified if given
	ClientAuthRequired                    // required: a verified certificate or no connection
)

// Options are one listener's TLS settings, Kafka's ssl.* keys resolved
// with the listener's listener.name.<l>.ssl.* overrides.
type Options struct {
	Listener string

	KeystoreType     string // PEM, PKCS12, JKS; "" when not set: detected from the file
	KeystoreLocation string
	KeystorePassword string
	KeyPassword      string
	// Inline PEM keystore (ssl.keystore.certificate.chain, ssl.keystore.key).
	KeystoreCertificateChain string
	KeystoreKey              string

	TruststoreType         string
	TruststoreLocation     string
	TruststorePassword     string
	TruststoreCertificates string // inline PEM

	ClientAuth   ClientAuth
	MinVersion   uint16 // from ssl.enabled.protocols
	MaxVersion   uint16
	CipherSuites []uint16 // nil: Go's defaults
	Rules        []Rule   // ssl.principal.mapping.rules; never empty (DEFAULT)

	// keys names the property each setting came from, for errors.
	keys map[string]string
}

// key is the property name a setting came from.
func (o *Options) key(k string) string {
	if n, ok := o.keys[k]; ok {
		return n
	}
	return k
}

func (o *Options) errorf(k, value, format string, args ...any) error {
	if secretKeys[k] {
		value = ""
	}
	return &KeyError{Key: o.key(k), Value: value, Reason: fmt.Sprintf(format, args...)}
}

// Keys Kafka defines for a listener's TLS; the ones in ignoredKeys are
// accepted and have no effect (JSSE and client-side settings).
var (
	usedKeys = []string{
		"ssl.keystore.type", "ssl.keystore.location", "ssl.keystore.password", "ssl.key.password",
		"ssl.keystore.certificate.chain", "ssl.keystore.key",
		"ssl.truststore.type", "ssl.truststore.location", "ssl.truststore.password", "ssl.truststore.certificates",
		"ssl.client.auth", "ssl.enabled.protocols", "ssl.cipher.suites", "ssl.principal.mapping.rules",
	}
	ignoredKeys = []string{
		"ssl.endpoint.identification.algorithm", "ssl.protocol", "ssl.provider",
		"ssl.keymanager.algorithm", "ssl.trustmanager.algorithm", "ssl.secure.random.implementation",
		"ssl.allow.dn.changes", "ssl.allow.san.changes", "ssl.engine.factory.class",
	}
	secretKeys = map[string]bool{
		"ssl.keystore.password": true, "ssl.key.password": true, "ssl.keystore.key": true, "ssl.truststore.password": true,
	}
)

// IsKey reports whether k is a TLS setting Parse reads: one of Kafka's
// ssl.* keys, bare or with a listener.name.<l>. prefix.
func IsKey(k string) bool {
	base := k
	if rest, ok := strings.CutPrefix(k, "listener.name."); ok {
		if _, after, ok := strings.Cut(rest, "."); ok {
			base = after
		}
	}
	return strings.HasPrefix(base, "ssl.")
}

// CheckKey reports an error for a key IsKey accepts that is not a Kafka
// TLS setting (a typo would otherwise go unnoticed).
func CheckKey(k string) error {
	base := k
	if rest, ok := strings.CutPrefix(k, "listener.name."); ok {
		if _, after, ok := strings.Cut(rest, "."); ok {
			base = after
		}
	}
	if slices.Contains(usedKeys, base) || slices.Contains(ignoredKeys, base) {
		return nil
	}
	return &KeyError{Key: k, Reason: "not a TLS setting Kafka or Moldau knows (ssl.keystore.*, ssl.truststore.*, ssl.key.password, ssl.client.auth, ssl.enabled.protocols, ssl.cipher.suites, ssl.principal.mapping.rules, ...)"}
}

// Parse reads listener's TLS settings from props: listener.name.<l>.ssl.x
// (l the listener name in lower case; any case is accepted) overrides
// ssl.x. saslSSL: the listener is SASL_SSL, where, as in Kafka (KIP-684),
// ssl.client.auth counts only with the listener prefix. Parse checks
// values but reads no file (New does).
func Parse(props map[string]string, listener string, saslSSL bool) (Options, error) {
	o := Options{Listener: listener, keys: map[string]string{}}
	prefix := "listener.name." + strings.ToLower(listener) + "."
	get := func(k string) (string, bool) {
		for p, v := range props {
			if strings.HasPrefix(strings.ToLower(p), prefix) && p[len(prefix):] == k {
				o.keys[k] = p
				return strings.TrimSpace(v), true
			}
		}
		if v, ok := props[k]; ok {
			return strings.TrimSpace(v), true
		}
		return "", false
	}
	str := func(k string) string { v, _ := get(k); return v }

	o.KeystoreType = strings.ToUpper(str("ssl.keystore.type"))
	o.KeystoreLocation = str("ssl.keystore.location")
	o.KeystorePassword = str("ssl.keystore.password")
	o.KeyPassword = str("ssl.key.password")
	o.KeystoreCertificateChain = str("ssl.keystore.certificate.chain")
	o.KeystoreKey = str("ssl.keystore.key")
	o.TruststoreType = strings.ToUpper(str("ssl.truststore.type"))
	o.TruststoreLocation = str("ssl.truststore.location")
	o.TruststorePassword = str("ssl.truststore.password")
	o.TruststoreCertificates = str("ssl.truststore.certificates")
	for _, k := range []string{"ssl.keystore.type", "ssl.truststore.type"} {
		if v := str(k); v != "" && !slices.Contains([]string{"PEM", "PKCS12", "JKS"}, strings.ToUpper(v)) {
			return o, o.errorf(k, v, "must be PEM, PKCS12 or JKS")
		}
	}
	// A listener's own keystore (file or inline) replaces a global one of
	// the other kind; the same for truststores.
	prefixed := func(k string) bool { _, ok := o.keys[k]; return ok }
	switch {
	case prefixed("ssl.keystore.certificate.chain") && !prefixed("ssl.keystore.location"):
		o.KeystoreLocation = ""
	case prefixed("ssl.keystore.location") && !prefixed("ssl.keystore.certificate.chain"):
		o.KeystoreCertificateChain, o.KeystoreKey = "", ""
	}
	switch {
	case prefixed("ssl.truststore.certificates") && !prefixed("ssl.truststore.location"):
		o.TruststoreLocation = ""
	case prefixed("ssl.truststore.location") && !prefixed("ssl.truststore.certificates"):
		o.TruststoreCertificates = ""
	}
	inline := o.KeystoreCertificateChain != "" || o.KeystoreKey != ""
	switch {
	case inline && (o.KeystoreCertificateChain == "" || o.KeystoreKey == ""):
		k := "ssl.keystore.key"
		if o.KeystoreCertificateChain == "" {
			k = "ssl.keystore.certificate.chain"
		}
		return o, o.errorf(k, "", "an inline PEM keystore needs both ssl.keystore.certificate.chain and ssl.keystore.key")
	case inline && o.KeystoreLocation != "":
		return o, o.errorf("ssl.keystore.location", o.KeystoreLocation, "give either a keystore file or an inline PEM keystore (ssl.keystore.certificate.chain), not both")
	case inline && o.KeystoreType != "" && o.KeystoreType != "PEM":
		return o, o.errorf("ssl.keystore.type", o.KeystoreType, "an inline keystore (ssl.keystore.certificate.chain) is PEM")
	}
	if o.TruststoreCertificates != "" && o.TruststoreLocation != "" {
		return o, o.errorf("ssl.truststore.location", o.TruststoreLocation, "give either a truststore file or inline ssl.truststore.certificates, not both")
	}

	o.ClientAuth = ClientAuthNone
	if v, ok := get("ssl.client.auth"); ok {
		_, prefixed := o.keys["ssl.client.auth"]
		if !saslSSL || prefixed {
			switch strings.ToLower(v) {
			case "none", "":
			case "requested":
				o.ClientAuth = ClientAuthRequested
			case "required":
				o.ClientAuth = ClientAuthRequired
			default:
				return o, o.errorf("ssl.client.auth", v, "must be none, requested or required")
			}
		}
	}

	o.MinVersion, o.MaxVersion = tls.VersionTLS12, tls.VersionTLS13
	if v, ok := get("ssl.enabled.protocols"); ok && v != "" {
		o.MinVersion, o.MaxVersion = 0, 0
		for _, p := range splitList(v) {
			ver, ok := protocolVersions[p]
			if !ok {
				return o, o.errorf("ssl.enabled.protocols", v, "unknown protocol %q: want TLSv1.2, TLSv1.3 (or TLSv1, TLSv1.1)", p)
			}
			if o.MinVersion == 0 || ver < o.MinVersion {
				o.MinVersion = ver
			}
			o.MaxVersion = max(o.MaxVersion, ver)
		}
	}
	if v, ok := get("ssl.cipher.suites"); ok && v != "" {
		ids, err := cipherSuites(splitList(v))
		if err != nil {
			return o, o.errorf("ssl.cipher.suites", v, "%v", err)
		}
		o.CipherSuites = ids
	}
	rules := "DEFAULT"
	if v, ok := get("ssl.principal.mapping.rules"); ok && v != "" {
		rules = v
	}
	r, err := ParseRules(rules)
	if err != nil {
		return o, o.errorf("ssl.principal.mapping.rules", rules, "%v", err)
	}
	o.Rules = r
	return o, nil
}

var protocolVersions = map[string]uint16{
	"TLSv1": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11, "TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13,
}

// tls13Suites are TLS 1.3's suites: Go always enables them; naming them in
// ssl.cipher.suites is accepted.
var tls13Suites = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}

// cipherSuites maps Kafka's (JSSE, IANA) suite names to Go's ids. JSSE's
// SSL_ prefix of old suites is read as TLS_.
func cipherSuites(names []string) ([]uint16, error) {
	byName := map[string]uint16{}
	for _, s := range tls.CipherSuites() {
		byName[s.Name] = s.ID
	}
	for _, s := range tls.InsecureCipherSuites() {
		byName[s.Name] = s.ID
	}
	var ids []uint16
	for _, n := range names {
		if slices.Contains(tls13Suites, n) {
			continue
		}
		name := n
		if rest, ok := strings.CutPrefix(n, "SSL_"); ok {
			name = "TLS_" + rest
		}
		id, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("unknown or unsupported cipher suite %q", n)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		// Only TLS 1.3 suites named: leave TLS 1.2's at Go's defaults.
		return nil, nil
	}
	return ids, nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
