package broker

// Delegation tokens (KIP-48), as Kafka 4.x serves them.
//
// A token is created by a SASL-authenticated client (CreateDelegationToken,
// 38_create_delegation_token.go) and lets another client authenticate with
// SCRAM as the token's owner: the SCRAM user name is the token id, the
// password the token's HMAC in standard base64, and the client sends the
// "tokenauth=true" extension (tokens_lookup.go answers the SCRAM server).
// The HMAC is HMAC-SHA512(delegation.token.secret.key, token id), as in
// Kafka, so every broker with the same key computes the same one.
//
// Tokens live in the entityStore under kind "token", keyed by token id; the
// value's layout is in FORMAT.md (encodeToken/decodeToken below). Expired
// tokens are removed every delegation.token.expiry.check.interval.ms by the
// controller (the only node on a single broker).
//
// Locking: tokenState.mu serialises this broker's read-modify-write of
// tokens (create, renew, expire, the expiry sweep), so that an expire racing
// a renew cannot put a deleted token back. Brokers of a cluster do not share
// it: two brokers renewing one token at the same moment both succeed and the
// later commit's expiry wins, which is harmless. It is held across
// entityStore.Apply, which may wait for a Raft commit; token operations are
// rare administrative requests and run in Reply.Wait, never on a reader
// goroutine.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/moldau/moldau/broker/sasl"
	"github.com/moldau/moldau/protocol"
)

// tokenState is the broker's delegation-token state beside the entityStore.
type tokenState struct {
	mu sync.Mutex // see the file comment
}

// delegationToken is one token as stored (FORMAT.md, "token" entities).
// Timestamps are Unix milliseconds, as on the wire.
type delegationToken struct {
	ID        string
	Owner     string   // the principal the token authenticates as, "User:alice"
	Requester string   // who created it (differs from Owner with KIP-373's owner field)
	Renewers  []string // principals besides the owner that may renew or expire it
	IssueMs   int64
	ExpiryMs  int64 // renewable up to MaxMs
	MaxMs     int64
	HMAC      []byte
	// Scram holds one credential per SCRAM mechanism (scramMechanisms),
	// derived from the base64 HMAC as the password.
	Scram []sasl.ScramCredential
}

// expired reports whether the token is past its expiry or its maximum
// lifetime at nowMs (Kafka: a timestamp strictly before now).
func (t *delegationToken) expired(nowMs int64) bool { return t.ExpiryMs < nowMs || t.MaxMs < nowMs }

// ownerOrRenewer is Kafka's TokenInformation.ownerOrRenewer: who may
// describe a token without further authorization.
func (t *delegationToken) ownerOrRenewer(principal string) bool {
	return t.Owner == principal || t.Requester == principal || t.mayRenew(principal)
}

// mayRenew reports whether principal may renew or expire the token: its
// owner or one of its renewers (Kafka's DelegationTokenControlManager).
func (t *delegationToken) mayRenew(principal string) bool {
	if t.Owner == principal {
		return true
	}
	for _, r := range t.Renewers {
		if r == principal {
			return true
		}
	}
	return false
}

// tokenFormatV0 is the version byte of a stored token (FORMAT.md).
const tokenFormatV0 = 0

// scramIterations is the iteration count of tokens' SCRAM credentials:
// Kafka's minimum for both mechanisms, which its DelegationTokenManager uses.
const scramIterations = 4096

// scramMechanisms are the mechanisms a token carries credentials for.
var scramMechanisms = []string{sasl.ScramSHA256, sasl.ScramSHA512}

// errTokenCorrupt: a stored token value does not decode.
var errTokenCorrupt = errors.New("broker: corrupt delegation token")

// encodeToken lays t out as FORMAT.md describes.
func encodeToken(t *delegationToken) []byte {
	b := []byte{tokenFormatV0}
	b = appendTokenString(b, t.ID)
	b = appendTokenString(b, t.Owner)
	b = appendTokenString(b, t.Requester)
	b = binary.BigEndian.AppendUint16(b, uint16(len(t.Renewers)))
	for _, r := range t.Renewers {
		b = appendTokenString(b, r)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(t.IssueMs))
	b = binary.BigEndian.AppendUint64(b, uint64(t.ExpiryMs))
	b = binary.BigEndian.AppendUint64(b, uint64(t.MaxMs))
	b = appendTokenBytes(b, t.HMAC)
	b = append(b, byte(len(t.Scram)))
	for _, c := range t.Scram {
		b = appendTokenString(b, c.Mechanism)
		b = appendTokenBytes(b, c.Salt)
		b = appendTokenBytes(b, c.StoredKey)
		b = appendTokenBytes(b, c.ServerKey)
		b = binary.BigEndian.AppendUint32(b, uint32(c.Iterations))
	}
	return b
}

func appendTokenString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func appendTokenBytes(b, p []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
	return append(b, p...)
}

// tokenReader decodes FORMAT.md's fields; the first short read sets err.
type tokenReader struct {
	b   []byte
	err error
}

func (r *tokenReader) take(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err = errTokenCorrupt
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *tokenReader) u8() byte {
	if p := r.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *tokenReader) u16() int {
	if p := r.take(2); p != nil {
		return int(binary.BigEndian.Uint16(p))
	}
	return 0
}

func (r *tokenReader) u32() uint32 {
	if p := r.take(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (r *tokenReader) i64() int64 {
	if p := r.take(8); p != nil {
		return int64(binary.BigEndian.Uint64(p))
	}
	return 0
}

func (r *tokenReader) bytes() []byte { return r.take(r.u16()) }
func (r *tokenReader) str() string   { return string(r.bytes()) }

// decodeToken parses a stored token. The result does not alias v.
func decodeToken(v []byte) (*delegationToken, error) {
	if len(v) == 0 || v[0] != tokenFormatV0 {
		return nil, fmt.Errorf("%w: unknown format version", errTokenCorrupt)
	}
	r := &tokenReader{b: v[1:]}
	t := &delegationToken{ID: r.str(), Owner: r.str(), Requester: r.str()}
	for n := r.u16(); n > 0 && r.err == nil; n-- {
		t.Renewers = append(t.Renewers, r.str())
	}
	t.IssueMs, t.ExpiryMs, t.MaxMs = r.i64(), r.i64(), r.i64()
	t.HMAC = cloneBytes(r.bytes())
	for n := r.u8(); n > 0 && r.err == nil; n-- {
		c := sasl.ScramCredential{Mechanism: r.str(), Salt: cloneBytes(r.bytes()), StoredKey: cloneBytes(r.bytes()), ServerKey: cloneBytes(r.bytes())}
		c.Iterations = int(r.u32())
		t.Scram = append(t.Scram, c)
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errTokenCorrupt, len(r.b))
	}
	return t, nil
}

func cloneBytes(p []byte) []byte { return append([]byte(nil), p...) }

// newTokenID is a random token id in the form of Kafka's Uuid.toString:
// 16 random bytes in URL-safe base64 without padding (22 characters), never
// starting with '-' (Kafka redraws those, so that ids are not mistaken for
// command-line options).
func newTokenID() string {
	for {
		var u [16]byte
		_, _ = rand.Read(u[:]) // crypto/rand.Read never fails (Go 1.24+)
		id := base64.RawURLEncoding.EncodeToString(u[:])
		if !strings.HasPrefix(id, "-") {
			return id
		}
	}
}

// tokenHMAC is Kafka's token HMAC: HMAC-SHA512 keyed with the UTF-8 bytes
// of delegation.token.secret.key over the UTF-8 bytes of the token id.
func tokenHMAC(secretKey, tokenID string) []byte {
	m := hmac.New(sha512.New, []byte(secretKey))
	m.Write([]byte(tokenID))
	return m.Sum(nil)
}

// tokenScramCredentials derives the SCRAM credentials (RFC 5802 §3) a token
// authenticates with: the password is the HMAC in standard base64, with a
// fresh random salt per mechanism, as Kafka's DelegationTokenManager does.
func tokenScramCredentials(hmacBytes []byte) ([]sasl.ScramCredential, error) {
	password := base64.StdEncoding.EncodeToString(hmacBytes)
	out := make([]sasl.ScramCredential, 0, len(scramMechanisms))
	for _, mech := range scramMechanisms {
		c, err := sasl.NewScramCredential(mech, password, nil, scramIterations)
		if err != nil {
			return nil, fmt.Errorf("broker: token credential: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// tokenRequestsAllowed is Kafka's KafkaApis.allowTokenRequests: token
// requests need an authenticated identity that is not itself a token — a
// SASL session not made with a token, or an SSL client certificate. Plain
// PLAINTEXT connections, one-way SSL (User:ANONYMOUS) and token-authenticated
// sessions get DELEGATION_TOKEN_REQUEST_NOT_ALLOWED.
func tokenRequestsAllowed(c *protocol.ConnInfo) bool {
	if c == nil {
		return false
	}
	s := c.Session()
	if s != nil && s.TokenID != "" {
		return false
	}
	switch {
	case c.Security.IsSASL():
		return s != nil
	case c.Security == protocol.SSL:
		return c.Principal() != protocol.AnonymousPrincipal
	}
	return false
}

// Authorization (authorize.go, with an authorizer configured) runs before
// these handlers, as Kafka's KafkaApis checks: CREATE_TOKENS on the User
// resource for a token created for another owner, and DescribeDelegationToken
// answers filtered to the caller's own tokens, those of users it has
// DESCRIBE_TOKENS on and tokens it has DESCRIBE on. Without an authorizer
// Kafka allows both, and so do these handlers.

// splitPrincipal splits Kafka's "Type:Name" at the first colon.
func splitPrincipal(p string) (typ, name string) {
	typ, name, ok := strings.Cut(p, ":")
	if !ok {
		return "User", p
	}
	return typ, name
}

// loadToken reads one token; ok=false when absent or undecodable (logged).
func (b *Broker) loadToken(id string) (*delegationToken, bool) {
	v, ok := b.entities.Get(entityToken, id)
	if !ok {
		return nil, false
	}
	t, err := decodeToken(v)
	if err != nil {
		b.logger.Error("delegation token unreadable", "token_id", id, "err", err)
		return nil, false
	}
	return t, true
}

// allTokens decodes every stored token, in token id order.
func (b *Broker) allTokens() []*delegationToken {
	var out []*delegationToken
	for _, e := range b.entities.List(entityToken) {
		t, err := decodeToken(e.Value)
		if err != nil {
			b.logger.Error("delegation token unreadable", "token_id", e.Key, "err", err)
			continue
		}
		out = append(out, t)
	}
	return out
}

// tokenByHMAC finds the token whose HMAC is mac (constant-time compare).
func (b *Broker) tokenByHMAC(mac []byte) (*delegationToken, bool) {
	if len(mac) == 0 {
		return nil, false
	}
	var found *delegationToken
	for _, t := range b.allTokens() {
		if hmac.Equal(t.HMAC, mac) {
			found = t
		}
	}
	return found, found != nil
}

func (b *Broker) putToken(ctx context.Context, t *delegationToken) error {
	return b.entities.Apply(ctx, entityToken, []Entity{{Key: t.ID, Value: encodeToken(t)}}, nil)
}

func (b *Broker) deleteTokens(ctx context.Context, ids ...string) error {
	return b.entities.Apply(ctx, entityToken, nil, ids)
}

func (b *Broker) nowMs() int64 { return b.now().UnixMilli() }

// sweepExpiredTokens removes every token past its expiry or maximum
// lifetime (Kafka's controller sweep). In a cluster only the controller
// sweeps, so that one delete is proposed per token.
func (b *Broker) sweepExpiredTokens(ctx context.Context) (removed int, err error) {
	if b.raft != nil && b.cluster.controllerID() != b.cfg.NodeID {
		return 0, nil
	}
	b.tokens.mu.Lock()
	defer b.tokens.mu.Unlock()
	now := b.nowMs()
	var ids []string
	for _, t := range b.allTokens() {
		if t.expired(now) {
			ids = append(ids, t.ID)
			b.logger.Info("delegation token expired", "token_id", t.ID, "owner", t.Owner)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	if err := b.deleteTokens(ctx, ids...); err != nil {
		return 0, err
	}
	return len(ids), nil
}

// startTokenExpiry runs the expiry sweep every
// delegation.token.expiry.check.interval.ms until the broker closes.
func (b *Broker) startTokenExpiry() {
	interval := b.cfg.Security.Tokens.ExpiryCheckInterval()
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			<-b.stop
			cancel()
		}()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-tick.C:
				if _, err := b.sweepExpiredTokens(ctx); err != nil && ctx.Err() == nil {
					b.logger.Warn("delegation token expiry sweep failed", "err", err)
				}
			}
		}
	}()
}
