// Package trusttest is an OIDC issuer for tests: a key made in the test,
// its JWKS and discovery document served over HTTP, and tokens signed as a
// CI platform signs them.
package trusttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Issuer is a running test issuer. Mode switches its keys endpoint:
// "" serves them, "down" answers 502, "garbage" a truncated document.
type Issuer struct {
	URL  string
	Key  *ecdsa.PrivateKey
	KID  string
	Mode atomic.Value // "", "down", "garbage"
	// Fetches counts requests for the keys.
	Fetches atomic.Int64
}

// NewIssuer starts an issuer for the test.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss := &Issuer{Key: key, KID: "k1"}
	iss.Mode.Store("")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": iss.URL, "jwks_uri": iss.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		iss.Fetches.Add(1)
		switch iss.Mode.Load() {
		case "down":
			http.Error(w, "down", http.StatusBadGateway)
		case "garbage":
			w.Write([]byte(`{"keys": [{"kty": "nonsense"`))
		default:
			w.Write(iss.JWKS())
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	iss.URL = srv.URL
	return iss
}

// JWKS is the issuer's public key set.
func (iss *Issuer) JWKS() []byte {
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &iss.Key.PublicKey, KeyID: iss.KID, Algorithm: "ES256", Use: "sig"}}})
	return b
}

// Claims are the usual claims of a CI job's token for audience, valid now.
func (iss *Issuer) Claims(audience string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": iss.URL, "aud": audience, "sub": "repo:acme/lib:ref:refs/tags/v1.0",
		"repository": "acme/lib", "ref": "refs/tags/v1.0", "workflow_ref": "acme/lib/.github/workflows/release.yml@refs/tags/v1.0",
		"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
}

// Sign signs claims with the issuer's key.
func (iss *Issuer) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	return Sign(t, jose.SigningKey{Algorithm: jose.ES256, Key: iss.Key}, iss.KID, claims)
}

// Sign signs claims with key, naming kid in the header.
func Sign(t testing.TB, key jose.SigningKey, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid)
	signer, err := jose.NewSigner(key, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Certificate returns a self-signed certificate (DER) with the Fulcio
// extensions of a signer identity (OIDC issuer, source repository); an empty value leaves its extension
// out.
func Certificate(t testing.TB, issuer, repo string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var exts []pkix.Extension
	for _, e := range []struct {
		id  asn1.ObjectIdentifier
		val string
	}{{asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}, issuer}, {asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 12}, repo}} {
		if e.val == "" {
			continue
		}
		v, err := asn1.MarshalWithParams(e.val, "utf8")
		if err != nil {
			t.Fatal(err)
		}
		exts = append(exts, pkix.Extension{Id: e.id, Value: v})
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), ExtraExtensions: exts}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
