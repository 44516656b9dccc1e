package tests

// Who a connection authenticated as, seen through the authorizer: with
// Kafka's StandardAuthorizer on and ACLs naming exactly one principal, a
// SCRAM user is User:alice, a client certificate is its subject's RFC 2253
// DN (User:CN=alice,OU=clients,O=Moldau), and ssl.principal.mapping.rules
// rewrites that DN. A principal without an ACL is refused.

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// authorizerProps turn the authorizer on; PLAINTEXT (User:ANONYMOUS, the
// tests' setup client) and admin are super users.
var authorizerProps = []string{
	"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
	"super.users=User:" + secAdmin + ";User:ANONYMOUS",
	"allow.everyone.if.no.acl.found=false",
}

// allowReadWrite lets principal read and write topic (literal), through the
// PLAINTEXT listener's super user.
func (sp *secureProc) allowReadWrite(t *testing.T, principal, topic string) {
	t.Helper()
	b := kadm.NewACLs().Allow(principal).AllowHosts().Topics(topic).
		Operations(kadm.OpRead, kadm.OpWrite, kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral)
	res, err := kadm.NewClient(newClient(t, sp.Plaintext)).CreateACLs(ctxT(t), b)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("create ACL for %s on %s: %v", principal, topic, r.Err)
		}
	}
}

// franzWriteErr writes one record to topic as the client built from opts:
// nil, or the error (within 15 s).
func franzWriteErr(t *testing.T, addr, topic string, opts ...kgo.Opt) error {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = cl.ProduceSync(ctx, kgo.StringRecord("v")).FirstErr()
	if ctx.Err() != nil {
		t.Fatalf("writing to %s through %s hung (%v)", topic, addr, err)
	}
	return err
}

// expectWrite checks that the client from opts may (allowed) or may not
// write to topic; an allowed write is retried for a while, as ACLs take
// effect through the metadata log.
func expectWrite(t *testing.T, who, addr, topic string, allowed bool, opts ...kgo.Opt) {
	t.Helper()
	if !allowed {
		if err := franzWriteErr(t, addr, topic, opts...); !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Errorf("%s writing to %s: %v, want TOPIC_AUTHORIZATION_FAILED", who, topic, err)
		}
		return
	}
	var last error
	ok := false
	deadline := time.Now().Add(10 * time.Second)
	for !ok && time.Now().Before(deadline) {
		last = franzWriteErr(t, addr, topic, opts...)
		ok = last == nil
	}
	if !ok {
		t.Errorf("%s writing to %s: %v, want it allowed", who, topic, last)
	}
}

func TestSecurityPrincipals(t *testing.T) {
	sp := startSecureBroker(t, secureSetup{extra: authorizerProps})
	p := sp.pki
	scramAlice := []kgo.Opt{kgo.DialTLSConfig(p.serverTLS()), kgo.SASL(scram.Auth{User: secUser, Pass: secPassword}.AsSha512Mechanism())}
	certAlice := []kgo.Opt{kgo.DialTLSConfig(p.mutualTLS())}
	bobTLS := p.serverTLS()
	bobTLS.Certificates = []tls.Certificate{p.bob}
	certBob := []kgo.Opt{kgo.DialTLSConfig(bobTLS)}

	byName := sp.secTopic(t, "sec-principal-by-name")
	byDN := sp.secTopic(t, "sec-principal-by-dn")

	expectWrite(t, "alice (SCRAM) without ACLs", sp.SASLSSL, byName, false, scramAlice...)
	expectWrite(t, "alice's certificate without ACLs", sp.SSL, byDN, false, certAlice...)

	sp.allowReadWrite(t, "User:"+secUser, byName)
	sp.allowReadWrite(t, "User:"+aliceDN, byDN)
	expectWrite(t, "alice (SCRAM)", sp.SASLSSL, byName, true, scramAlice...)
	expectWrite(t, "alice's certificate", sp.SSL, byDN, true, certAlice...)
	expectWrite(t, "alice (SCRAM) on the DN's topic", sp.SASLSSL, byDN, false, scramAlice...)
	expectWrite(t, "alice's certificate on User:alice's topic", sp.SSL, byName, false, certAlice...)
	expectWrite(t, "bob's certificate", sp.SSL, byDN, false, certBob...)
	expectWrite(t, "admin (PLAIN, a super user)", sp.SASLPlaintext, byDN, true,
		kgo.SASL(plain.Auth{User: secAdmin, Pass: secAdminPass}.AsMechanism()))
	if !t.Failed() {
		got := consumeValues(t, sp.SSL, byDN, 2, certAlice...)
		if len(got) != 2 {
			t.Fatalf("alice's certificate read %d records of %s, want 2", len(got), byDN)
		}
	}
}

func TestSecurityPrincipalMappingRules(t *testing.T) {
	sp := startSecureBroker(t, secureSetup{extra: append([]string{
		`ssl.principal.mapping.rules=RULE:^CN=([^,]*),OU=clients,.*$/$1/,DEFAULT`,
	}, authorizerProps...)})
	topic := sp.secTopic(t, "sec-principal-mapped")
	certAlice := []kgo.Opt{kgo.DialTLSConfig(sp.pki.mutualTLS())}
	expectWrite(t, "alice's certificate without ACLs", sp.SSL, topic, false, certAlice...)
	sp.allowReadWrite(t, "User:"+secUser, topic)
	expectWrite(t, "alice's certificate mapped to User:alice", sp.SSL, topic, true, certAlice...)
	expectWrite(t, "alice (SCRAM)", sp.SASLPlaintext, topic, true, kgo.SASL(scram.Auth{User: secUser, Pass: secPassword}.AsSha256Mechanism()))
}
