package config

import (
	"errors"
	"testing"
	"time"
)

func TestTokensConfig(t *testing.T) {
	c, err := Load(nil, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	tk := c.Security.Tokens
	if tk.Enabled() || tk.MaxLifetime() != 7*24*time.Hour || tk.ExpiryTime() != 24*time.Hour || tk.ExpiryCheckInterval() != time.Hour {
		t.Errorf("defaults: %+v enabled=%v max=%v expiry=%v check=%v", tk, tk.Enabled(), tk.MaxLifetime(), tk.ExpiryTime(), tk.ExpiryCheckInterval())
	}
	if d := Default().Security.Tokens; d.Enabled() || d.MaxLifetime() != DefaultTokenMaxLifetime {
		t.Errorf("Default(): %+v", d)
	}

	file := writeFile(t, "delegation.token.secret.key=s3cret\ndelegation.token.max.lifetime.ms=60000\n"+
		"delegation.token.expiry.time.ms=30000\ndelegation.token.expiry.check.interval.ms=500\n")
	c, err = Load([]string{"--config", file}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	tk = c.Security.Tokens
	if tk.SecretKey != "s3cret" || tk.MaxLifetime() != time.Minute || tk.ExpiryTime() != 30*time.Second || tk.ExpiryCheckInterval() != 500*time.Millisecond {
		t.Errorf("set: %+v", tk)
	}

	// The old name works alone; the new name wins when both are set.
	c, err = Load([]string{"--set", "delegation.token.master.key=old"}, env(nil), discard())
	if err != nil || c.Security.Tokens.SecretKey != "old" {
		t.Errorf("master.key alone: %+v, %v", c.Security.Tokens, err)
	}
	c, err = Load([]string{"--set", "delegation.token.master.key=old", "--set", "delegation.token.secret.key=new"}, env(nil), discard())
	if err != nil || c.Security.Tokens.SecretKey != "new" {
		t.Errorf("both keys: %+v, %v", c.Security.Tokens, err)
	}

	for _, bad := range []string{"delegation.token.max.lifetime.ms=0", "delegation.token.expiry.time.ms=-5", "delegation.token.expiry.check.interval.ms=soon"} {
		_, err := Load([]string{"--set", bad}, env(nil), discard())
		var ice *InvalidConfigError
		if !errors.As(err, &ice) {
			t.Errorf("%s: err %v, want InvalidConfigError", bad, err)
		}
	}
}
