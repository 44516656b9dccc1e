package tests

// KIP-368 re-authentication with real clients: with
// connections.max.reauth.ms set, the broker gives each SASL session a
// lifetime (SaslAuthenticate's session_lifetime_ms) and closes a connection
// whose session expired. kafka-go, which does not re-authenticate, loses its
// connection; franz-go re-authenticates in time and loses none; the Java
// client counts its re-authentications (successful-reauthentication-total).

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	kgoscram "github.com/segmentio/kafka-go/sasl/scram"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// reauthMs is the session lifetime of the re-authentication tests.
const reauthMs = "2500"

// disconnectCounter counts franz-go's closed connections to brokers (seed
// connections, with negative ids, aside).
type disconnectCounter struct{ n atomic.Int32 }

func (c *disconnectCounter) OnBrokerDisconnect(meta kgo.BrokerMetadata, _ net.Conn) {
	if meta.NodeID >= 0 {
		c.n.Add(1)
	}
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestSecurityReauthentication(t *testing.T) {
	sp := startSecureBroker(t, secureSetup{extra: []string{"connections.max.reauth.ms=" + reauthMs}})
	topic := sp.secTopic(t, "sec-reauth")

	t.Run("kafka-go without re-authentication is cut off", func(t *testing.T) {
		mech, err := kgoscram.Mechanism(kgoscram.SHA512, secUser, secPassword)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := (&kafka.Dialer{SASLMechanism: mech}).DialLeader(ctx, "tcp", sp.SASLPlaintext, topic, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		if _, err := conn.WriteMessages(kafka.Message{Value: []byte("within the session")}); err != nil {
			t.Fatalf("write within the session: %v", err)
		}
		waitFor(t, "the broker to close the connection once its session expired", func() bool {
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			_, err := conn.WriteMessages(kafka.Message{Value: []byte("x")})
			return err != nil
		})
		if d := time.Since(start); d < 2400*time.Millisecond {
			t.Fatalf("the connection failed %v after authenticating, before its %s ms session ended", d, reauthMs)
		}
	})

	t.Run("franz-go re-authenticates", func(t *testing.T) {
		var hooks disconnectCounter
		cl, err := kgo.NewClient(kgo.SeedBrokers(sp.SASLPlaintext), kgo.DefaultProduceTopic(topic), kgo.WithHooks(&hooks),
			kgo.SASL(scram.Auth{User: secUser, Pass: secPassword}.AsSha512Mechanism()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Produce across three session lifetimes.
		end := time.Now().Add(6 * time.Second)
		n := 0
		for time.Now().Before(end) {
			if err := cl.ProduceSync(ctx, kgo.StringRecord("r")).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", n, err)
			}
			n++
			time.Sleep(50 * time.Millisecond) // the client's pace, not a wait for a condition
		}
		if d := hooks.n.Load(); d != 0 {
			t.Fatalf("%d records over 6 s of %s ms sessions: %d broker connections closed, want 0 (re-authentication on the connection)", n, reauthMs, d)
		}
		t.Logf("%d records, no connection lost", n)
	})

	t.Run("Java counts its re-authentications", func(t *testing.T) {
		cp := javaClasspath(t)
		file := writeTemp(t, "client.properties", strings.Join([]string{
			"bootstrap.servers=" + sp.SASLPlaintext, "security.protocol=SASL_PLAINTEXT", "sasl.mechanism=SCRAM-SHA-256",
			`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="` + secUser + `" password="` + secPassword + `";`,
		}, "\n")+"\n")
		out, err := runDriver(t, 60*time.Second, nil, "java", "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp", cp,
			"SecureClient", file, topic, "reauth:6000")
		last := lastLine(out)
		if err != nil || !strings.HasPrefix(last, "OK") {
			t.Fatalf("java client: %v, %s\n%s", err, last, out)
		}
		t.Log(last)
	})
}
