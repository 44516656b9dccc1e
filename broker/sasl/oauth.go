package sasl

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

// OAuthToken is what a validator learnt from a valid bearer token.
type OAuthToken struct {
	// Principal is the principal name (the sub claim, or the configured
	// claim), without "User:".
	Principal string
	Expiry    time.Time
	Scope     []string
}

// TokenError is a validator's refusal, sent to the client as RFC 7628's
// JSON error ({"status":"invalid_token"}) before the exchange fails.
type TokenError struct {
	Status string // "invalid_token" or "insufficient_scope"
	Scope  string // the scope that was missing, for insufficient_scope
	Reason string // why, for the broker's log (never sent)
}

func (e *TokenError) Error() string { return "sasl: OAUTHBEARER token refused: " + e.Reason }

// json is Kafka's error response (OAuthBearerSaslServer.jsonErrorResponse).
func (e *TokenError) json() string {
	s := `{"status":"` + e.Status + `"`
	if e.Scope != "" {
		s += `, "scope":"` + e.Scope + `"`
	}
	return s + "}"
}

// OAuthValidator checks a bearer token. Validate may block (a JWKS
// validator fetches keys); it is called from the connection's reader. A
// refusal is a *TokenError.
type OAuthValidator interface {
	Validate(token string) (OAuthToken, error)
}

// NewOAuthBearerServer returns an OAUTHBEARER server (RFC 7628) with
// Kafka's behaviour (OAuthBearerSaslServer): the client's initial response
// is "n,[a=authzid],\x01auth=Bearer <token>\x01[key=value\x01...]\x01"; an
// invalid token is answered with the JSON error as a challenge, the client
// acknowledges with "\x01", and the exchange then fails with the JSON as
// the message. Extensions are accepted and ignored (Kafka's default
// validators validate none).
func NewOAuthBearerServer(v OAuthValidator) Server { return &oauthServer{validator: v} }

type oauthServer struct {
	validator OAuthValidator
	step      int // 0: want initial response, 1: sent an error, want "\x01", 2: ended
	errJSON   string
	errWhy    string // the validator's reason, for the log
	result    Result
}

func (s *oauthServer) Result() Result { return s.result }

func (s *oauthServer) Step(msg []byte) ([]byte, bool, error) {
	step := s.step
	s.step = 2
	switch step {
	case 0:
	case 1:
		if len(msg) == 1 && msg[0] == 0x01 {
			return nil, false, &AuthError{Msg: s.errJSON, Detail: s.errWhy}
		}
		return nil, false, fmt.Errorf("%w: OAUTHBEARER: want %%x01 after an error", ErrMalformed)
	default:
		return nil, false, ErrState
	}
	authzid, token, err := parseOAuthInitial(string(msg))
	if err != nil {
		return nil, false, err
	}
	tok, err := s.validator.Validate(token)
	if err != nil {
		var te *TokenError
		if !errors.As(err, &te) {
			te = &TokenError{Status: "invalid_token", Reason: err.Error()}
		}
		s.errJSON, s.errWhy = te.json(), te.Reason
		s.step = 1
		return []byte(s.errJSON), false, nil
	}
	if authzid != "" && authzid != tok.Principal {
		return nil, false, &AuthError{Msg: fmt.Sprintf("Authentication failed: Client requested an authorization id (%s) that is different from the token's principal name (%s)", authzid, tok.Principal)}
	}
	s.result = Result{Principal: userPrincipal(tok.Principal), Expiry: tok.Expiry}
	return nil, true, nil
}

// RFC 7628's key and value grammar, and the token characters Kafka's
// OAuthBearerClientInitialResponse accepts.
var (
	extensionKey   = regexp.MustCompile(`^[A-Za-z]+$`)
	extensionValue = regexp.MustCompile(`^[\x21-\x7E \t\r\n]+$`)
	tokenChars     = regexp.MustCompile(`^[-_.a-zA-Z0-9]+$`)
)

func parseOAuthInitial(msg string) (authzid, token string, err error) {
	malformed := func(why string) error {
		return fmt.Errorf("%w: OAUTHBEARER client first message: %s", ErrMalformed, why)
	}
	if !strings.HasPrefix(msg, "n,") {
		return "", "", malformed("want gs2 flag \"n\"")
	}
	authzPart, rest, ok := strings.Cut(msg[2:], ",")
	if !ok {
		return "", "", malformed("no gs2 header")
	}
	if authzPart != "" {
		if !strings.HasPrefix(authzPart, "a=") {
			return "", "", malformed("bad authzid")
		}
		if authzid, err = unescapeSaslName(authzPart[2:]); err != nil {
			return "", "", malformed(err.Error())
		}
	}
	if len(rest) < 3 || !strings.HasPrefix(rest, "\x01") || !strings.HasSuffix(rest, "\x01\x01") {
		return "", "", malformed("bad key-value framing")
	}
	for _, kv := range strings.Split(rest[1:len(rest)-2], "\x01") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !extensionKey.MatchString(k) || !extensionValue.MatchString(v) {
			return "", "", malformed("bad key-value pair")
		}
		if k != "auth" {
			continue // an extension
		}
		if token != "" {
			return "", "", malformed("auth given twice")
		}
		scheme, tok, ok := strings.Cut(v, " ")
		tok = strings.TrimLeft(tok, " ")
		if !ok || !strings.EqualFold(scheme, "bearer") || !tokenChars.MatchString(tok) {
			return "", "", malformed("auth is not a bearer token")
		}
		token = tok
	}
	if token == "" {
		return "", "", malformed("no auth=Bearer token")
	}
	return authzid, token, nil
}

// UnsecuredValidator is Kafka's default OAUTHBEARER validator
// (OAuthBearerUnsecuredValidatorCallbackHandler): it accepts unsigned JWTs
// (alg "none", an empty signature) for development, checking the
// principal claim, exp, iat and the required scope. Its options are the
// JAAS options of the same names (unsecuredValidator...). A scope claim
// that is a string is read as a space-separated list (RFC 6749 §3.3);
// Kafka takes the whole string as one scope.
type UnsecuredValidator struct {
	PrincipalClaimName string        // unsecuredValidatorPrincipalClaimName, default "sub"
	ScopeClaimName     string        // unsecuredValidatorScopeClaimName, default "scope"
	RequiredScope      []string      // unsecuredValidatorRequiredScope (space-separated)
	ClockSkew          time.Duration // unsecuredValidatorAllowableClockSkewMs
	Now                func() time.Time
}

// NewUnsecuredValidator reads the validator's options from a JAAS entry's
// options (nil: defaults).
func NewUnsecuredValidator(options map[string]string) (*UnsecuredValidator, error) {
	v := &UnsecuredValidator{
		PrincipalClaimName: options["unsecuredValidatorPrincipalClaimName"],
		ScopeClaimName:     options["unsecuredValidatorScopeClaimName"],
		RequiredScope:      strings.Fields(options["unsecuredValidatorRequiredScope"]),
	}
	if s := options["unsecuredValidatorAllowableClockSkewMs"]; s != "" {
		var ms int64
		if _, err := fmt.Sscan(s, &ms); err != nil || ms < 0 {
			return nil, fmt.Errorf("sasl: unsecuredValidatorAllowableClockSkewMs %q: want a non-negative integer", s)
		}
		v.ClockSkew = time.Duration(ms) * time.Millisecond
	}
	return v, nil
}

// Validate implements OAuthValidator.
func (v *UnsecuredValidator) Validate(token string) (OAuthToken, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return OAuthToken{}, invalidToken("unsecured JWS compact serializations must have 3 dot-separated Base64URL-encoded values")
	}
	if parts[2] != "" {
		return OAuthToken{}, invalidToken("unsecured JWS compact serializations must have an empty signature (third) value")
	}
	var header map[string]any
	if err := decodeJWTPart(parts[0], &header); err != nil {
		return OAuthToken{}, invalidToken("bad JOSE header: " + err.Error())
	}
	if alg, _ := header["alg"].(string); alg != "none" {
		return OAuthToken{}, invalidToken(fmt.Sprintf("unsecured JWS must have alg \"none\", not %q", alg))
	}
	var claims map[string]any
	if err := decodeJWTPart(parts[1], &claims); err != nil {
		return OAuthToken{}, invalidToken("bad claims: " + err.Error())
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	return checkClaims(claims, claimRules{
		principalClaim: defaultString(v.PrincipalClaimName, "sub"),
		scopeClaim:     defaultString(v.ScopeClaimName, "scope"),
		requiredScope:  v.RequiredScope,
		skew:           v.ClockSkew,
		now:            now,
	})
}

type claimRules struct {
	principalClaim, scopeClaim string
	requiredScope              []string
	requireIssuedAt            bool
	skew                       time.Duration
	now                        time.Time
	audience                   []string // any of them must be in aud; none: not checked
	issuer                     string   // "": not checked
}

// checkClaims applies Kafka's OAuthBearerValidationUtils checks.
func checkClaims(claims map[string]any, r claimRules) (OAuthToken, error) {
	var tok OAuthToken
	principal, _ := claims[r.principalClaim].(string)
	if principal == "" {
		return tok, invalidToken(fmt.Sprintf("no principal name claim %q", r.principalClaim))
	}
	tok.Principal = principal
	exp, ok := numericClaim(claims, "exp")
	if !ok {
		return tok, invalidToken("no expiration time claim (exp)")
	}
	tok.Expiry = secondsTime(exp)
	if !r.now.Add(-r.skew).Before(tok.Expiry) {
		return tok, invalidToken(fmt.Sprintf("the token expired at %s (now %s, allowable clock skew %s)", tok.Expiry.UTC().Format(time.RFC3339), r.now.UTC().Format(time.RFC3339), r.skew))
	}
	if iat, ok := numericClaim(claims, "iat"); ok {
		issued := secondsTime(iat)
		if r.now.Add(r.skew).Before(issued) {
			return tok, invalidToken(fmt.Sprintf("the token was issued at %s, after now (%s) plus allowable clock skew %s", issued.UTC().Format(time.RFC3339), r.now.UTC().Format(time.RFC3339), r.skew))
		}
		if !issued.Before(tok.Expiry) {
			return tok, invalidToken("the issued-at time is not before the expiration time")
		}
	} else if r.requireIssuedAt {
		return tok, invalidToken("no issued-at claim (iat)")
	}
	if r.issuer != "" {
		if iss, _ := claims["iss"].(string); iss != r.issuer {
			return tok, invalidToken(fmt.Sprintf("issuer %q is not the expected %q", iss, r.issuer))
		}
	}
	if len(r.audience) > 0 {
		auds := stringList(claims["aud"])
		found := false
		for _, want := range r.audience {
			for _, a := range auds {
				found = found || a == want
			}
		}
		if !found {
			return tok, invalidToken(fmt.Sprintf("audience %v contains none of the expected %v", auds, r.audience))
		}
	}
	tok.Scope = stringList(claims[r.scopeClaim])
	for _, want := range r.requiredScope {
		found := false
		for _, s := range tok.Scope {
			found = found || s == want
		}
		if !found {
			return tok, &TokenError{Status: "insufficient_scope", Scope: strings.Join(r.requiredScope, " "), Reason: fmt.Sprintf("the token's scope %v lacks %q", tok.Scope, want)}
		}
	}
	return tok, nil
}

func invalidToken(reason string) error { return &TokenError{Status: "invalid_token", Reason: reason} }

func decodeJWTPart(part string, dst any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(part, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, dst)
}

func numericClaim(claims map[string]any, name string) (float64, bool) {
	f, ok := claims[name].(float64)
	return f, ok && !math.IsNaN(f) && !math.IsInf(f, 0)
}

func secondsTime(s float64) time.Time {
	if s > 1e11 {
		s = 1e11 // year ~5138: keeps the conversion in range
	}
	return time.UnixMilli(int64(s * 1000))
}

// stringList reads a claim that is a string (space-separated for a
// scope) or a list of strings.
func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return strings.Fields(x)
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func defaultString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
