package broker

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/moldau/moldau/broker/sasl"
)

func TestAlterAndDescribeUserScramCredentials(t *testing.T) {
	b, _ := newSASLBroker(t)
	conn := saslConn()

	describe := func(users ...string) *kmsg.DescribeUserSCRAMCredentialsResponse {
		req := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
		for _, u := range users {
			req.Users = append(req.Users, kmsg.DescribeUserSCRAMCredentialsRequestUser{Name: u})
		}
		resp, _ := call[*kmsg.DescribeUserSCRAMCredentialsResponse](t, b, conn, 0, req)
		return resp
	}
	// The --add-scram users.
	d := describe()
	if len(d.Results) != 1 || d.Results[0].User != "alice" || len(d.Results[0].CredentialInfos) != 2 ||
		d.Results[0].CredentialInfos[0].Mechanism != 1 || d.Results[0].CredentialInfos[0].Iterations != 4096 ||
		d.Results[0].CredentialInfos[1].Mechanism != 2 || d.Results[0].CredentialInfos[1].Iterations != 8192 {
		t.Fatalf("describe all: %+v", d)
	}
	d = describe("alice", "nobody", "alice")
	if len(d.Results) != 2 {
		t.Fatalf("describe: %+v", d)
	}
	wantCode(t, "duplicate", d.Results[0].ErrorCode, kerr.DuplicateResource)
	wantCode(t, "nobody", d.Results[1].ErrorCode, kerr.ResourceNotFound)
	if d.Results[1].ErrorMessage == nil || *d.Results[1].ErrorMessage != "Attempt to describe nonexistent SCRAM credential for user nobody" {
		t.Errorf("nobody: %v", d.Results[1].ErrorMessage)
	}

	// Upsert bob (SHA-512) as a client does: salt and salted password.
	salt := []byte("0123456789abcdef")
	salted := saltedPassword(t, sasl.ScramSHA512, "bob-secret", salt, 4096)
	up := func(name string, mech int8, iter int32) kmsg.AlterUserSCRAMCredentialsRequestUpsertion {
		u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		u.Name, u.Mechanism, u.Iterations, u.Salt, u.SaltedPassword = name, mech, iter, salt, salted
		return u
	}
	del := func(name string, mech int8) kmsg.AlterUserSCRAMCredentialsRequestDeletion {
		d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
		d.Name, d.Mechanism = name, mech
		return d
	}
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	req.Upsertions = []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{
		up("bob", 2, 4096), up("few", 2, 4095), up("many", 2, 16385), up("mech", 3, 4096), up("twice", 1, 4096), up("twice", 2, 4096), up("", 1, 4096), up("few", 1, 4096),
	}
	req.Deletions = []kmsg.AlterUserSCRAMCredentialsRequestDeletion{del("ghost", 1), del("alice", 1)}
	a, _ := call[*kmsg.AlterUserSCRAMCredentialsResponse](t, b, conn, 0, req)
	want := map[string]*kerr.Error{"bob": nil, "few": kerr.UnacceptableCredential, "many": kerr.UnacceptableCredential,
		"mech": kerr.UnsupportedSaslMechanism, "twice": kerr.DuplicateResource, "": kerr.UnacceptableCredential,
		"ghost": kerr.ResourceNotFound, "alice": nil}
	if len(a.Results) != len(want) {
		t.Fatalf("alter: %d results: %+v", len(a.Results), a.Results)
	}
	for _, r := range a.Results {
		w, ok := want[r.User]
		if !ok {
			t.Errorf("unexpected result for %q", r.User)
			continue
		}
		wantCode(t, "alter "+r.User, r.ErrorCode, w)
	}
	// bob logs in with SCRAM-SHA-512; alice's SHA-256 credential is gone.
	if resp, _ := login(t, b, saslConn(), scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha512Mechanism(), 1); resp.ErrorCode != 0 {
		t.Errorf("bob: %+v", resp)
	}
	if resp, _ := login(t, b, saslConn(), scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha256Mechanism(), 1); resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
		t.Errorf("alice SHA-256 after deletion: %+v", resp)
	}
	d = describe("alice", "bob")
	if len(d.Results) != 2 || len(d.Results[0].CredentialInfos) != 1 || d.Results[0].CredentialInfos[0].Mechanism != 2 ||
		len(d.Results[1].CredentialInfos) != 1 || d.Results[1].CredentialInfos[0].Mechanism != 2 {
		t.Errorf("describe after alter: %+v", d)
	}
}

func saltedPassword(t *testing.T, mech, pw string, salt []byte, iter int) []byte {
	t.Helper()
	// The salted password as a client computes it; checked by deriving
	// the same stored key as NewScramCredential.
	c, err := sasl.NewScramCredential(mech, pw, salt, iter)
	if err != nil {
		t.Fatal(err)
	}
	sp := pbkdf2Key(t, mech, pw, salt, iter)
	c2, _ := sasl.ScramCredentialFromSalted(mech, salt, sp, iter)
	if string(c2.StoredKey) != string(c.StoredKey) {
		t.Fatal("salted password does not match NewScramCredential")
	}
	return sp
}

func pbkdf2Key(t *testing.T, mech, pw string, salt []byte, iter int) []byte {
	t.Helper()
	h := sha256.New
	if mech == sasl.ScramSHA512 {
		h = sha512.New
	}
	k, err := pbkdf2.Key(h, pw, salt, iter, h().Size())
	if err != nil {
		t.Fatal(err)
	}
	return k
}
