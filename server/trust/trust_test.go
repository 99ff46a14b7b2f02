package trust

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"pkgindex.dev/pkgindex/server/policy"
	"pkgindex.dev/pkgindex/server/trust/trusttest"
)

func with(claims map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range claims {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func testPolicy(t testing.TB, iss string, extra string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(`
publishers:
  - name: acme-release
    issuer: ` + iss + `
    claims: {repository: acme/lib, ref: "refs/tags/*"}` + extra + `
grants:
  - {projects: [acme-lib], rights: [upload], publishers: [acme-release]}
`))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIdentify(t *testing.T) {
	iss := trusttest.NewIssuer(t)
	pol := testPolicy(t, iss.URL, "")
	v := New(nil)
	good := iss.Claims("pkgindex")
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pubDER, _ := x509.MarshalPKIXPublicKey(&iss.Key.PublicKey)
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	payload, _ := json.Marshal(good)
	unsigned := header + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
	for _, tc := range []struct {
		name, token string
		want        error
		reason      string
	}{
		{"valid", iss.Sign(t, good), nil, ""},
		{"claims of another repository", iss.Sign(t, with(good, "repository", "evil/lib")), ErrRejected, "match no publisher"},
		{"a branch, not a tag", iss.Sign(t, with(good, "ref", "refs/heads/main")), ErrRejected, "match no publisher"},
		{"expired", iss.Sign(t, with(good, "exp", time.Now().Add(-time.Minute).Unix())), ErrRejected, "expired"},
		{"not yet valid", iss.Sign(t, with(good, "nbf", time.Now().Add(time.Hour).Unix())), ErrRejected, "nbf"},
		{"another audience", iss.Sign(t, with(good, "aud", "pypi")), ErrRejected, "audience"},
		{"an untrusted issuer", iss.Sign(t, with(good, "iss", "https://evil.example")), ErrRejected, "no publisher of the policy trusts issuer"},
		{"signed by another key", trusttest.Sign(t, jose.SigningKey{Algorithm: jose.ES256, Key: other}, iss.KID, good), ErrRejected, "signature"},
		{"unsigned", unsigned, ErrRejected, "malformed"},
		{"HMAC under the public key", trusttest.Sign(t, jose.SigningKey{Algorithm: jose.HS256, Key: pubDER}, iss.KID, good), ErrRejected, "malformed"},
		{"malformed", "a.b.c", ErrRejected, "malformed"},
		{"not a JWT", "garbage", ErrRejected, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, _, err := v.Identify(context.Background(), pol, tc.token)
			if !errors.Is(err, tc.want) || (err != nil && !strings.Contains(err.Error(), tc.reason)) {
				t.Fatalf("Identify: %v, want %v with %q", err, tc.want, tc.reason)
			}
			if err == nil && (id.Kind != policy.Publisher || id.Name != "acme-release") {
				t.Errorf("Identify = %+v", id)
			}
		})
	}
	if n := iss.Fetches.Load(); n != 1 {
		t.Errorf("the keys were fetched %d times, want once and then cached", n)
	}
}

func TestKeysUnavailable(t *testing.T) {
	for _, mode := range []string{"down", "garbage"} {
		t.Run(mode, func(t *testing.T) {
			iss := trusttest.NewIssuer(t)
			iss.Mode.Store(mode)
			pol := testPolicy(t, iss.URL, "")
			v := New(nil)
			token := iss.Sign(t, iss.Claims("pkgindex"))
			if _, _, err := v.Identify(context.Background(), pol, token); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("keys %s: %v, want ErrUnavailable", mode, err)
			}
			// The requests that follow at once fail closed too, without a
			// fetch each: they would queue behind one another.
			fetched := iss.Fetches.Load()
			for range 5 {
				if _, _, err := v.Identify(context.Background(), pol, token); !errors.Is(err, ErrUnavailable) {
					t.Fatalf("keys %s, again: %v, want ErrUnavailable", mode, err)
				}
			}
			if n := iss.Fetches.Load(); n != fetched {
				t.Errorf("keys %s: %d more fetches within %v", mode, n-fetched, refetchAfter)
			}
			// Back: the next token is checked.
			iss.Mode.Store("")
			v.now = func() time.Time { return time.Now().Add(time.Minute) }
			if _, _, err := v.Identify(context.Background(), pol, token); err != nil {
				t.Fatalf("keys back: %v", err)
			}
		})
	}
	// An issuer that answers nothing in time: the client's timeout ends
	// the wait, and the token is not accepted.
	stuck := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-stuck }))
	defer slow.Close()
	defer close(stuck)
	iss0 := trusttest.NewIssuer(t)
	pol0 := testPolicy(t, iss0.URL, "\n    jwksURL: "+slow.URL+"/jwks")
	if _, _, err := New(&http.Client{Timeout: 100 * time.Millisecond}).Identify(context.Background(), pol0, iss0.Sign(t, iss0.Claims("pkgindex"))); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a slow issuer: %v, want ErrUnavailable", err)
	}
	// The issuer's listener closed: nothing answers at all.
	iss := trusttest.NewIssuer(t)
	pol := testPolicy(t, iss.URL, "\n    jwksURL: http://127.0.0.1:1/jwks")
	if _, _, err := New(nil).Identify(context.Background(), pol, iss.Sign(t, iss.Claims("pkgindex"))); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("no listener: %v, want ErrUnavailable", err)
	}
}

func TestKeysFromAFile(t *testing.T) {
	iss := trusttest.NewIssuer(t)
	iss.Mode.Store("down")
	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, iss.JWKS(), 0o644); err != nil {
		t.Fatal(err)
	}
	pol := testPolicy(t, iss.URL, "\n    jwksFile: "+file)
	if _, _, err := New(nil).Identify(context.Background(), pol, iss.Sign(t, iss.Claims("pkgindex"))); err != nil {
		t.Fatalf("keys from a file: %v", err)
	}
	if iss.Fetches.Load() != 0 {
		t.Error("the issuer was asked although the keys are in a file")
	}
}

// FuzzIdentify feeds Identify any token of an issuer whose keys are in a
// file: nothing is accepted that the key did not sign, and every refusal
// is ErrRejected.
func FuzzIdentify(f *testing.F) {
	iss := trusttest.NewIssuer(f)
	file := filepath.Join(f.TempDir(), "jwks.json")
	if err := os.WriteFile(file, iss.JWKS(), 0o644); err != nil {
		f.Fatal(err)
	}
	pol := testPolicy(f, iss.URL, "\n    jwksFile: "+file)
	good := iss.Sign(f, iss.Claims("pkgindex"))
	f.Add(good)
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiIiffQ.")
	v := New(nil)
	f.Fuzz(func(t *testing.T, token string) {
		_, _, err := v.Identify(context.Background(), pol, token)
		// base64 lets a token be spelt more than one way; what counts
		// is that only the signed claims are accepted.
		if err == nil && payload(token) != payload(good) {
			t.Fatalf("Identify accepted %q", token)
		}
		if err != nil && !errors.Is(err, ErrRejected) {
			t.Fatalf("Identify(%q): %v, want ErrRejected", token, err)
		}
	})
}

func payload(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	b, _ := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	return string(b)
}
