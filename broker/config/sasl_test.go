package config

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moldau/moldau/broker/sasl"
)

func TestSASLConfig(t *testing.T) {
	file := writeFile(t, `sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512
listener.name.sasl_ssl.sasl.enabled.mechanisms=scram-sha-256,OAUTHBEARER
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \
    username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_global="g";
listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredValidatorRequiredScope="kafka";
sasl.oauthbearer.expected.audience=a, b
listener.name.sasl_ssl.oauthbearer.sasl.oauthbearer.jwks.endpoint.url=file:///etc/jwks.json
listener.name.sasl_ssl.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler
connections.max.reauth.ms=60000
connection.failed.authentication.delay.ms=0
listener.name.sasl_ssl.connections.max.reauth.ms=1000
listener.name.sasl_ssl.oauthbearer.connections.max.reauth.ms=500
`)
	var logs bytes.Buffer
	c, err := Load([]string{"--config", file, "--add-scram", "SCRAM-SHA-256=[name=alice,password=alice-secret]",
		"--add-scram", `scram-sha-512=[name="b,ob",iterations=8192,salt="c2FsdA==",saltedpassword="` + base64.StdEncoding.EncodeToString([]byte("0123456789")) + `"]`},
		env(nil), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "sasl") || strings.Contains(logs.String(), "reauth") {
		t.Errorf("SASL keys logged as ignored:\n%s", logs.String())
	}
	s := &c.Security.SASL
	if got := s.MechanismsFor("SASL_PLAINTEXT"); !slices.Equal(got, []string{"PLAIN", "SCRAM-SHA-512"}) {
		t.Errorf("sasl_plaintext mechanisms %v", got)
	}
	if got := s.MechanismsFor("SASL_SSL"); !slices.Equal(got, []string{"SCRAM-SHA-256", "OAUTHBEARER"}) {
		t.Errorf("sasl_ssl mechanisms %v", got)
	}
	if u := s.PlainUsers("SASL_PLAINTEXT"); len(u) != 2 || u["alice"] != "alice-secret" {
		t.Errorf("plain users %v", u)
	}
	if u := s.PlainUsers("other"); len(u) != 1 || u["global"] != "g" {
		t.Errorf("global plain users %v", u)
	}
	if e, ok := s.JAASFor("sasl_ssl", sasl.OAuthBearer); !ok || e.Options["unsecuredValidatorRequiredScope"] != "kafka" {
		t.Errorf("oauth jaas %+v", e)
	}
	o := s.OAuthFor("SASL_SSL")
	if !o.JWKS() || o.JWKSURL != "file:///etc/jwks.json" || !slices.Equal(o.ExpectedAudience, []string{"a", "b"}) {
		t.Errorf("oauth %+v", o)
	}
	if s.OAuthFor("sasl_plaintext").JWKS() {
		t.Error("JWKS on sasl_plaintext")
	}
	if s.MaxReauthFor("SASL_SSL", "OAUTHBEARER") != 500*time.Millisecond || s.MaxReauthFor("SASL_SSL", "PLAIN") != time.Second || s.MaxReauthFor("x", "PLAIN") != time.Minute {
		t.Errorf("reauth %v", s.ListenerMaxReauth)
	}
	if len(s.ScramUsers) != 2 || s.ScramUsers[0].User != "alice" || s.ScramUsers[0].Credential.Mechanism != sasl.ScramSHA256 ||
		s.ScramUsers[0].Credential.Iterations != 4096 || s.ScramUsers[1].User != "b,ob" || s.ScramUsers[1].Credential.Iterations != 8192 ||
		string(s.ScramUsers[1].Credential.Salt) != "salt" {
		t.Errorf("scram users %+v", s.ScramUsers)
	}
	if s.AuthFailureDelay() != 0 {
		t.Errorf("failed authentication delay %v, want 0", s.AuthFailureDelay())
	}
	want, _ := sasl.ScramCredentialFromSalted(sasl.ScramSHA512, []byte("salt"), []byte("0123456789"), 8192)
	if !bytes.Equal(s.ScramUsers[1].Credential.StoredKey, want.StoredKey) {
		t.Error("saltedpassword not used")
	}
}

func TestSASLDefaultMechanisms(t *testing.T) {
	c, err := Load([]string{"--set", "listener.name.a.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_x=\"y\";",
		"--set", "listener.name.b.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	s := &c.Security.SASL
	if s.AuthFailureDelay() != 100*time.Millisecond {
		t.Errorf("default failed authentication delay %v", s.AuthFailureDelay())
	}
	for l, want := range map[string][]string{
		"A": {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"},
		"b": {"SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"},
		"c": {"SCRAM-SHA-256", "SCRAM-SHA-512"},
	} {
		if got := s.MechanismsFor(l); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", l, got, want)
		}
	}
}

func TestSASLConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--set", "sasl.enabled.mechanisms=GSSAPI"}, "GSSAPI is not served"},
		{[]string{"--set", `listener.name.x.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_a="topsecret"`}, "missing ';'"},
		{[]string{"--set", `listener.name.x.plain.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`}, "does not serve PLAIN"},
		{[]string{"--set", "connections.max.reauth.ms=-1"}, "connections.max.reauth.ms"},
		{[]string{"--set", "listener.name.x.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler"}, "needs a JWKS endpoint"},
		{[]string{"--set", "sasl.oauthbearer.jwks.endpoint.url=ftp://x"}, "URL"},
		{[]string{"--add-scram", "SCRAM-SHA-1=[name=a,password=b]"}, "--add-scram"},
		{[]string{"--add-scram", "SCRAM-SHA-256=[name=a,password=topsecret,iterations=100]"}, "iterations must be from 4096 to 16384"},
		{[]string{"--add-scram", "SCRAM-SHA-256=[password=topsecret]"}, "name is required"},
		{[]string{"--add-scram", "SCRAM-SHA-256=[name=a,saltedpassword=dG9wc2VjcmV0]"}, "needs a salt"},
		{[]string{"--add-scram", "SCRAM-SHA-256=[name=a,pw=x]"}, "unknown key"},
	} {
		_, err := Load(tc.args, env(nil), discard())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.args, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "topsecret") {
			t.Errorf("%v: error shows the password: %v", tc.args, err)
		}
	}
}
