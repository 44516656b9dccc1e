package embed

// SASL listeners and users for an embedded broker, beside WithTLS's SSL
// listener, so that an application's production client configuration
// (security protocol, mechanism, truststore) is tested in CI unchanged.
//
//	b, err := embed.Start(ctx,
//		embed.WithTLS(certPEM, keyPEM, "none", nil),
//		embed.WithListeners(embed.Listener{Name: "SASL_SSL"}, embed.Listener{Name: "SASL_PLAINTEXT"}),
//		embed.WithSASLUser(embed.MechanismScramSHA512, "alice", "alice-secret"),
//	)
//	cl, _ := kgo.NewClient(kgo.SeedBrokers(b.ListenerAddr("SASL_SSL")),
//		kgo.DialTLSConfig(clientTLS),
//		kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism()))
//
// The options become the Kafka properties the moldau binary reads
// (listeners, listener.security.protocol.map,
// listener.name.<l>.sasl.enabled.mechanisms, the PlainLoginModule and
// OAuthBearerLoginModule JAAS lines) and --add-scram, through the same
// loader, so an embedded broker is configured exactly as a deployed one.
// WithProperty sets any further key (ssl.principal.mapping.rules,
// authorizer.class.name, super.users, connections.max.reauth.ms...).

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Listener is one listener of the embedded broker.
type Listener struct {
	// Name is the listener's name, e.g. "SASL_SSL" or "CLIENTS".
	Name string
	// Protocol is its security protocol: "PLAINTEXT", "SSL",
	// "SASL_PLAINTEXT" or "SASL_SSL"; empty means Name (which must then be
	// one of those four). SSL and SASL_SSL need WithTLS.
	Protocol string
	// Addr is host:port to listen on; empty means a free loopback port.
	Addr string
}

// Kafka's four security protocols.
var securityProtocols = []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}

// The SASL mechanisms WithSASLUser takes.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
)

// ErrBadSecurityOption reports a WithListeners, WithSASLUser or
// WithUnsecuredOAuthBearer argument Start cannot use.
var ErrBadSecurityOption = errors.New("embed: bad security option")

type securityOptions struct {
	listeners []Listener
	plain     [][2]string // PLAIN users: name, password
	scram     []string    // --add-scram values
	oauth     bool        // OAUTHBEARER with unsecured JWS
	errs      []error
}

// WithListeners sets the broker's listeners: the PLAINTEXT one on Addr (a
// listener named PLAINTEXT here replaces it) and ls. Repeated calls add
// more. It replaces WithTLS's SSL listener: list {Name: "SSL"} to keep it.
func WithListeners(ls ...Listener) Option {
	return func(o *options) { o.sec.listeners = append(o.sec.listeners, ls...) }
}

// WithSASLUser adds a user to the SASL listeners: mechanism "PLAIN" (a
// user_<name> entry of the PlainLoginModule JAAS line), "SCRAM-SHA-256" or
// "SCRAM-SHA-512" (a bootstrap credential, as the binary's --add-scram
// makes; more can be added at run time with AlterUserScramCredentials).
// The session's principal is "User:<user>". SASL users need a SASL_PLAINTEXT
// or SASL_SSL listener (WithListeners).
func WithSASLUser(mechanism, user, password string) Option {
	return func(o *options) {
		if user == "" || strings.ContainsAny(user, `"=,[] \`) || strings.ContainsAny(password, `"\,[]`) {
			o.sec.errs = append(o.sec.errs, fmt.Errorf("%w: WithSASLUser(%q, %q): the user or password holds a character the JAAS and --add-scram syntaxes cannot carry", ErrBadSecurityOption, mechanism, user))
			return
		}
		switch m := strings.ToUpper(mechanism); m {
		case MechanismPlain:
			o.sec.plain = append(o.sec.plain, [2]string{user, password})
		case MechanismScramSHA256, MechanismScramSHA512:
			o.sec.scram = append(o.sec.scram, fmt.Sprintf("%s=[name=%s,password=%s]", m, user, password))
		default:
			o.sec.errs = append(o.sec.errs, fmt.Errorf("%w: WithSASLUser: mechanism %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", ErrBadSecurityOption, mechanism))
		}
	}
}

// WithUnsecuredOAuthBearer enables OAUTHBEARER on the SASL listeners with
// Kafka's default, development-only validator: unsecured JWS tokens
// ({"alg":"none"}) whose "sub" claim is the principal.
func WithUnsecuredOAuthBearer() Option {
	return func(o *options) { o.sec.oauth = true }
}

// args are the loader arguments (--set key=value, --add-scram) of the
// security options; nil when none was given.
func (s *securityOptions) args() ([]string, error) {
	if err := errors.Join(s.errs...); err != nil {
		return nil, err
	}
	sasl := len(s.plain) > 0 || len(s.scram) > 0 || s.oauth
	if len(s.listeners) == 0 {
		if sasl {
			return nil, fmt.Errorf("%w: SASL users or OAUTHBEARER without a SASL_PLAINTEXT or SASL_SSL listener (WithListeners)", ErrBadSecurityOption)
		}
		return nil, nil
	}
	type listener struct{ name, protocol, addr string }
	var ls []listener
	if !slices.ContainsFunc(s.listeners, func(l Listener) bool { return strings.EqualFold(l.Name, "PLAINTEXT") }) {
		ls = append(ls, listener{"PLAINTEXT", "PLAINTEXT", "127.0.0.1:0"})
	}
	for _, l := range s.listeners {
		name, proto := strings.ToUpper(l.Name), strings.ToUpper(l.Protocol)
		if proto == "" {
			proto = name
		}
		if name == "" || !slices.Contains(securityProtocols, proto) {
			return nil, fmt.Errorf("%w: listener %q with protocol %q (want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)", ErrBadSecurityOption, l.Name, l.Protocol)
		}
		if slices.ContainsFunc(ls, func(o listener) bool { return o.name == name }) {
			return nil, fmt.Errorf("%w: listener %s listed twice", ErrBadSecurityOption, name)
		}
		addr := l.Addr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		ls = append(ls, listener{name, proto, addr})
	}
	var entries, protoMap []string
	for _, l := range ls {
		entries = append(entries, l.name+"://"+l.addr)
		protoMap = append(protoMap, l.name+":"+l.protocol)
	}
	props := []string{"--set", "listeners=" + strings.Join(entries, ","), "--set", "listener.security.protocol.map=" + strings.Join(protoMap, ",")}
	set := func(k, v string) { props = append(props, "--set", k+"="+v) }
	mechs := []string{MechanismScramSHA256, MechanismScramSHA512} // SCRAM users can also be added at run time
	if len(s.plain) > 0 {
		mechs = append(mechs, MechanismPlain)
	}
	if s.oauth {
		mechs = append(mechs, "OAUTHBEARER")
	}
	saslListeners := 0
	for _, l := range ls {
		if !strings.HasPrefix(l.protocol, "SASL_") {
			continue
		}
		saslListeners++
		prefix := "listener.name." + strings.ToLower(l.name) + "."
		set(prefix+"sasl.enabled.mechanisms", strings.Join(mechs, ","))
		if len(s.plain) > 0 {
			var b strings.Builder
			b.WriteString("org.apache.kafka.common.security.plain.PlainLoginModule required")
			for _, u := range s.plain {
				fmt.Fprintf(&b, ` user_%s="%s"`, u[0], u[1])
			}
			b.WriteString(";")
			set(prefix+"plain.sasl.jaas.config", b.String())
		}
		if s.oauth {
			set(prefix+"oauthbearer.sasl.jaas.config", "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;")
		}
	}
	if sasl && saslListeners == 0 {
		return nil, fmt.Errorf("%w: SASL users or OAUTHBEARER without a SASL_PLAINTEXT or SASL_SSL listener", ErrBadSecurityOption)
	}
	for _, a := range s.scram {
		props = append(props, "--add-scram", a)
	}
	return props, nil
}
