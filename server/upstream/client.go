package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Errors callers branch on.
var (
	// ErrNotFound: no upstream has the project or file, or it may not be
	// fetched (a denied name, a local project not merged).
	ErrNotFound = errors.New("not found upstream")
	// ErrUnavailable: the upstream failed or timed out and nothing cached
	// can stand in.
	ErrUnavailable = errors.New("upstream unavailable")
	// ErrDigest: a file's bytes do not match the digest its page listed.
	ErrDigest = errors.New("digest mismatch")
	// ErrTooLarge: an upstream page is beyond the size limit.
	ErrTooLarge = errors.New("upstream page too large")
)

// statusError is an upstream answer that is neither success nor not found.
type statusError struct{ code int }

func (e *statusError) Error() string { return fmt.Sprintf("upstream answered %d", e.code) }

// newClient builds the HTTP client of the upstreams: the CA bundle given,
// bounded waits for connections and headers (a body's pauses are bounded
// by the reader), and no credentials across hosts on redirects, which Go's
// client already drops.
func newClient(o *Options) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = o.Timeout
	tr.ResponseHeaderTimeout = o.Timeout
	tr.MaxIdleConnsPerHost = o.MaxFetches
	// Digests are of the bytes as stored; a transparently decompressed
	// body would not match them.
	tr.DisableCompression = true
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the upstream CA bundle: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("upstream CA bundle %s: no PEM certificate in it", o.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("more than 5 redirects")
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
			return errScheme
		}
		return nil
	}}, nil
}

// get sends a GET, with the credentials of base when target is on base's
// host and scheme (a file on another host, a CDN, gets none).
func (u *Upstream) get(ctx context.Context, base, target string, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("upstream request: %w", err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "pkgindex")
	if c, ok := u.opts.credential(base); ok && sameOrigin(base, target) {
		req.SetBasicAuth(c.User, c.Password)
	}
	resp, err := u.client.Do(req)
	if err != nil {
		// url.Error repeats the URL, which holds no credentials (they are
		// refused in URLs), so it may be logged.
		return nil, err
	}
	return resp, nil
}

func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Scheme == ub.Scheme && strings.EqualFold(ua.Host, ub.Host)
}

// readLimited reads a body of at most limit bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, ErrTooLarge
	}
	return b, nil
}
