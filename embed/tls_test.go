package embed

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/internal/testcerts"
)

// TestWithTLS: an embedded broker with an SSL listener requiring client
// certificates serves a franz-go client configured for mTLS, and still
// serves PLAINTEXT on Addr.
func TestWithTLS(t *testing.T) {
	ca := testcerts.NewCA(t, "embed-ca")
	server := ca.Issue(t, pkix.Name{CommonName: "embedded"}, "127.0.0.1")
	client := ca.Issue(t, pkix.Name{CommonName: "app"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Start(ctx, WithTLS(server.CertPEM, server.KeyPEM, "required", ca.CertPEM), WithProperty("auto.create.topics.enable", "true"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.ListenerAddr("SSL") == "" || b.ListenerAddr("PLAINTEXT") != b.Addr() {
		t.Fatalf("listeners: SSL %q PLAINTEXT %q Addr %q", b.ListenerAddr("SSL"), b.ListenerAddr("PLAINTEXT"), b.Addr())
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.ListenerAddr("SSL")),
		kgo.DialTLSConfig(&tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{client.TLS}}),
		kgo.DefaultProduceTopic("t"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("produce over mTLS: %v", err)
	}
	plain, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.Ping(ctx); err != nil {
		t.Fatalf("plaintext: %v", err)
	}
}
