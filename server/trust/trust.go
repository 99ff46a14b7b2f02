// Package trust verifies the OIDC identity tokens of trusted publishers: a
// CI job (GitHub Actions, GitLab, any OIDC issuer) proves who it is with a
// token its platform signed, and the policy's publishers say which claims
// (repository, workflow, ref, environment) may publish what.
//
// Signature, issuer, audience, expiry and not-before are checked by
// github.com/coreos/go-oidc; only asymmetric algorithms are accepted, so
// neither an unsigned token ("alg": "none") nor one signed with HMAC under
// a public key passes. The issuer's keys (JWKS) come from its discovery
// document or a configured URL, cached for an hour and fetched again when
// a token names a key not yet known (rotation), or from a file for
// clusters that cannot reach the issuer. When the keys cannot be had the
// answer is ErrUnavailable: a token is never accepted unchecked.
package trust

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"pkgindex.dev/pkgindex/server/policy"
)

// Errors of Identify, matched with errors.Is.
var (
	// ErrRejected means the token is not a valid token of a publisher of
	// the policy: answer 401.
	ErrRejected = errors.New("the identity token was not accepted")
	// ErrUnavailable means the issuer's keys could not be had: answer
	// 503; the token may be good.
	ErrUnavailable = errors.New("the issuer's keys are unavailable")
)

// algorithms are the signatures accepted: asymmetric ones only.
var algorithms = []string{
	oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA,
}

// Limits on what an issuer sends.
const (
	maxJWKS      = 1 << 20
	keysFresh    = time.Hour        // keys are fetched again after this
	keysStale    = 24 * time.Hour   // and used, if the issuer is down, until this
	refetchAfter = 30 * time.Second // a token naming an unknown key fetches again at most this often
)

// Verifier checks identity tokens against the publishers of a policy. It
// keeps each issuer's keys between requests and is safe for concurrent use.
type Verifier struct {
	client *http.Client
	now    func() time.Time
	mu     sync.Mutex
	sets   map[string]*keySet // by issuer, URL and file
}

// New returns a Verifier that fetches keys with client (nil for one with a
// 10-second timeout).
func New(client *http.Client) *Verifier {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Verifier{client: client, now: time.Now, sets: map[string]*keySet{}}
}

// Issuer returns the unverified "iss" claim of a token shaped like a JWT,
// so the caller can tell which verifier to ask; nothing else may be taken
// from it.
func Issuer(token string) (string, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Iss == "" {
		return "", false
	}
	return claims.Iss, true
}

// Identify verifies token for the policy's audience against the keys of
// its issuer and returns the publisher identity whose claim rules it
// matches (Groups names every matching publisher), with its claims.
func (v *Verifier) Identify(ctx context.Context, pol *policy.Policy, token string) (policy.Identity, map[string]any, error) {
	iss, ok := Issuer(token)
	if !ok {
		return policy.Identity{}, nil, fmt.Errorf("%w: malformed token", ErrRejected)
	}
	var pubs []policy.PublisherSpec
	for _, p := range pol.Publishers() {
		if p.Issuer == iss {
			pubs = append(pubs, p)
		}
	}
	if len(pubs) == 0 {
		return policy.Identity{}, nil, fmt.Errorf("%w: no publisher of the policy trusts issuer %q", ErrRejected, truncate(iss, 100))
	}
	keys := &requestKeys{set: v.keySet(pubs[0])}
	ver := oidc.NewVerifier(iss, keys, &oidc.Config{ClientID: pol.Audience(), SupportedSigningAlgs: algorithms, Now: v.now})
	tok, err := ver.Verify(ctx, token)
	if keys.err != nil {
		return policy.Identity{}, nil, fmt.Errorf("%w: %w", ErrUnavailable, keys.err)
	}
	if err != nil {
		return policy.Identity{}, nil, fmt.Errorf("%w: %s", ErrRejected, strings.TrimPrefix(err.Error(), "oidc: "))
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return policy.Identity{}, nil, fmt.Errorf("%w: claims: %w", ErrRejected, err)
	}
	id := policy.Identity{Kind: policy.Publisher}
	for _, p := range pubs {
		if matches(p.Claims, claims) {
			if id.Name == "" {
				id.Name = p.Name
			}
			id.Groups = append(id.Groups, p.Name)
		}
	}
	if id.Name == "" {
		return id, claims, fmt.Errorf("%w: its claims (%s) match no publisher of the policy", ErrRejected, describe(claims))
	}
	return id, claims, nil
}

// matches reports whether every rule holds: the claim is a string that
// matches the rule's pattern.
func matches(rules map[string]string, claims map[string]any) bool {
	for name, pat := range rules {
		s, ok := claims[name].(string)
		if !ok || !policy.Match(pat, s) {
			return false
		}
	}
	return true
}

// describe names the claims publishers usually match, for the refusal.
func describe(claims map[string]any) string {
	var parts []string
	for _, k := range []string{"sub", "repository", "workflow_ref", "ref", "environment", "project_path"} {
		if s, ok := claims[k].(string); ok {
			parts = append(parts, k+"="+truncate(s, 100))
		}
	}
	return strings.Join(parts, " ")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func (v *Verifier) keySet(p policy.PublisherSpec) *keySet {
	key := p.Issuer + "\x00" + p.JWKSURL + "\x00" + p.JWKSFile
	v.mu.Lock()
	defer v.mu.Unlock()
	ks := v.sets[key]
	if ks == nil {
		ks = &keySet{issuer: p.Issuer, url: p.JWKSURL, file: p.JWKSFile, client: v.client, now: func() time.Time { return v.now() }}
		v.sets[key] = ks
	}
	return ks
}

// requestKeys is the key set as one verification sees it: go-oidc does not
// keep the key set's error, which tells a token that fails from keys that
// could not be had.
type requestKeys struct {
	set *keySet
	err error
}

func (rk *requestKeys) VerifySignature(ctx context.Context, token string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(token, joseAlgorithms())
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errors.New("malformed signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	keys, err := rk.set.keys(ctx, kid)
	if err != nil {
		rk.err = err
		return nil, err
	}
	for _, k := range keys {
		if kid != "" && k.KeyID != kid {
			continue
		}
		if payload, err := jws.Verify(k.Key); err == nil {
			return payload, nil
		}
	}
	return nil, errors.New("no key of the issuer verifies the signature")
}

func joseAlgorithms() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(algorithms))
	for i, a := range algorithms {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}

// keySet holds one issuer's public keys.
type keySet struct {
	issuer, url, file string
	client            *http.Client
	now               func() time.Time
	mu                sync.Mutex
	cached            []jose.JSONWebKey
	fetched, tried    time.Time
	failed            error // of the last fetch, when it failed
}

// keys returns the issuer's keys, fetching them when there are none yet,
// when they are older than keysFresh, or when kid is not among them.
func (ks *keySet) keys(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	now := ks.now()
	known := kid == "" || hasKey(ks.cached, kid)
	stale := now.Sub(ks.fetched) > keysFresh
	if ks.cached != nil && known && !stale {
		return ks.cached, nil
	}
	// Neither an unknown key id nor an issuer that is down may make every
	// request fetch: they would queue here, one fetch at a time.
	if now.Sub(ks.tried) < refetchAfter {
		switch {
		case ks.cached != nil && now.Sub(ks.fetched) < keysStale:
			return ks.cached, nil
		case ks.failed != nil:
			return nil, ks.failed
		}
	}
	ks.tried = now
	keys, err := ks.load(ctx)
	if err != nil {
		ks.failed = err
		if ks.cached != nil && now.Sub(ks.fetched) < keysStale {
			return ks.cached, nil // the issuer is down; the keys it gave still hold
		}
		return nil, err
	}
	ks.cached, ks.fetched, ks.failed = keys, now, nil
	return keys, nil
}

func hasKey(keys []jose.JSONWebKey, kid string) bool {
	for _, k := range keys {
		if k.KeyID == kid {
			return true
		}
	}
	return false
}

// load reads the keys from the file, or from the URL (found through the
// issuer's discovery document when none is configured).
func (ks *keySet) load(ctx context.Context) ([]jose.JSONWebKey, error) {
	var data []byte
	var err error
	switch {
	case ks.file != "":
		data, err = os.ReadFile(ks.file)
		if err != nil {
			return nil, fmt.Errorf("reading the keys of %s: %w", ks.issuer, err)
		}
	default:
		url := ks.url
		if url == "" {
			if url, err = ks.discover(ctx); err != nil {
				return nil, err
			}
		}
		if data, err = ks.get(ctx, url); err != nil {
			return nil, err
		}
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("the keys of %s are not a JWKS: %w", ks.issuer, err)
	}
	var keys []jose.JSONWebKey
	for _, k := range set.Keys {
		// Public keys only: a symmetric key in the set must never
		// verify anything.
		switch k.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("the keys of %s hold no public key", ks.issuer)
	}
	return keys, nil
}

// discover reads the issuer's discovery document for its keys' URL.
func (ks *keySet) discover(ctx context.Context) (string, error) {
	data, err := ks.get(ctx, strings.TrimSuffix(ks.issuer, "/")+"/.well-known/openid-configuration")
	if err != nil {
		return "", err
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.JWKSURI == "" {
		return "", fmt.Errorf("the discovery document of %s is unusable", ks.issuer)
	}
	if doc.Issuer != ks.issuer {
		return "", fmt.Errorf("the discovery document of %s names issuer %q", ks.issuer, truncate(doc.Issuer, 100))
	}
	return doc.JWKSURI, nil
}

func (ks *keySet) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS+1))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", url, err)
	}
	if len(data) > maxJWKS {
		return nil, fmt.Errorf("fetching %s: larger than %d KiB", url, maxJWKS>>10)
	}
	return data, nil
}
