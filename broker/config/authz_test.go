package config

import (
	"slices"
	"strings"
	"testing"
)

func TestAuthzConfig(t *testing.T) {
	tests := []struct {
		file    string
		want    AuthzConfig
		wantErr string
	}{
		{"", AuthzConfig{}, ""},
		{"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\nsuper.users=User:admin;User:ANONYMOUS\nallow.everyone.if.no.acl.found=true\n",
			AuthzConfig{Enabled: true, SuperUsers: []string{"User:admin", "User:ANONYMOUS"}, AllowIfNoACL: true}, ""},
		{"authorizer.class.name=kafka.security.authorizer.AclAuthorizer\n", AuthzConfig{Enabled: true}, ""},
		{"authorizer.class.name=\n", AuthzConfig{}, ""},
		{"authorizer.class.name=com.example.MyAuthorizer\n", AuthzConfig{}, "authorizer.class.name"},
		{"super.users=admin\n", AuthzConfig{}, "super.users"},
		{"allow.everyone.if.no.acl.found=yes\n", AuthzConfig{}, "allow.everyone.if.no.acl.found"},
	}
	for _, tt := range tests {
		c, err := Load([]string{"--config", writeFile(t, tt.file)}, env(nil), discard())
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err %v, want one naming %s", tt.file, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.file, err)
			continue
		}
		got := c.Security.Authz
		if got.Enabled != tt.want.Enabled || got.AllowIfNoACL != tt.want.AllowIfNoACL || !slices.Equal(got.SuperUsers, tt.want.SuperUsers) {
			t.Errorf("%q: got %+v, want %+v", tt.file, got, tt.want)
		}
	}
}
