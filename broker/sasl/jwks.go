package sasl

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// JWKSConfig configures a JWKSValidator with Kafka's broker keys
// (OAuthBearerValidatorCallbackHandler).
type JWKSConfig struct {
	URL              string        // sasl.oauthbearer.jwks.endpoint.url: file:// or http(s)://
	Refresh          time.Duration // sasl.oauthbearer.jwks.endpoint.refresh.ms, default 1 h
	ExpectedAudience []string      // sasl.oauthbearer.expected.audience (any one must be in aud)
	ExpectedIssuer   string        // sasl.oauthbearer.expected.issuer
	SubClaimName     string        // sasl.oauthbearer.sub.claim.name, default "sub"
	ScopeClaimName   string        // sasl.oauthbearer.scope.claim.name, default "scope"
	ClockSkew        time.Duration // sasl.oauthbearer.clock.skew.seconds, default 30 s
	Now              func() time.Time
	HTTPClient       *http.Client // nil: a client with a 10 s timeout
}

// JWKSValidator checks signed JWTs (RS256/384/512, PS256/384/512,
// ES256/384/512) against the keys of a JWKS document, fetched lazily and
// again once Refresh has passed or when a token names a key id the cached
// set lacks (at most once per minRefetch). As Kafka's validator it
// requires exp and iat and the subject claim, and checks the expected
// audience and issuer when configured. Safe for concurrent use.
type JWKSValidator struct {
	cfg JWKSConfig

	mu       sync.Mutex // guards the fields below; never held across a fetch
	keys     map[string][]jwk
	fetched  time.Time
	lastTry  time.Time
	fetching bool // a fetch is under way (by one caller, outside mu)
}

type jwk struct {
	kid string
	key crypto.PublicKey
}

// minRefetch bounds how often an unknown key id triggers a fetch.
const minRefetch = 10 * time.Second

// ErrJWKS is returned for a JWKS document that cannot be read or parsed.
var ErrJWKS = errors.New("sasl: JWKS")

// NewJWKSValidator returns a validator; it fetches the key set at once and
// returns the error of that fetch along with the validator (which retries
// on the next token).
func NewJWKSValidator(cfg JWKSConfig) (*JWKSValidator, error) {
	if cfg.Refresh <= 0 {
		cfg.Refresh = time.Hour
	}
	if cfg.SubClaimName == "" {
		cfg.SubClaimName = "sub"
	}
	if cfg.ScopeClaimName == "" {
		cfg.ScopeClaimName = "scope"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	v := &JWKSValidator{cfg: cfg}
	v.lastTry = v.now()
	keys, err := v.fetch()
	if err == nil {
		v.keys, v.fetched = keys, v.now()
	}
	return v, err
}

func (v *JWKSValidator) now() time.Time {
	if v.cfg.Now != nil {
		return v.cfg.Now()
	}
	return time.Now()
}

// fetch reads and parses the key set; it touches no field guarded by mu.
func (v *JWKSValidator) fetch() (map[string][]jwk, error) {
	u, err := url.Parse(v.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: endpoint %q: %v", ErrJWKS, v.cfg.URL, err)
	}
	var data []byte
	switch u.Scheme {
	case "file":
		data, err = os.ReadFile(u.Path)
	case "http", "https":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var req *http.Request
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.URL, nil)
		if err == nil {
			var resp *http.Response
			if resp, err = v.cfg.HTTPClient.Do(req); err == nil {
				data, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("HTTP status %s", resp.Status)
				}
			}
		}
	default:
		err = fmt.Errorf("scheme %q: want file, http or https", u.Scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: endpoint %q: %v", ErrJWKS, v.cfg.URL, err)
	}
	keys, err := parseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("%w: endpoint %q: %v", ErrJWKS, v.cfg.URL, err)
	}
	return keys, nil
}

// keysFor returns the keys that may verify a token with kid ("" when the
// header has none: every key).
func (v *JWKSValidator) keysFor(kid string) ([]jwk, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	stale := v.keys == nil || now.Sub(v.fetched) >= v.cfg.Refresh
	missing := kid != "" && len(v.keys[kid]) == 0
	var ferr error
	if ((stale || missing) && now.Sub(v.lastTry) >= minRefetch || v.keys == nil && v.lastTry.IsZero()) && !v.fetching {
		// One caller fetches, outside the lock (an HTTP fetch can take
		// up to 10 s: holding mu made every OAUTHBEARER login wait on it,
		// and a token with an unknown kid can force one every
		// minRefetch); the others go on with the keys at hand.
		v.fetching, v.lastTry = true, now
		v.mu.Unlock()
		keys, err := v.fetch()
		v.mu.Lock()
		v.fetching, ferr = false, err
		if err == nil {
			v.keys, v.fetched = keys, v.now()
		}
	}
	if kid != "" {
		if ks := v.keys[kid]; len(ks) > 0 {
			return ks, nil
		}
	} else {
		var all []jwk
		for _, ks := range v.keys {
			all = append(all, ks...)
		}
		if len(all) > 0 {
			return all, nil
		}
	}
	if ferr != nil {
		return nil, ferr
	}
	return nil, fmt.Errorf("no key with id %q in the JWKS", kid)
}

// Validate implements OAuthValidator.
func (v *JWKSValidator) Validate(token string) (OAuthToken, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[2] == "" {
		return OAuthToken{}, invalidToken("a signed JWT has 3 dot-separated parts and a signature")
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := decodeJWTPart(parts[0], &header); err != nil {
		return OAuthToken{}, invalidToken("bad JOSE header: " + err.Error())
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return OAuthToken{}, invalidToken("bad signature encoding")
	}
	keys, err := v.keysFor(header.Kid)
	if err != nil {
		return OAuthToken{}, invalidToken(err.Error())
	}
	signed := []byte(parts[0] + "." + parts[1])
	verified := false
	for _, k := range keys {
		if err := verifyJWS(header.Alg, k.key, signed, sig); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return OAuthToken{}, invalidToken(fmt.Sprintf("signature (alg %q, kid %q) does not verify with the JWKS keys", header.Alg, header.Kid))
	}
	var claims map[string]any
	if err := decodeJWTPart(parts[1], &claims); err != nil {
		return OAuthToken{}, invalidToken("bad claims: " + err.Error())
	}
	return checkClaims(claims, claimRules{
		principalClaim:  v.cfg.SubClaimName,
		scopeClaim:      v.cfg.ScopeClaimName,
		requireIssuedAt: true,
		skew:            v.cfg.ClockSkew,
		now:             v.now(),
		audience:        v.cfg.ExpectedAudience,
		issuer:          v.cfg.ExpectedIssuer,
	})
}

func verifyJWS(alg string, key crypto.PublicKey, signed, sig []byte) error {
	var h crypto.Hash
	switch alg[min(2, len(alg)):] {
	case "256":
		h = crypto.SHA256
	case "384":
		h = crypto.SHA384
	case "512":
		h = crypto.SHA512
	default:
		return fmt.Errorf("unsupported alg %q", alg)
	}
	d := h.New()
	d.Write(signed)
	digest := d.Sum(nil)
	switch {
	case strings.HasPrefix(alg, "RS"):
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return errors.New("not an RSA key")
		}
		return rsa.VerifyPKCS1v15(k, h, digest, sig)
	case strings.HasPrefix(alg, "PS"):
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return errors.New("not an RSA key")
		}
		return rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case strings.HasPrefix(alg, "ES"):
		k, ok := key.(*ecdsa.PublicKey)
		if !ok || len(sig)%2 != 0 {
			return errors.New("not an EC key or a bad signature")
		}
		r := new(big.Int).SetBytes(sig[:len(sig)/2])
		s := new(big.Int).SetBytes(sig[len(sig)/2:])
		if !ecdsa.Verify(k, digest, r, s) {
			return errors.New("bad signature")
		}
		return nil
	}
	return fmt.Errorf("unsupported alg %q", alg)
}

// parseJWKS reads the RSA and EC keys of a JWKS document (RFC 7517),
// indexed by kid; keys of other types, or for encryption, are skipped.
func parseJWKS(data []byte) (map[string][]jwk, error) {
	var doc struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			N   string `json:"n"`
			E   string `json:"e"`
			Crv string `json:"crv"`
			X   string `json:"x"`
			Y   string `json:"y"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	out := map[string][]jwk{}
	b64 := func(s string) *big.Int {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		if err != nil || len(b) == 0 {
			return nil
		}
		return new(big.Int).SetBytes(b)
	}
	for _, k := range doc.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		var pub crypto.PublicKey
		switch k.Kty {
		case "RSA":
			n, e := b64(k.N), b64(k.E)
			if n == nil || e == nil || !e.IsInt64() {
				continue
			}
			pub = &rsa.PublicKey{N: n, E: int(e.Int64())}
		case "EC":
			var curve elliptic.Curve
			switch k.Crv {
			case "P-256":
				curve = elliptic.P256()
			case "P-384":
				curve = elliptic.P384()
			case "P-521":
				curve = elliptic.P521()
			default:
				continue
			}
			x, y := b64(k.X), b64(k.Y)
			if x == nil || y == nil {
				continue
			}
			pub = &ecdsa.PublicKey{Curve: curve, X: x, Y: y}
		default:
			continue
		}
		out[k.Kid] = append(out[k.Kid], jwk{kid: k.Kid, key: pub})
	}
	if len(out) == 0 {
		return nil, errors.New("no usable signing keys")
	}
	return out, nil
}
