package config

// Issue 16's security settings. Each part lives in its own file and is parsed
// from the final property set (file, --set, then flags) by its own parser,
// after the plain keys are applied; Load calls securityParsers in order.
// A key a part handles (handles returns true) is neither validated by the
// brokerKeys table nor logged as an ignored Kafka key: its parser owns it,
// including Kafka's prefix families (listener.name.<l>.*, ssl.*, sasl.*).
type Security struct {
	Listeners ListenersConfig // listeners, advertised.listeners, listener.security.protocol.map, ssl.* (listeners.go)
	SASL      SASLConfig      // sasl.*, *.sasl.jaas.config, --add-scram (sasl.go)
	Authz     AuthzConfig     // authorizer.class.name, super.users, allow.everyone.if.no.acl.found (authz.go)
	Quotas    QuotasConfig    // max.connections*, quota settings (quotas.go)
	Tokens    TokensConfig    // delegation.token.* (tokens.go)
}

type securityPart struct {
	handles func(key string) bool
	parse   func(c *Config, props map[string]string) error
}

var securityParts = []securityPart{
	{listenersHandles, parseListeners},
	{saslHandles, parseSASL},
	{authzHandles, parseAuthz},
	{quotasHandles, parseQuotas},
	{tokensHandles, parseTokens},
}

// securityHandles reports whether one of the security parts owns key.
func securityHandles(key string) bool {
	for _, p := range securityParts {
		if p.handles(key) {
			return true
		}
	}
	return false
}

// parseSecurity runs every part's parser on the final properties.
func parseSecurity(c *Config, props map[string]string) error {
	for _, p := range securityParts {
		if err := p.parse(c, props); err != nil {
			return err
		}
	}
	return nil
}
