package config

import (
	"strconv"
	"strings"
)

// AuthzConfig is the authz part of Security (security.go): whether ACLs are
// checked, and Kafka's two authorizer settings.
type AuthzConfig struct {
	// Enabled: authorizer.class.name names Kafka's StandardAuthorizer (or
	// the older AclAuthorizer); every request is then checked against the
	// ACLs. Off (the default), every request is allowed and the ACL APIs
	// answer SECURITY_DISABLED.
	Enabled bool
	// SuperUsers: super.users, principals ("User:admin") allowed
	// everything.
	SuperUsers []string
	// AllowIfNoACL: allow.everyone.if.no.acl.found, allow every principal
	// on a resource no ACL matches (default false).
	AllowIfNoACL bool
}

// Authorizer class names accepted as "enable the authorizer".
var authorizerClasses = map[string]bool{
	"org.apache.kafka.metadata.authorizer.StandardAuthorizer": true,
	"kafka.security.authorizer.AclAuthorizer":                 true,
}

func authzHandles(key string) bool {
	switch key {
	case "authorizer.class.name", "super.users", "allow.everyone.if.no.acl.found":
		return true
	}
	return false
}

func parseAuthz(c *Config, props map[string]string) error {
	var a AuthzConfig
	if v := strings.TrimSpace(props["authorizer.class.name"]); v != "" {
		if !authorizerClasses[v] {
			return &InvalidConfigError{Name: "authorizer.class.name", Value: v,
				Reason: "Moldau's built-in authorizer is enabled with org.apache.kafka.metadata.authorizer.StandardAuthorizer (or kafka.security.authorizer.AclAuthorizer); other authorizer classes cannot be loaded"}
		}
		a.Enabled = true
	}
	if v := strings.TrimSpace(props["super.users"]); v != "" {
		for _, u := range strings.Split(v, ";") {
			u = strings.TrimSpace(u)
			if u == "" {
				continue
			}
			if typ, name, ok := strings.Cut(u, ":"); !ok || typ == "" || name == "" {
				return &InvalidConfigError{Name: "super.users", Value: v, Reason: "want principals Type:name separated by ';', for example User:admin;User:ANONYMOUS"}
			}
			a.SuperUsers = append(a.SuperUsers, u)
		}
	}
	if v, ok := props["allow.everyone.if.no.acl.found"]; ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return &InvalidConfigError{Name: "allow.everyone.if.no.acl.found", Value: v, Reason: "expected true or false"}
		}
		a.AllowIfNoACL = b
	}
	c.Security.Authz = a
	return nil
}
