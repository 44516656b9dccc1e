package console_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/moldau/moldau/broker/console"
	"github.com/moldau/moldau/broker/serde"
	"github.com/moldau/moldau/broker/webclient"
	"github.com/moldau/moldau/embed"
)

type aclList struct {
	Enabled bool `json:"enabled"`
	ACLs    []struct {
		ResourceType string `json:"resource_type"`
		ResourceName string `json:"resource_name"`
		PatternType  string `json:"pattern_type"`
		Principal    string `json:"principal"`
		Host         string `json:"host"`
		Operation    string `json:"operation"`
		Permission   string `json:"permission"`
	} `json:"acls"`
}

type userList struct {
	Users []struct {
		User       string `json:"user"`
		Mechanisms []struct {
			Mechanism  string `json:"mechanism"`
			Iterations int32  `json:"iterations"`
		} `json:"mechanisms"`
	} `json:"users"`
}

func TestSecurityOff(t *testing.T) {
	f := newFixture(t)
	var a aclList
	f.call("GET", "/api/acls", nil, 200, &a)
	if a.Enabled || a.ACLs == nil {
		t.Fatalf("acls without an authorizer: %+v", a)
	}
	var u userList
	f.call("GET", "/api/users", nil, 200, &u)
	if u.Users == nil || len(u.Users) != 0 {
		t.Fatalf("users: %+v", u)
	}
	if _, err := f.adm.AlterUserSCRAMs(f.ctx, nil, []kadm.UpsertSCRAM{{User: "carol", Mechanism: kadm.ScramSha512,
		Iterations: 8192, Password: "carol-secret"}}); err != nil {
		t.Fatal(err)
	}
	f.call("GET", "/api/users", nil, 200, &u)
	if len(u.Users) != 1 || u.Users[0].User != "carol" || len(u.Users[0].Mechanisms) != 1 ||
		u.Users[0].Mechanisms[0].Mechanism != "SCRAM-SHA-512" || u.Users[0].Mechanisms[0].Iterations != 8192 {
		t.Fatalf("users: %+v", u)
	}
}

// TestSecurityOn: a SASL listener and an authorizer. The console asks for
// Basic credentials, and the broker's ACLs decide what each user sees.
func TestSecurityOn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := embed.Start(ctx,
		embed.WithListeners(embed.Listener{Name: "SASL_PLAINTEXT"}),
		embed.WithSASLUser(embed.MechanismScramSHA256, "alice", "alice-secret"),
		embed.WithSASLUser(embed.MechanismScramSHA256, "bob", "bob-secret"),
		embed.WithProperty("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"),
		embed.WithProperty("super.users", "User:alice;User:ANONYMOUS"),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pool := webclient.New(webclient.Config{
		Opts:         []kgo.Opt{kgo.SeedBrokers(b.ListenerAddr("SASL_PLAINTEXT"))},
		AuthRequired: true,
		Mechanism: func(c webclient.Credentials) sasl.Mechanism {
			return scram.Auth{User: c.User, Pass: c.Password}.AsSha256Mechanism()
		},
	})
	defer pool.Close()
	f := startConsole(t, ctx, b, nil, console.Config{Clients: pool, Serde: serde.New(nil)})

	// No credentials, wrong ones: 401 with a Basic challenge.
	for _, cred := range []*webclient.Credentials{nil, {User: "alice", Password: "wrong"}} {
		f.user = cred
		code, h, _ := f.do("GET", "/api/topics", nil)
		if code != 401 || h.Get("WWW-Authenticate") != `Basic realm="moldau"` {
			t.Fatalf("credentials %+v: status %d, challenge %q", cred, code, h.Get("WWW-Authenticate"))
		}
	}
	// The static UI needs no credentials.
	if code, _, _ := f.do("GET", "/", nil); code != 200 {
		t.Fatalf("GET / without credentials: %d", code)
	}

	f.user = &webclient.Credentials{User: "alice", Password: "alice-secret"}
	f.createTopic("secret", 1)
	f.createTopic("open", 1)
	if _, err := f.adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:bob").Topics("open").
		Operations(kadm.OpDescribe, kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)); err != nil {
		t.Fatal(err)
	}
	var a aclList
	f.call("GET", "/api/acls", nil, 200, &a)
	if !a.Enabled || len(a.ACLs) != 2 {
		t.Fatalf("acls: %+v", a)
	}
	for _, e := range a.ACLs {
		if e.ResourceType != "TOPIC" || e.ResourceName != "open" || e.PatternType != "LITERAL" || e.Principal != "User:bob" ||
			e.Host != "*" || e.Permission != "ALLOW" || (e.Operation != "READ" && e.Operation != "DESCRIBE") {
			t.Fatalf("acl %+v", e)
		}
	}
	var o struct {
		SASL       bool `json:"sasl"`
		Authorizer bool `json:"authorizer"`
	}
	f.call("GET", "/api/overview", nil, 200, &o)
	if !o.SASL || !o.Authorizer {
		t.Fatalf("overview security flags %+v", o)
	}
	var u userList
	f.call("GET", "/api/users", nil, 200, &u)
	if len(u.Users) != 2 || u.Users[0].User != "alice" || u.Users[1].User != "bob" || u.Users[1].Mechanisms[0].Mechanism != "SCRAM-SHA-256" {
		t.Fatalf("users %+v", u)
	}

	// bob sees the topic he may describe, and is refused the rest.
	f.user = &webclient.Credentials{User: "bob", Password: "bob-secret"}
	f.call("GET", "/api/topics/open", nil, 200, nil)
	f.call("GET", "/api/topics/secret", nil, 403, nil)
	f.call("GET", "/api/acls", nil, 403, nil)
	f.call("POST", "/api/topics", map[string]any{"name": "bobs", "partitions": 1}, 403, nil)
	f.call("POST", "/api/topics/open/messages", map[string]any{"value": "x"}, 403, nil)
	var list []topicRow
	f.call("GET", "/api/topics", nil, 200, &list)
	if len(list) != 1 || list[0].Name != "open" {
		t.Fatalf("bob's topics: %+v", list)
	}
}
