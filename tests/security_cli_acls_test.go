package tests

// kafka-acls against a secured Moldau with the authorizer on, as the admin
// super user over SASL_SSL: an ACL added, listed and removed (CreateAcls,
// DescribeAcls, DeleteAcls), and a SCRAM user's writes following it.

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

func TestSecurityKafkaAclsCLI(t *testing.T) {
	sp := startSecureBroker(t, secureSetup{extra: authorizerProps,
		args: []string{"--add-scram", "SCRAM-SHA-512=[name=bob,password=bob-secret]"}})
	topic := sp.secTopic(t, "sec-cli-acls")
	bob := []kgo.Opt{kgo.SASL(scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha512Mechanism())}
	expectWrite(t, "bob without ACLs", sp.SASLPlaintext, topic, false, bob...)
	kafkaCLI(t, sp, aclsCLI, "--add", "--allow-principal", "User:bob", "--operation", "Write", "--operation", "Read", "--topic", topic)
	out := kafkaCLI(t, sp, aclsCLI, "--list", "--topic", topic)
	if !strings.Contains(out, "principal=User:bob") || !strings.Contains(out, "operation=WRITE") {
		t.Fatalf("kafka-acls --list:\n%s", out)
	}
	expectWrite(t, "bob with an ACL", sp.SASLPlaintext, topic, true, bob...)
	kafkaCLI(t, sp, aclsCLI, "--remove", "--force", "--allow-principal", "User:bob", "--operation", "Write", "--operation", "Read", "--topic", topic)
	waitFor(t, "bob's ACL removal to take effect", func() bool {
		return errors.Is(franzWriteErr(t, sp.SASLPlaintext, topic, bob...), kerr.TopicAuthorizationFailed)
	})
}
