package tests

// Go clients against the secured listeners of the real binary
// (security_fixture_test.go): franz-go with every mechanism and mutual TLS,
// sarama with SCRAM-SHA-256/512 and PLAIN (xdg-go/scram as its SCRAM client,
// as sarama's own examples do), segmentio/kafka-go with PLAIN and SCRAM. Each
// case writes a few records as the authenticated user and reads them back
// through the same listener; a wrong password fails with an authentication
// error, not a hang.

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
	kgosasl "github.com/segmentio/kafka-go/sasl"
	kgoplain "github.com/segmentio/kafka-go/sasl/plain"
	kgoscram "github.com/segmentio/kafka-go/sasl/scram"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	xdgscram "github.com/xdg-go/scram"
)

// unsecuredJWS is an unsecured JSON Web Signature ({"alg":"none"}, an empty
// signature) for sub, valid for an hour: what Kafka's default OAUTHBEARER
// validator accepts (OAuthBearerUnsecuredJws).
func unsecuredJWS(sub string, exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	claims := fmt.Sprintf(`{"sub":%q,"iat":%d,"exp":%d}`, sub, time.Now().Unix(), exp.Unix())
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(claims)) + "."
}

// franzRoundTrip writes values to topic through addr with opts (the
// client's TLS and SASL) and reads them back with the same options.
func franzRoundTrip(t *testing.T, addr, topic string, values []string, opts ...kgo.Opt) {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for _, v := range values {
		recs = append(recs, kgo.StringRecord(v))
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s through %s: %v", topic, addr, err)
	}
	got := consumeValues(t, addr, topic, len(values), opts...)
	if strings.Join(got, ",") != strings.Join(values, ",") {
		t.Fatalf("read back %q, want %q", got, values)
	}
}

// franzPingErr is the error of a franz-go client built from opts pinging
// addr (a connection, the handshakes and ApiVersions), within 15 s: a hang
// fails the test. A client that cannot authenticate gets no further.
func franzPingErr(t *testing.T, addr string, opts ...kgo.Opt) error {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = cl.Ping(ctx)
	if ctx.Err() != nil {
		t.Fatalf("ping through %s hung for 15 s (err %v) instead of failing", addr, err)
	}
	return err
}

func TestSecurityFranzGo(t *testing.T) {
	sp := secureBroker(t)
	scram256 := scram.Auth{User: secUser, Pass: secPassword}.AsSha256Mechanism()
	scram512 := scram.Auth{User: secUser, Pass: secPassword}.AsSha512Mechanism()
	for _, tc := range []struct {
		name string
		addr string
		opts []kgo.Opt
	}{
		{"PLAIN/SASL_PLAINTEXT", sp.SASLPlaintext, []kgo.Opt{kgo.SASL(plain.Auth{User: secUser, Pass: secPassword}.AsMechanism())}},
		{"SCRAM-SHA-256/SASL_PLAINTEXT", sp.SASLPlaintext, []kgo.Opt{kgo.SASL(scram256)}},
		{"SCRAM-SHA-512/SASL_PLAINTEXT", sp.SASLPlaintext, []kgo.Opt{kgo.SASL(scram512)}},
		{"OAUTHBEARER/SASL_PLAINTEXT", sp.SASLPlaintext, []kgo.Opt{kgo.SASL(oauth.Auth{Token: unsecuredJWS(secUser, time.Now().Add(time.Hour))}.AsMechanism())}},
		{"PLAIN/SASL_SSL", sp.SASLSSL, []kgo.Opt{kgo.DialTLSConfig(sp.pki.serverTLS()), kgo.SASL(plain.Auth{User: secUser, Pass: secPassword}.AsMechanism())}},
		{"SCRAM-SHA-512/SASL_SSL", sp.SASLSSL, []kgo.Opt{kgo.DialTLSConfig(sp.pki.serverTLS()), kgo.SASL(scram512)}},
		{"mTLS/SSL", sp.SSL, []kgo.Opt{kgo.DialTLSConfig(sp.pki.mutualTLS())}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := sp.secTopic(t, "sec-franz-"+strings.NewReplacer("/", "-").Replace(tc.name))
			franzRoundTrip(t, tc.addr, topic, secRecords("franz", 5), tc.opts...)
		})
	}

	topic := sp.secTopic(t, "sec-franz-denied")
	for _, tc := range []struct {
		name string
		addr string
		mech sasl.Mechanism
		tls  *tls.Config
	}{
		{"PLAIN", sp.SASLPlaintext, plain.Auth{User: secUser, Pass: "wrong"}.AsMechanism(), nil},
		{"SCRAM-SHA-256", sp.SASLPlaintext, scram.Auth{User: secUser, Pass: "wrong"}.AsSha256Mechanism(), nil},
		{"SCRAM-SHA-512/SASL_SSL", sp.SASLSSL, scram.Auth{User: secUser, Pass: "wrong"}.AsSha512Mechanism(), sp.pki.serverTLS()},
		{"SCRAM-SHA-256 unknown user", sp.SASLPlaintext, scram.Auth{User: "mallory", Pass: secPassword}.AsSha256Mechanism(), nil},
		{"OAUTHBEARER expired", sp.SASLPlaintext, oauth.Auth{Token: unsecuredJWS(secUser, time.Now().Add(-time.Minute))}.AsMechanism(), nil},
	} {
		t.Run("wrong credentials/"+tc.name, func(t *testing.T) {
			opts := []kgo.Opt{kgo.SASL(tc.mech)}
			if tc.tls != nil {
				opts = append(opts, kgo.DialTLSConfig(tc.tls))
			}
			if err := franzPingErr(t, tc.addr, opts...); !errors.Is(err, kerr.SaslAuthenticationFailed) {
				t.Fatalf("wrong credentials: %v, want SASL_AUTHENTICATION_FAILED", err)
			}
		})
	}
	t.Run("no client certificate on SSL", func(t *testing.T) {
		if err := franzPingErr(t, sp.SSL, kgo.DialTLSConfig(sp.pki.serverTLS())); err == nil {
			t.Fatal("an SSL client without a certificate was served; ssl.client.auth=required")
		}
	})
	t.Run("no SASL on SASL_PLAINTEXT", func(t *testing.T) {
		// ApiVersions is served before authentication; Metadata is not.
		cl := newClient(t, sp.SASLPlaintext)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
		if ctx.Err() != nil {
			t.Fatalf("metadata without SASL hung: %v", err)
		}
		if err == nil {
			t.Fatal("a client without SASL was served Metadata through SASL_PLAINTEXT")
		}
	})
	t.Run("plaintext on SSL", func(t *testing.T) {
		if err := franzPingErr(t, sp.SSL); err == nil {
			t.Fatal("a client without TLS was served through SSL")
		}
	})
	sp.assertEmpty(t, topic)
}

// TestSecurityServerKeystores starts the broker with its certificate in each
// keystore format Kafka reads (ssl.keystore.type PEM from a file and inline,
// PKCS12, JKS) and connects over SSL and SASL_SSL.
func TestSecurityServerKeystores(t *testing.T) {
	for _, typ := range []string{"PEM-inline", "PKCS12", "JKS"} {
		t.Run(typ, func(t *testing.T) {
			sp := startSecureBroker(t, secureSetup{keystoreType: typ})
			topic := sp.secTopic(t, "sec-keystore")
			franzRoundTrip(t, sp.SSL, topic, secRecords("ssl", 3), kgo.DialTLSConfig(sp.pki.mutualTLS()))
			consumeValues(t, sp.SASLSSL, topic, 3, kgo.DialTLSConfig(sp.pki.serverTLS()),
				kgo.SASL(scram.Auth{User: secUser, Pass: secPassword}.AsSha256Mechanism()))
		})
	}
}

// xdgSCRAM is sarama's SCRAM client, built on github.com/xdg-go/scram.
type xdgSCRAM struct {
	hash xdgscram.HashGeneratorFcn
	conv *xdgscram.ClientConversation
}

func (x *xdgSCRAM) Begin(user, password, authzID string) error {
	c, err := x.hash.NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	x.conv = c.NewConversation()
	return nil
}

func (x *xdgSCRAM) Step(challenge string) (string, error) { return x.conv.Step(challenge) }
func (x *xdgSCRAM) Done() bool                            { return x.conv.Done() }

// saramaSASL is a sarama configuration authenticating as user with mech.
func saramaSASL(mech sarama.SASLMechanism, user, password string, tlsConfig *tls.Config) *sarama.Config {
	c := saramaConfig(sarama.V3_6_0_0)
	c.Metadata.Retry.Max = 1
	c.Net.SASL.Enable = true
	c.Net.SASL.Mechanism = mech
	c.Net.SASL.User, c.Net.SASL.Password = user, password
	switch mech {
	case sarama.SASLTypeSCRAMSHA256:
		c.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &xdgSCRAM{hash: xdgscram.SHA256} }
	case sarama.SASLTypeSCRAMSHA512:
		c.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &xdgSCRAM{hash: xdgscram.SHA512} }
	}
	if tlsConfig != nil {
		c.Net.TLS.Enable = true
		c.Net.TLS.Config = tlsConfig
	}
	return c
}

func TestSecuritySarama(t *testing.T) {
	sp := secureBroker(t)
	for _, tc := range []struct {
		name string
		addr string
		mech sarama.SASLMechanism
		tls  *tls.Config
	}{
		{"SCRAM-SHA-256/SASL_PLAINTEXT", sp.SASLPlaintext, sarama.SASLTypeSCRAMSHA256, nil},
		{"SCRAM-SHA-512/SASL_PLAINTEXT", sp.SASLPlaintext, sarama.SASLTypeSCRAMSHA512, nil},
		{"SCRAM-SHA-512/SASL_SSL", sp.SASLSSL, sarama.SASLTypeSCRAMSHA512, sp.pki.serverTLS()},
		{"PLAIN/SASL_PLAINTEXT", sp.SASLPlaintext, sarama.SASLTypePlaintext, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := sp.secTopic(t, "sec-sarama-"+strings.NewReplacer("/", "-").Replace(tc.name))
			c := saramaSASL(tc.mech, secUser, secPassword, tc.tls)
			prod := saramaSyncProducer(t, tc.addr, c)
			want := secRecords("sarama", 5)
			for _, v := range want {
				if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder(v)}); err != nil {
					t.Fatalf("send: %v", err)
				}
			}
			var got []string
			for _, m := range saramaConsume(t, tc.addr, c, topic, 0, sarama.OffsetOldest, len(want)) {
				got = append(got, string(m.Value))
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("read back %q, want %q", got, want)
			}
		})
		t.Run(tc.name+"/wrong password", func(t *testing.T) {
			start := time.Now()
			cl, err := sarama.NewClient([]string{tc.addr}, saramaSASL(tc.mech, secUser, "wrong", tc.tls))
			if err == nil {
				cl.Close()
				t.Fatal("sarama connected with a wrong password")
			}
			if !errors.Is(err, sarama.ErrSASLAuthenticationFailed) {
				t.Fatalf("wrong password: %v, want %v", err, sarama.ErrSASLAuthenticationFailed)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Fatalf("the failure took %v", d)
			}
		})
	}
}

func TestSecurityKafkaGo(t *testing.T) {
	sp := secureBroker(t)
	mechanism := func(t *testing.T, name, password string) kgosasl.Mechanism {
		switch name {
		case "PLAIN":
			return kgoplain.Mechanism{Username: secUser, Password: password}
		case "SCRAM-SHA-256", "SCRAM-SHA-512":
			algo := kgoscram.SHA256
			if name == "SCRAM-SHA-512" {
				algo = kgoscram.SHA512
			}
			m, err := kgoscram.Mechanism(algo, secUser, password)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		t.Fatalf("mechanism %s", name)
		return nil
	}
	for _, tc := range []struct {
		mech string
		addr string
		tls  *tls.Config
	}{
		{"PLAIN", sp.SASLPlaintext, nil},
		{"SCRAM-SHA-256", sp.SASLPlaintext, nil},
		{"SCRAM-SHA-512", sp.SASLPlaintext, nil},
		{"SCRAM-SHA-512", sp.SASLSSL, sp.pki.serverTLS()},
	} {
		name := tc.mech + "/SASL_PLAINTEXT"
		if tc.tls != nil {
			name = tc.mech + "/SASL_SSL"
		}
		t.Run(name, func(t *testing.T) {
			topic := sp.secTopic(t, "sec-kafkago-"+strings.NewReplacer("/", "-").Replace(name))
			tr := &kafka.Transport{SASL: mechanism(t, tc.mech, secPassword), TLS: tc.tls, MetadataTTL: time.Second}
			defer tr.CloseIdleConnections()
			w := &kafka.Writer{Addr: kafka.TCP(tc.addr), Topic: topic, Transport: tr, Balancer: &kafka.LeastBytes{}, BatchTimeout: 10 * time.Millisecond}
			defer w.Close()
			want := secRecords("kafkago", 5)
			var msgs []kafka.Message
			for _, v := range want {
				msgs = append(msgs, kafka.Message{Value: []byte(v)})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				t.Fatalf("write: %v", err)
			}
			r := kafka.NewReader(kafka.ReaderConfig{
				Brokers: []string{tc.addr}, Topic: topic, Partition: 0, MinBytes: 1, MaxBytes: 1 << 20,
				MaxWait: 100 * time.Millisecond,
				Dialer:  &kafka.Dialer{Timeout: 10 * time.Second, SASLMechanism: mechanism(t, tc.mech, secPassword), TLS: tc.tls},
			})
			defer r.Close()
			var got []string
			for _, m := range kafkagoRead(t, r, len(want)) {
				got = append(got, string(m.Value))
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("read back %q, want %q", got, want)
			}
		})
		t.Run(name+"/wrong password", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			d := &kafka.Dialer{Timeout: 10 * time.Second, SASLMechanism: mechanism(t, tc.mech, "wrong"), TLS: tc.tls}
			conn, err := d.DialContext(ctx, "tcp", tc.addr)
			if err == nil {
				conn.Close()
				t.Fatal("kafka-go connected with a wrong password")
			}
			if ctx.Err() != nil {
				t.Fatalf("the dial hung: %v", err)
			}
			if !errors.Is(err, kafka.SASLAuthenticationFailed) {
				t.Fatalf("wrong password: %v, want %v", err, kafka.SASLAuthenticationFailed)
			}
		})
	}
}
