package upstream

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"pkgindex.dev/pkgindex/server/dist"
)

// Options configure the upstream cache.
type Options struct {
	// URLs are the upstream Simple API roots, in the order they are asked.
	URLs []string
	// Credentials are the user and password sent to each upstream (by its
	// URL as given), or to every upstream under the key "".
	Credentials map[string]Credential
	// CAFile is a PEM bundle of the authorities upstream certificates are
	// checked against instead of the system's; "" for the system's.
	CAFile string
	// Timeout bounds connecting to an upstream and waiting for its
	// answer's headers, a page's whole body, and each pause of a file's.
	Timeout time.Duration
	// TTL is how long a fetched page is served before it is revalidated.
	TTL time.Duration
	// Merge are the local projects whose upstream files are added to their
	// pages; Deny the projects never fetched. Both hold normalized names.
	Merge, Deny []string
	// CacheSize is the most bytes of cached files kept; 0 for no limit.
	CacheSize int64
	// MaxPageSize is the largest upstream page read.
	MaxPageSize int64
	// MaxFetches is how many upstream requests run at once.
	MaxFetches int
	// Dir is where the cache lives: <first root>/.pkgindex/cache.
	Dir string
	Log logr.Logger
}

// Credential is a user and password for an upstream.
type Credential struct{ User, Password string }

// Defaults of the options a command line may leave out.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultTTL         = 10 * time.Minute
	DefaultMaxPageSize = 64 << 20
	DefaultMaxFetches  = 16
	// NotFoundTTL is how long "no upstream has this project" is believed:
	// short, since a name may be published any time.
	NotFoundTTL = time.Minute
)

// CheckURL refuses an upstream URL that is not an http(s) URL, or that
// carries credentials, which would show in the process list and in logs.
// The error never repeats a password.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.User != nil {
		return errors.New("credentials in the URL are refused: put them in a credentials file or PKGINDEX_UPSTREAM_USER and PKGINDEX_UPSTREAM_PASSWORD")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return errors.New("want an http:// or https:// URL such as https://pypi.org/simple/")
	}
	return nil
}

// ReadCredentials reads a credentials file: one line per upstream, "URL
// user:password", or a line "user:password" for every upstream without a
// line of its own. Blank lines and lines starting with # are skipped. The
// error names the line, never its content.
func ReadCredentials(path string) (map[string]Credential, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading credentials: %w", err)
	}
	creds := map[string]Credential{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, pair := "", line
		if i := strings.IndexAny(line, " \t"); i >= 0 {
			key, pair = line[:i], strings.TrimSpace(line[i+1:])
			key = strings.TrimSuffix(key, "/") + "/"
		}
		user, pw, ok := strings.Cut(pair, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("credentials line %d: want user:password or URL user:password", n)
		}
		creds[key] = Credential{User: user, Password: pw}
	}
	return creds, nil
}

// Environment variables that give every upstream without a line of its
// own in the credentials file a user and password.
const (
	EnvUser     = "PKGINDEX_UPSTREAM_USER"
	EnvPassword = "PKGINDEX_UPSTREAM_PASSWORD"
)

// EnvCredentials adds the environment's credentials, when EnvUser is set,
// as those of every upstream without its own.
func EnvCredentials(creds map[string]Credential, env func(string) string) map[string]Credential {
	user := env(EnvUser)
	if user == "" {
		return creds
	}
	if creds == nil {
		creds = map[string]Credential{}
	}
	creds[""] = Credential{User: user, Password: env(EnvPassword)}
	return creds
}

// ReadNames reads a file of project names, one a line (# starts a
// comment), normalized.
func ReadNames(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading names: %w", err)
	}
	var names []string
	for line := range strings.Lines(string(b)) {
		line, _, _ = strings.Cut(line, "#")
		if line = strings.TrimSpace(line); line != "" {
			names = append(names, dist.Normalize(line))
		}
	}
	return names, nil
}

// credential is the one sent to the upstream at base.
func (o *Options) credential(base string) (Credential, bool) {
	if c, ok := o.Credentials[strings.TrimSuffix(base, "/")+"/"]; ok {
		return c, true
	}
	c, ok := o.Credentials[""]
	return c, ok
}

func (o *Options) merges(name string) bool { return slices.Contains(o.Merge, name) }
func (o *Options) denies(name string) bool { return slices.Contains(o.Deny, name) }
