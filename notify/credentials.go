package notify

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ClientCertificate is an app registration's certificate credential: the certificate uploaded to
// Microsoft Entra ID and its private key, which signs the client assertion (RFC 7523) of every
// token request instead of a client secret.
type ClientCertificate struct {
	Cert *x509.Certificate
	Key  *rsa.PrivateKey // never logged
	// Thumbprint is the base64url SHA-256 of the certificate (the assertion's x5t#S256 header).
	Thumbprint string
}

// assertionLifetime is how long a client assertion is valid: Entra ID takes at most 10 minutes.
const assertionLifetime = 10 * time.Minute

// ParseClientCertificate reads a PEM holding a certificate and its unencrypted RSA private key (PKCS#1
// or PKCS#8), as exported for an app registration. It refuses an encrypted key, a key that does not
// belong to the certificate, and a certificate that has expired at now or is not valid yet. Errors
// never show key material.
func ParseClientCertificate(data []byte, now time.Time) (*ClientCertificate, error) {
	var cc ClientCertificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			if cc.Cert != nil {
				continue // the chain after the first certificate; Entra ID knows the leaf
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("certificate: %w", err)
			}
			cc.Cert = c
		case b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "" && strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED"):
			return nil, errors.New("the private key is encrypted: renewald needs it unencrypted (protect the file with mode 0600)")
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			if cc.Key != nil {
				return nil, errors.New("more than one private key")
			}
			k, err := parseRSAKey(b)
			if err != nil {
				return nil, err
			}
			cc.Key = k
		}
	}
	switch {
	case cc.Cert == nil:
		return nil, errors.New("no PEM certificate in it")
	case cc.Key == nil:
		return nil, errors.New("no PEM private key in it")
	}
	pub, ok := cc.Cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(cc.Key.Public()) {
		return nil, errors.New("the private key does not belong to the certificate")
	}
	if now.After(cc.Cert.NotAfter) {
		return nil, fmt.Errorf("the certificate expired on %s", cc.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(cc.Cert.NotBefore) {
		return nil, fmt.Errorf("the certificate is not valid before %s", cc.Cert.NotBefore.UTC().Format(time.RFC3339))
	}
	sum := sha256.Sum256(cc.Cert.Raw)
	cc.Thumbprint = base64.RawURLEncoding.EncodeToString(sum[:])
	return &cc, nil
}

func parseRSAKey(b *pem.Block) (*rsa.PrivateKey, error) {
	if b.Type == "RSA PRIVATE KEY" {
		k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			return nil, errors.New("private key: not a valid PKCS#1 RSA key")
		}
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, errors.New("private key: not a valid PKCS#8 key")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key: %T: Entra ID client assertions need an RSA key", k)
	}
	return rk, nil
}

// assertion signs a fresh client assertion for tokenURL at now: PS256, typ JWT, x5t#S256 the
// certificate thumbprint; aud the token URL, iss and sub the client id, a random jti, nbf and iat
// now, exp ten minutes later.
func (cc *ClientCertificate) assertion(tokenURL, clientID string, now time.Time) (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("client assertion: %w", err)
	}
	now = now.Truncate(time.Second)
	tok := jwt.NewWithClaims(jwt.SigningMethodPS256, jwt.RegisteredClaims{
		Issuer: clientID, Subject: clientID, Audience: jwt.ClaimStrings{tokenURL}, ID: hex.EncodeToString(jti),
		NotBefore: jwt.NewNumericDate(now), IssuedAt: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(assertionLifetime)),
	})
	tok.Header["x5t#S256"] = cc.Thumbprint
	s, err := tok.SignedString(cc.Key)
	if err != nil {
		return "", fmt.Errorf("client assertion: sign: %w", err)
	}
	return s, nil
}

// CredentialKind names the kind of client credential, for mail test: "certificate" or "secret".
func (c OAuth2Config) CredentialKind() string {
	if c.Certificate != nil {
		return "certificate " + strings.ToUpper(hexThumb(c.Certificate.Cert))
	}
	return "client secret"
}

// hexThumb is the SHA-1 thumbprint Entra ID shows for an uploaded certificate.
func hexThumb(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return hex.EncodeToString(sum[:])
}
