package config

// The listeners part of Security (security.go): Kafka's
//
//	listeners=PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093,SASL_SSL://:9095   (--listeners)
//	advertised.listeners=PLAINTEXT://kafka-1:9092,SSL://kafka-1:9093
//	listener.security.protocol.map=INTERNAL:SASL_SSL,EXTERNAL:SSL
//	ssl.* and listener.name.<l>.ssl.*   (broker/tlsconf)
//
// Every entry of listeners except the controller listener
// (controller.listener.names, default CONTROLLER: the inter-broker listener
// of cluster mode, PeerAddr) is a client listener. Config.Addr stays the
// first client listener's address (the brokerKeys table sets it).

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moldau/moldau/broker/tlsconf"
)

// ListenersConfig is the listeners part of Security (security.go).
type ListenersConfig struct {
	// Listeners are the client listeners in the order of listeners. Empty
	// (a Config built by hand, or no listeners key): Config.Addr as one
	// PLAINTEXT listener, advertised as Config.AdvertiseAddr.
	Listeners []Listener
}

// Listener is one client listener.
type Listener struct {
	Name     string // upper case: PLAINTEXT, SSL, INTERNAL, ...
	Security string // PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
	Addr     string // HOST:PORT to bind
	// Advertised is HOST:PORT from advertised.listeners; "": the bound
	// address (an unspecified host becomes the machine's host name).
	Advertised string
	// TLS is the listener's ssl.* settings; nil unless Security is SSL or
	// SASL_SSL.
	TLS *tlsconf.Options
}

// IsTLS reports whether the listener's protocol is SSL or SASL_SSL.
func (l Listener) IsTLS() bool { return l.Security == "SSL" || l.Security == "SASL_SSL" }

// securityProtocols are Kafka's security protocol names.
var securityProtocols = []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}

func listenersHandles(key string) bool {
	return key == "listener.security.protocol.map" || tlsconf.IsKey(key)
}

// parseListeners reads listeners, advertised.listeners,
// listener.security.protocol.map and the TLS settings of the TLS
// listeners (checked here; the files are read when the broker starts).
func parseListeners(c *Config, props map[string]string) error {
	for k, v := range props {
		if tlsconf.IsKey(k) {
			if err := tlsconf.CheckKey(k); err != nil {
				return &InvalidConfigError{Name: k, Value: v, Reason: "unknown TLS setting"}
			}
		}
	}
	protoMap, err := securityProtocolMap(props)
	if err != nil {
		return err
	}
	explicitMap := strings.TrimSpace(props["listener.security.protocol.map"]) != ""
	c.Security.Listeners.Listeners = nil
	list := strings.TrimSpace(props["listeners"])
	if list == "" {
		return nil
	}
	ctl := splitList(strings.ToUpper(controllerNames(props)))
	var ls []Listener
	for _, e := range splitList(list) {
		name, addr := listenerEntry(e)
		if name == "" {
			name = "PLAINTEXT"
		}
		if slices.Contains(ctl, name) {
			continue
		}
		if slices.ContainsFunc(ls, func(l Listener) bool { return l.Name == name }) {
			return &InvalidConfigError{Name: "listeners", Value: list, Reason: fmt.Sprintf("listener %s is listed twice", name)}
		}
		if err := checkListenAddr(addr); err != nil {
			return &InvalidConfigError{Name: "listeners", Value: list, Reason: fmt.Sprintf("listener %s: %v", name, err)}
		}
		proto, ok := protoMap[name]
		if !ok && !explicitMap {
			// Without a listener.security.protocol.map, a custom name
			// is PLAINTEXT (Moldau used to ignore such listeners; Kafka
			// refuses them).
			proto, ok = "PLAINTEXT", true
		}
		if !ok {
			return &InvalidConfigError{Name: "listener.security.protocol.map", Value: props["listener.security.protocol.map"],
				Reason: fmt.Sprintf("no security protocol for listener %s: add %s:PLAINTEXT (or SSL, SASL_PLAINTEXT, SASL_SSL)", name, name)}
		}
		l := Listener{Name: name, Security: proto, Addr: addr}
		if l.IsTLS() {
			o, err := tlsconf.Parse(props, name, proto == "SASL_SSL")
			if err != nil {
				return tlsError(err)
			}
			l.TLS = &o
		}
		ls = append(ls, l)
	}
	if adv := strings.TrimSpace(props["advertised.listeners"]); adv != "" {
		for _, e := range splitList(adv) {
			name, addr := listenerEntry(e)
			if name == "" {
				name = "PLAINTEXT"
			}
			if slices.Contains(ctl, name) {
				continue
			}
			i := slices.IndexFunc(ls, func(l Listener) bool { return l.Name == name })
			if i < 0 {
				return &InvalidConfigError{Name: "advertised.listeners", Value: adv, Reason: fmt.Sprintf("listener %s is not in listeners", name)}
			}
			if err := checkAdvertiseAddr(addr); err != nil {
				return &InvalidConfigError{Name: "advertised.listeners", Value: adv, Reason: fmt.Sprintf("listener %s: %v", name, err)}
			}
			ls[i].Advertised = addr
		}
	}
	if len(ls) == 1 && ls[0].Name == "PLAINTEXT" && ls[0].Security == "PLAINTEXT" && ls[0].Addr == c.Addr && ls[0].Advertised == c.AdvertiseAddr {
		// The one PLAINTEXT listener Addr and AdvertiseAddr describe:
		// a Config as before listeners existed (ClientListeners).
		ls = nil
	}
	c.Security.Listeners.Listeners = ls
	return nil
}

// tlsError turns a tlsconf error into an InvalidConfigError naming the key.
func tlsError(err error) error {
	if ke, ok := err.(*tlsconf.KeyError); ok {
		v := ke.Value
		if v == "" {
			v = "[hidden]"
		}
		return &InvalidConfigError{Name: ke.Key, Value: v, Reason: ke.Reason}
	}
	return fmt.Errorf("config: %w", err)
}

// securityProtocolMap parses listener.security.protocol.map over Kafka's
// default (each protocol name maps to itself); controller listener names
// not in it are PLAINTEXT.
func securityProtocolMap(props map[string]string) (map[string]string, error) {
	m := map[string]string{}
	for _, p := range securityProtocols {
		m[p] = p
	}
	v, ok := props["listener.security.protocol.map"]
	if !ok || strings.TrimSpace(v) == "" {
		return m, nil
	}
	m = map[string]string{}
	for _, e := range splitList(v) {
		name, proto, ok := strings.Cut(e, ":")
		name, proto = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(proto))
		if !ok || name == "" || !slices.Contains(securityProtocols, proto) {
			return nil, &InvalidConfigError{Name: "listener.security.protocol.map", Value: v,
				Reason: fmt.Sprintf("entry %q: want NAME:PROTOCOL with PROTOCOL one of %s", e, strings.Join(securityProtocols, ", "))}
		}
		if _, dup := m[name]; dup {
			return nil, &InvalidConfigError{Name: "listener.security.protocol.map", Value: v, Reason: fmt.Sprintf("listener %s mapped twice", name)}
		}
		m[name] = proto
	}
	return m, nil
}

// ClientListeners returns the listeners the broker serves clients on:
// Security.Listeners, or Addr as one PLAINTEXT listener when there are
// none.
func (c Config) ClientListeners() []Listener {
	if ls := c.Security.Listeners.Listeners; len(ls) > 0 {
		return ls
	}
	return []Listener{{Name: "PLAINTEXT", Security: "PLAINTEXT", Addr: c.Addr, Advertised: c.AdvertiseAddr}}
}
