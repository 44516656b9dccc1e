package tests

// kafka-delegation-tokens against a secured Moldau, as the admin user over
// SASL_SSL: a token created and described (CreateDelegationToken,
// DescribeDelegationToken), and a client authenticating with it through
// SCRAM's tokenauth=true extension; a wrong HMAC fails.

import (
	"strings"
	"testing"
)

func TestSecurityKafkaDelegationTokensCLI(t *testing.T) {
	sp := startSecureBroker(t, secureSetup{extra: []string{"delegation.token.secret.key=moldau-test-token-secret"}})
	out := kafkaCLI(t, sp, tokensCLI, "--create", "--max-life-time-period", "-1", "--renewer-principal", "User:"+secAdmin)
	id, hmac, ok := parseTokenLine(out)
	if !ok {
		t.Fatalf("kafka-delegation-tokens --create printed no token:\n%s", out)
	}
	// The token reaches DescribeDelegationToken through the metadata log:
	// poll.
	waitFor(t, "kafka-delegation-tokens --describe to list the token", func() bool {
		return strings.Contains(kafkaCLI(t, sp, tokensCLI, "--describe", "--owner-principal", "User:"+secAdmin), id)
	})
	waitFor(t, "the token to authenticate", func() bool { return scramPing(t, sp, id, hmac, true) == nil })
	if err := scramPing(t, sp, id, hmac+"x", true); err == nil {
		t.Fatal("a wrong token HMAC authenticated")
	}
}

// parseTokenLine finds the token id and HMAC in kafka-delegation-tokens
// --create's table (TOKENID HMAC OWNER ...).
func parseTokenLine(out string) (id, hmac string, ok bool) {
	lines := strings.Split(out, "\n")
	for i, line := range lines {
		if !strings.HasPrefix(strings.TrimSpace(line), "TOKENID") {
			continue
		}
		for _, next := range lines[i+1:] {
			if f := strings.Fields(next); len(f) >= 2 {
				return f[0], f[1], true
			}
		}
	}
	return "", "", false
}
