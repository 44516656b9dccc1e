package tlsconf

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"os"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// loadKeystore reads the listener's certificate and key.
func (o *Options) loadKeystore() (tls.Certificate, error) {
	if o.KeystoreCertificateChain != "" {
		return o.pemKeystore([]byte(o.KeystoreCertificateChain), []byte(o.KeystoreKey), "ssl.keystore.certificate.chain", "ssl.keystore.key")
	}
	if o.KeystoreLocation == "" {
		return tls.Certificate{}, o.errorf("ssl.keystore.location", "", "a TLS listener needs a keystore: ssl.keystore.location, or ssl.keystore.certificate.chain with ssl.keystore.key")
	}
	data, err := os.ReadFile(o.KeystoreLocation)
	if err != nil {
		return tls.Certificate{}, o.errorf("ssl.keystore.location", o.KeystoreLocation, "%v", err)
	}
	typ := o.KeystoreType
	if typ == "" {
		typ = detectType(data)
	}
	switch typ {
	case "PEM":
		return o.pemKeystore(data, data, "ssl.keystore.location", "ssl.keystore.location")
	case "PKCS12":
		var (
			key   any
			leaf  *x509.Certificate
			chain []*x509.Certificate
		)
		for _, pw := range passwords(o.KeystorePassword, o.KeyPassword) {
			if key, leaf, chain, err = pkcs12.DecodeChain(data, pw); err == nil {
				break
			}
		}
		if err != nil {
			return tls.Certificate{}, o.errorf("ssl.keystore.location", o.KeystoreLocation, "PKCS12 keystore: %v (check ssl.keystore.password)", err)
		}
		c := tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
		for _, ca := range chain {
			c.Certificate = append(c.Certificate, ca.Raw)
		}
		return c, nil
	case "JKS":
		ks := keystore.New()
		if err := ks.Load(bytes.NewReader(data), []byte(o.KeystorePassword)); err != nil {
			return tls.Certificate{}, o.errorf("ssl.keystore.location", o.KeystoreLocation, "JKS keystore: %v (check ssl.keystore.password)", err)
		}
		for _, alias := range ks.Aliases() {
			if !ks.IsPrivateKeyEntry(alias) {
				continue
			}
			var e keystore.PrivateKeyEntry
			for _, pw := range passwords(o.KeyPassword, o.KeystorePassword) {
				if e, err = ks.GetPrivateKeyEntry(alias, []byte(pw)); err == nil {
					break
				}
			}
			if err != nil {
				return tls.Certificate{}, o.errorf("ssl.key.password", "", "JKS key %q: %v", alias, err)
			}
			key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
			if err != nil {
				return tls.Certificate{}, o.errorf("ssl.keystore.location", o.KeystoreLocation, "JKS key %q: %v", alias, err)
			}
			c := tls.Certificate{PrivateKey: key}
			for _, ce := range e.CertificateChain {
				c.Certificate = append(c.Certificate, ce.Content)
			}
			return checkPair(o, c, "ssl.keystore.location")
		}
		return tls.Certificate{}, o.errorf("ssl.keystore.location", o.KeystoreLocation, "JKS keystore has no private key entry")
	}
	return tls.Certificate{}, o.errorf("ssl.keystore.type", typ, "must be PEM, PKCS12 or JKS")
}

// passwords lists the non-empty candidates, in order, or "" alone.
func passwords(pw ...string) []string {
	var out []string
	for _, p := range pw {
		if p != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		out = []string{""}
	}
	return out
}

// detectType guesses a store's type from its first bytes: JKS's magic,
// a DER sequence (PKCS12), else PEM.
func detectType(data []byte) string {
	switch {
	case len(data) >= 4 && bytes.Equal(data[:4], []byte{0xfe, 0xed, 0xfe, 0xed}):
		return "JKS"
	case len(data) > 0 && data[0] == 0x30:
		return "PKCS12"
	}
	return "PEM"
}

// pemKeystore reads a certificate chain and a private key (PKCS#8, PKCS#1
// or SEC 1; encrypted PKCS#8 with ssl.key.password).
func (o *Options) pemKeystore(certPEM, keyPEM []byte, certKey, keyKey string) (tls.Certificate, error) {
	var c tls.Certificate
	for rest := certPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			c.Certificate = append(c.Certificate, b.Bytes)
		}
	}
	if len(c.Certificate) == 0 {
		return c, o.errorf(certKey, "", "no PEM CERTIFICATE block")
	}
	for rest := keyPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		var err error
		switch b.Type {
		case "ENCRYPTED PRIVATE KEY":
			if o.KeyPassword == "" {
				return c, o.errorf("ssl.key.password", "", "the key is encrypted: set ssl.key.password")
			}
			var der []byte
			if der, err = decryptPKCS8(b.Bytes, []byte(o.KeyPassword)); err != nil {
				return c, o.errorf("ssl.key.password", "", "cannot decrypt the key: %v", err)
			}
			// A wrong password yields valid CBC padding about once in 256
			// tries; the garbage then fails to parse as PKCS#8, which is
			// still the password's fault.
			if c.PrivateKey, err = x509.ParsePKCS8PrivateKey(der); err != nil {
				return c, o.errorf("ssl.key.password", "", "cannot decrypt the key (wrong password?): %v", err)
			}
		case "PRIVATE KEY":
			c.PrivateKey, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			c.PrivateKey, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			c.PrivateKey, err = x509.ParseECPrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return c, o.errorf(keyKey, "", "private key: %v", err)
		}
		break
	}
	if c.PrivateKey == nil {
		return c, o.errorf(keyKey, "", "no PEM private key block (PRIVATE KEY, ENCRYPTED PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)")
	}
	return checkPair(o, c, certKey)
}

// checkPair parses the leaf and checks that the key belongs to it.
func checkPair(o *Options, c tls.Certificate, key string) (tls.Certificate, error) {
	if len(c.Certificate) == 0 {
		return c, o.errorf(key, "", "no certificate")
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return c, o.errorf(key, "", "certificate: %v", err)
	}
	c.Leaf = leaf
	signer, ok := c.PrivateKey.(crypto.Signer)
	if !ok {
		return c, o.errorf(key, "", "unsupported private key type %T", c.PrivateKey)
	}
	if eq, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(leaf.PublicKey) {
		return c, o.errorf(key, "", "the private key does not match the certificate's public key")
	}
	return c, nil
}

// loadTruststore reads the CAs client certificates are verified with; nil
// when none is configured (the system roots).
func (o *Options) loadTruststore() (*x509.CertPool, error) {
	var certs []*x509.Certificate
	switch {
	case o.TruststoreCertificates != "":
		var err error
		if certs, err = pemCerts([]byte(o.TruststoreCertificates)); err != nil {
			return nil, o.errorf("ssl.truststore.certificates", "", "%v", err)
		}
	case o.TruststoreLocation != "":
		data, err := os.ReadFile(o.TruststoreLocation)
		if err != nil {
			return nil, o.errorf("ssl.truststore.location", o.TruststoreLocation, "%v", err)
		}
		typ := o.TruststoreType
		if typ == "" {
			typ = detectType(data)
		}
		switch typ {
		case "PEM":
			certs, err = pemCerts(data)
		case "PKCS12":
			if certs, err = pkcs12.DecodeTrustStore(data, o.TruststorePassword); err != nil {
				// A keystore used as truststore: its certificates.
				var leaf *x509.Certificate
				var chain []*x509.Certificate
				if _, leaf, chain, err = pkcs12.DecodeChain(data, o.TruststorePassword); err == nil {
					certs = append([]*x509.Certificate{leaf}, chain...)
				}
			}
		case "JKS":
			ks := keystore.New()
			if err = ks.Load(bytes.NewReader(data), []byte(o.TruststorePassword)); err == nil {
				for _, alias := range ks.Aliases() {
					if !ks.IsTrustedCertificateEntry(alias) {
						continue
					}
					e, _ := ks.GetTrustedCertificateEntry(alias)
					c, perr := x509.ParseCertificate(e.Certificate.Content)
					if perr != nil {
						err = fmt.Errorf("entry %q: %v", alias, perr)
						break
					}
					certs = append(certs, c)
				}
			}
		}
		if err != nil {
			return nil, o.errorf("ssl.truststore.location", o.TruststoreLocation, "%s truststore: %v (check ssl.truststore.password)", typ, err)
		}
		if len(certs) == 0 {
			return nil, o.errorf("ssl.truststore.location", o.TruststoreLocation, "no certificates")
		}
	default:
		return nil, nil
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

func pemCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return certs, nil
}

// Encrypted PKCS#8 (RFC 5958, PBES2 of RFC 8018): PBKDF2 with an HMAC-SHA
// PRF, then AES-CBC or DES-EDE3-CBC. (PBES1, openssl's legacy -v1, is not
// supported.)
var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type encryptedPrivateKeyInfo struct {
	Algorithm algorithmIdentifier
	Data      []byte
}

type pbes2Params struct {
	KDF    algorithmIdentifier
	Scheme algorithmIdentifier
}

type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                 `asn1:"optional"`
	PRF        algorithmIdentifier `asn1:"optional"`
}

func decryptPKCS8(der, password []byte) ([]byte, error) {
	var info encryptedPrivateKeyInfo
	if _, err := asn1.Unmarshal(der, &info); err != nil {
		return nil, fmt.Errorf("encrypted PKCS#8: %v", err)
	}
	if !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("encryption %v not supported (want PBES2: openssl pkcs8 -topk8 -v2 aes-256-cbc)", info.Algorithm.Algorithm)
	}
	var p pbes2Params
	if _, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &p); err != nil {
		return nil, fmt.Errorf("PBES2 parameters: %v", err)
	}
	if !p.KDF.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("key derivation %v not supported (want PBKDF2)", p.KDF.Algorithm)
	}
	var kp pbkdf2Params
	if _, err := asn1.Unmarshal(p.KDF.Parameters.FullBytes, &kp); err != nil {
		return nil, fmt.Errorf("PBKDF2 parameters: %v", err)
	}
	var prf func() hash.Hash
	switch alg := kp.PRF.Algorithm; {
	case len(alg) == 0 || alg.Equal(oidHMACSHA1):
		prf = sha1.New
	case alg.Equal(oidHMACSHA224):
		prf = sha256.New224
	case alg.Equal(oidHMACSHA256):
		prf = sha256.New
	case alg.Equal(oidHMACSHA384):
		prf = sha512.New384
	case alg.Equal(oidHMACSHA512):
		prf = sha512.New
	default:
		return nil, fmt.Errorf("PBKDF2 PRF %v not supported", alg)
	}
	var keyLen int
	var newCipher func([]byte) (cipher.Block, error)
	switch alg := p.Scheme.Algorithm; {
	case alg.Equal(oidAES128CBC):
		keyLen, newCipher = 16, aes.NewCipher
	case alg.Equal(oidAES192CBC):
		keyLen, newCipher = 24, aes.NewCipher
	case alg.Equal(oidAES256CBC):
		keyLen, newCipher = 32, aes.NewCipher
	case alg.Equal(oidDESEDE3CBC):
		keyLen, newCipher = 24, des.NewTripleDESCipher
	default:
		return nil, fmt.Errorf("cipher %v not supported", alg)
	}
	var iv []byte
	if _, err := asn1.Unmarshal(p.Scheme.Parameters.FullBytes, &iv); err != nil {
		return nil, fmt.Errorf("cipher IV: %v", err)
	}
	if kp.Iterations <= 0 || kp.Iterations > 10_000_000 {
		return nil, fmt.Errorf("PBKDF2 iteration count %d out of range", kp.Iterations)
	}
	key, err := pbkdf2.Key(prf, string(password), kp.Salt, kp.Iterations, keyLen)
	if err != nil {
		return nil, err
	}
	block, err := newCipher(key)
	if err != nil {
		return nil, err
	}
	if len(iv) != block.BlockSize() || len(info.Data) == 0 || len(info.Data)%block.BlockSize() != 0 {
		return nil, errors.New("bad IV or ciphertext length")
	}
	out := make([]byte, len(info.Data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, info.Data)
	pad := int(out[len(out)-1])
	if pad == 0 || pad > block.BlockSize() || pad > len(out) {
		return nil, errors.New("wrong password")
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, errors.New("wrong password")
		}
	}
	return out[:len(out)-pad], nil
}
