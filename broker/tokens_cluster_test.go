package broker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestClusterDelegationTokens: a token created on one broker of a cluster
// authenticates on every broker (the cluster entityStore replicates it);
// a renewal on another broker moves its expiry everywhere; an expire on a
// third removes it everywhere; the expiry sweep runs on the controller only.
func TestClusterDelegationTokens(t *testing.T) {
	tc := newTestCluster(t, 3)
	for i := range tc.brokers { // restarted with tokens on
		tc.stop(i)
		tc.cfgs[i].Security.Tokens.SecretKey = testTokenKey
		tc.start(i)
	}
	var ctrl int
	tc.waitFor("a controller", func() bool { ctrl = tc.controllerIndex(0); return ctrl >= 0 })
	n1, n2, n3 := tc.brokers[(ctrl+1)%3], tc.brokers[(ctrl+2)%3], tc.brokers[ctrl]
	alice := sessionConn("User:alice")

	tok := mustCreateToken(t, n1, alice, 3, createTokenReq(-1))
	tc.waitFor("every broker authenticates the token", func() bool {
		for _, b := range tc.brokers {
			if _, owner, ok := b.tokenScramCredential("SCRAM-SHA-512", tok.TokenID); !ok || owner != "User:alice" {
				return false
			}
		}
		return true
	})

	r := renewToken(t, n2, alice, 2, tok.HMAC, 60_000)
	wantCode(t, "renew on another broker", r.ErrorCode, nil)
	tc.waitFor("every broker has the new expiry", func() bool {
		for _, b := range tc.brokers {
			if exp, ok := b.tokenExpiry(tok.TokenID); !ok || exp.UnixMilli() != r.ExpiryTimestamp {
				return false
			}
		}
		return true
	})

	wantCode(t, "expire on a third broker", expireToken(t, n3, alice, 2, tok.HMAC, -1).ErrorCode, nil)
	tc.waitFor("the token is gone everywhere", func() bool { return tc.entityEverywhere(entityToken, tok.TokenID, nil) })
	for _, b := range tc.brokers {
		if _, _, ok := b.tokenScramCredential("SCRAM-SHA-256", tok.TokenID); ok {
			t.Error("an expired token still authenticates")
		}
	}

	// A token with a 1 ms lifetime: only the controller's sweep removes it.
	short := mustCreateToken(t, n1, alice, 2, createTokenReq(1))
	tc.waitFor("the short token everywhere", func() bool {
		for _, b := range tc.brokers {
			if _, ok := b.entities.Get(entityToken, short.TokenID); !ok {
				return false
			}
		}
		return true
	})
	tc.waitFor("the short token expires", func() bool { return time.Now().UnixMilli() > short.MaxTimestamp })
	ctx := context.Background()
	if n, err := n1.sweepExpiredTokens(ctx); n != 0 || err != nil {
		t.Errorf("a follower's sweep removed %d (%v), want 0", n, err)
	}
	if n, err := n3.sweepExpiredTokens(ctx); n != 1 || err != nil {
		t.Errorf("the controller's sweep removed %d (%v), want 1", n, err)
	}
	tc.waitFor("the swept token is gone everywhere", func() bool { return tc.entityEverywhere(entityToken, short.TokenID, nil) })
	wantCode(t, "renew a swept token", renewToken(t, n2, alice, 2, short.HMAC, -1).ErrorCode, kerr.DelegationTokenNotFound)
}
