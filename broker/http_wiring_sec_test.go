package broker

import (
	"net/http"
	"testing"
)

// TestHTTPFrontEndsPreferSASLWithAuthorizer: with the authorizer on, the
// front ends dial a SASL listener rather than PLAINTEXT, so HTTP users
// authenticate and get their own ACLs instead of all acting as
// User:ANONYMOUS; without it PLAINTEXT stays first.
func TestHTTPFrontEndsPreferSASLWithAuthorizer(t *testing.T) {
	listeners := []string{"--listeners", "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
		"--set", "sasl.enabled.mechanisms=SCRAM-SHA-512",
		"--add-scram", "SCRAM-SHA-512=[name=admin,password=admin-secret]"}
	b, logs := startFrontEnds(t, append(listeners,
		"--set", "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"--set", "super.users=User:admin;User:ANONYMOUS")...)
	if b.HTTPProxyAddr() == "" {
		t.Fatalf("no http proxy:\n%s", logs.String())
	}
	if !b.frontEnds.clients.AuthRequired() {
		t.Fatal("with the authorizer on, the front ends use PLAINTEXT: every HTTP user is User:ANONYMOUS (here a super user)")
	}
	get := func(user, pw string) int {
		req, _ := http.NewRequest("GET", "http://"+b.HTTPProxyAddr()+"/v3/clusters", nil)
		if user != "" {
			req.SetBasicAuth(user, pw)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := get("", ""); st != http.StatusUnauthorized {
		t.Errorf("without credentials: %d, want 401", st)
	}
	if st := get("admin", "admin-secret"); st != http.StatusOK {
		t.Errorf("admin: %d, want 200", st)
	}

	plain, _ := startFrontEnds(t, listeners...)
	if plain.frontEnds.clients.AuthRequired() {
		t.Error("without the authorizer the front ends should dial PLAINTEXT")
	}
}
