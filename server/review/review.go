// Package review checks Kubernetes service-account tokens with the API
// server's TokenReview, so that a job in the cluster can publish with the
// projected token it already carries, and no password.
//
// It speaks the one call it needs over plain HTTP rather than through
// client-go: the server stays free of Kubernetes modules (test/boundaries),
// and a TokenReview is one POST of a small JSON object.
package review

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Errors of Review, matched with errors.Is.
var (
	// ErrRejected means the API server did not authenticate the token
	// for the audience, or it is not a service account's. Answer 401.
	ErrRejected = errors.New("the service-account token was not accepted")
	// ErrUnavailable means the API server could not be asked or did not
	// answer usefully. Answer 503: the token may be good.
	ErrUnavailable = errors.New("the Kubernetes API server could not review the token")
)

// In-cluster locations of the pod's own service account, as every
// Kubernetes client reads them.
const (
	saDir     = "/var/run/secrets/kubernetes.io/serviceaccount"
	tokenFile = saDir + "/token"
	caFile    = saDir + "/ca.crt"
)

// Reviewer asks one API server to review tokens.
type Reviewer struct {
	// URL is the API server's base URL, https://host:port.
	URL string
	// Client reaches it: the cluster's CA and, outside a cluster, client
	// certificates.
	Client *http.Client
	// TokenFile is the bearer token the reviewer authenticates with,
	// read at each review since a projected token is rotated; "" for
	// none (the client's certificates authenticate).
	TokenFile string

	mu   sync.Mutex
	seen map[[sha256.Size]byte]seen // accepted tokens, by digest
}

// remember is how long an accepted token is not reviewed again. pip sends
// credentials with every page, and an install reads dozens: a review each
// would load the API server. A token whose account or pod is deleted is
// thus still accepted for at most this long.
const remember = 10 * time.Second

// maxSeen bounds the remembered tokens; only accepted ones are kept.
const maxSeen = 1024

type seen struct {
	acct  Account
	until time.Time
}

// InCluster returns the reviewer of the cluster the process runs in, from
// KUBERNETES_SERVICE_HOST and _PORT and the pod's service-account files.
func InCluster() (*Reviewer, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, errors.New("not running in a Kubernetes cluster (KUBERNETES_SERVICE_HOST is not set)")
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading the cluster's CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s holds no certificate", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &Reviewer{
		URL:       "https://" + net.JoinHostPort(host, port),
		Client:    &http.Client{Transport: tr, Timeout: 10 * time.Second},
		TokenFile: tokenFile,
	}, nil
}

// Account is a service account the API server vouched for.
type Account struct {
	// Name is system:serviceaccount:<namespace>:<name>.
	Name      string
	Namespace string
}

type tokenReview struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		Token     string   `json:"token"`
		Audiences []string `json:"audiences"`
	} `json:"spec"`
	Status struct {
		Authenticated bool `json:"authenticated"`
		User          struct {
			Username string `json:"username"`
		} `json:"user"`
		Audiences []string `json:"audiences"`
		Error     string   `json:"error"`
	} `json:"status"`
}

// Review asks the API server whether token is a valid service-account
// token for audience, and whose.
func (rv *Reviewer) Review(ctx context.Context, token, audience string) (Account, error) {
	key := sha256.Sum256([]byte(audience + "\x00" + token))
	now := time.Now()
	rv.mu.Lock()
	s, ok := rv.seen[key]
	rv.mu.Unlock()
	if ok && now.Before(s.until) {
		return s.acct, nil
	}
	acct, err := rv.review(ctx, token, audience)
	if err != nil {
		return acct, err
	}
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if rv.seen == nil || len(rv.seen) >= maxSeen {
		rv.seen = map[[sha256.Size]byte]seen{} // all expire within seconds anyway
	}
	rv.seen[key] = seen{acct: acct, until: now.Add(remember)}
	return acct, nil
}

func (rv *Reviewer) review(ctx context.Context, token, audience string) (Account, error) {
	var req tokenReview
	req.APIVersion, req.Kind = "authentication.k8s.io/v1", "TokenReview"
	req.Spec.Token, req.Spec.Audiences = token, []string{audience}
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(rv.URL, "/")+"/apis/authentication.k8s.io/v1/tokenreviews", bytes.NewReader(body))
	if err != nil {
		return Account{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	if rv.TokenFile != "" {
		own, err := os.ReadFile(rv.TokenFile)
		if err != nil {
			return Account{}, fmt.Errorf("%w: reading the index's own token: %w", ErrUnavailable, err)
		}
		hr.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(own)))
	}
	resp, err := rv.Client.Do(hr)
	if err != nil {
		return Account{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Account{}, fmt.Errorf("%w: reading the answer: %w", ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		// The API server's message never holds the token under review.
		return Account{}, fmt.Errorf("%w: %s: %s", ErrUnavailable, resp.Status, truncate(string(data), 200))
	}
	var ans tokenReview
	if err := json.Unmarshal(data, &ans); err != nil {
		return Account{}, fmt.Errorf("%w: unexpected answer: %w", ErrUnavailable, err)
	}
	st := ans.Status
	if !st.Authenticated {
		return Account{}, fmt.Errorf("%w: %s", ErrRejected, truncate(st.Error, 200))
	}
	// An API server that ignores audiences answers with none; the token
	// must have been issued for this one.
	if !slices.Contains(st.Audiences, audience) {
		return Account{}, fmt.Errorf("%w: not issued for audience %q", ErrRejected, audience)
	}
	rest, ok := strings.CutPrefix(st.User.Username, "system:serviceaccount:")
	ns, name, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || ns == "" || name == "" {
		return Account{}, fmt.Errorf("%w: %q is not a service account", ErrRejected, st.User.Username)
	}
	return Account{Name: st.User.Username, Namespace: ns}, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
