package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/moldau/moldau/broker/tlsconf"
)

func TestListenersFromProperties(t *testing.T) {
	file := writeFile(t, `
listeners=PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9094,SSL://127.0.0.1:9093,SASL_SSL://127.0.0.1:9095
advertised.listeners=SSL://kafka-0:9093,PLAINTEXT://kafka-0:9092
ssl.keystore.type=PKCS12
ssl.keystore.location=/etc/kafka/broker.p12
ssl.keystore.password=secret
ssl.client.auth=required
ssl.endpoint.identification.algorithm=
listener.name.sasl_ssl.ssl.keystore.location=/etc/kafka/sasl.p12
`)
	c, err := Load([]string{"--config", file}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	ls := c.Security.Listeners.Listeners
	want := []struct{ name, proto, addr, adv string }{
		{"PLAINTEXT", "PLAINTEXT", "127.0.0.1:9092", "kafka-0:9092"},
		{"SASL_PLAINTEXT", "SASL_PLAINTEXT", "127.0.0.1:9094", ""},
		{"SSL", "SSL", "127.0.0.1:9093", "kafka-0:9093"},
		{"SASL_SSL", "SASL_SSL", "127.0.0.1:9095", ""},
	}
	if len(ls) != len(want) {
		t.Fatalf("listeners %+v", ls)
	}
	for i, w := range want {
		l := ls[i]
		if l.Name != w.name || l.Security != w.proto || l.Addr != w.addr || l.Advertised != w.adv || (l.TLS != nil) != l.IsTLS() {
			t.Errorf("listener %d: %+v, want %+v", i, l, w)
		}
	}
	if c.Addr != "127.0.0.1:9092" || c.AdvertiseAddr != "kafka-0:9092" {
		t.Errorf("Addr %q AdvertiseAddr %q", c.Addr, c.AdvertiseAddr)
	}
	if ls[2].TLS.KeystoreLocation != "/etc/kafka/broker.p12" || ls[2].TLS.ClientAuth != tlsconf.ClientAuthRequired {
		t.Errorf("SSL listener TLS %+v", ls[2].TLS)
	}
	// The listener override, and KIP-684: no client auth on SASL_SSL from
	// the global key.
	if ls[3].TLS.KeystoreLocation != "/etc/kafka/sasl.p12" || ls[3].TLS.ClientAuth != tlsconf.ClientAuthNone {
		t.Errorf("SASL_SSL listener TLS %+v", ls[3].TLS)
	}
	v, _ := lookupBrokerKey("listeners")
	if got := *v.value(&c); got != "PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9094,SSL://127.0.0.1:9093,SASL_SSL://127.0.0.1:9095" {
		t.Errorf("DescribeConfigs listeners %q", got)
	}
}

func TestListenersCustomNamesAndFlag(t *testing.T) {
	file := writeFile(t, `
listener.security.protocol.map=INTERNAL:SASL_SSL,EXTERNAL:SSL,CONTROLLER:PLAINTEXT
listeners=INTERNAL://:9092,EXTERNAL://:9093,CONTROLLER://:9094
listener.name.internal.ssl.keystore.certificate.chain=x
listener.name.internal.ssl.keystore.key=y
ssl.keystore.location=/ks.jks
`)
	c, err := Load([]string{"--config", file}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	ls := c.Security.Listeners.Listeners
	if len(ls) != 2 || ls[0].Name != "INTERNAL" || ls[0].Security != "SASL_SSL" || ls[1].Name != "EXTERNAL" || ls[1].Security != "SSL" {
		t.Fatalf("listeners %+v", ls)
	}
	if ls[0].TLS.KeystoreCertificateChain != "x" || ls[0].TLS.KeystoreLocation != "" || ls[1].TLS.KeystoreLocation != "/ks.jks" {
		t.Errorf("TLS %+v %+v", ls[0].TLS, ls[1].TLS)
	}

	c, err = Load([]string{"--listeners", "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0", "--set", "ssl.keystore.location=/k.pem"}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	if ls := c.Security.Listeners.Listeners; len(ls) != 2 || ls[1].Security != "SSL" || c.Addr != "127.0.0.1:0" {
		t.Fatalf("--listeners: %+v addr %q", ls, c.Addr)
	}
	// --addr alone: one PLAINTEXT listener, no Listeners entry (as before).
	c, err = Load([]string{"--addr", "127.0.0.1:7"}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	if ls := c.ClientListeners(); len(ls) != 1 || ls[0].Addr != "127.0.0.1:7" || ls[0].Security != "PLAINTEXT" {
		t.Fatalf("ClientListeners %+v", ls)
	}
}

// TestListenerConfigErrors: a bad setting stops Load with an error naming
// the key, never showing a password.
func TestListenerConfigErrors(t *testing.T) {
	cases := map[string][]string{
		"listener.security.protocol.map":          {"listener.security.protocol.map=INTERNAL:SSL", "listeners=INTERNAL://:1,OTHER://:2"},
		"listener.security.protocol.map ":         {"listener.security.protocol.map=INTERNAL:TLS", "listeners=INTERNAL://:1"},
		"advertised.listeners":                    {"listeners=PLAINTEXT://:1", "advertised.listeners=SSL://x:1"},
		"listeners":                               {"listeners=PLAINTEXT://:1,PLAINTEXT://:2"},
		"ssl.client.auth":                         {"listeners=SSL://:1", "ssl.client.auth=sometimes"},
		"listener.name.ssl.ssl.enabled.protocols": {"listeners=SSL://:1", "listener.name.ssl.ssl.enabled.protocols=SSLv3"},
		"ssl.keystore.locaton":                    {"ssl.keystore.locaton=/x"},
		"ssl.keystore.key":                        {"listeners=SSL://:1", "ssl.keystore.certificate.chain=abc", "ssl.keystore.password=hunter2"},
	}
	for key, lines := range cases {
		file := writeFile(t, strings.Join(lines, "\n")+"\n")
		_, err := Load([]string{"--config", file}, env(nil), discard())
		var ie *InvalidConfigError
		if !errors.As(err, &ie) || ie.Name != strings.TrimSpace(key) {
			t.Errorf("%v: error %v, want one naming %s", lines, err, key)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error shows a password: %v", err)
		}
	}
}

// TestAdvertiseAddrNamesFirstListener: --advertise-addr advertises the
// first client listener, whatever its name.
func TestAdvertiseAddrNamesFirstListener(t *testing.T) {
	c, err := Load([]string{"--listeners", "SSL://127.0.0.1:0,PLAINTEXT://127.0.0.1:0", "--advertise-addr", "kafka:9093", "--set", "ssl.keystore.location=/k.p12"}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	if ls := c.Security.Listeners.Listeners; len(ls) != 2 || ls[0].Advertised != "kafka:9093" || ls[1].Advertised != "" || c.AdvertiseAddr != "kafka:9093" {
		t.Fatalf("listeners %+v, AdvertiseAddr %q", ls, c.AdvertiseAddr)
	}
}
