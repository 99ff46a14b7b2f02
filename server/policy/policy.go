package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"pkgindex.dev/pkgindex/server/dist"
)

// Kind says how a request proved who it is.
type Kind string

// The kinds of identity a policy knows.
const (
	// Anonymous is a request without credentials.
	Anonymous Kind = "anonymous"
	// User is an htpasswd user.
	User Kind = "user"
	// Token is a scoped token; its rights are those of the identity that
	// made it, within the token's scope.
	Token Kind = "token"
	// ServiceAccount is a Kubernetes service account, proven by a token
	// the API server reviewed.
	ServiceAccount Kind = "serviceaccount"
	// Publisher is an OIDC trusted publisher: a CI job whose identity
	// token matched a publisher of the policy.
	Publisher Kind = "publisher"
)

// Identity is who a request is. Groups are, for a service account, its
// namespace; for a publisher, the names of every publisher of the policy
// its token matched.
type Identity struct {
	Kind   Kind     `json:"kind"`
	Name   string   `json:"name"`
	Groups []string `json:"groups,omitempty"`
}

// String is the identity as logs show it: kind and name.
func (id Identity) String() string {
	if id.Kind == Anonymous {
		return string(Anonymous)
	}
	return string(id.Kind) + " " + id.Name
}

// DefaultAudience is the audience an OIDC or service-account token must be
// issued for unless the policy names another.
const DefaultAudience = "pkgindex"

// File is a policy file as written. JSON is YAML too, so either works.
type File struct {
	// Audience the identity tokens of publishers and service accounts
	// must carry; DefaultAudience when empty.
	Audience string `yaml:"audience" json:"audience,omitempty"`
	// Grants give rights over project patterns to identities.
	Grants []Grant `yaml:"grants" json:"grants"`
	// Publishers are the OIDC trusted publishers grants may name.
	Publishers []PublisherSpec `yaml:"publishers" json:"publishers,omitempty"`
}

// Grant gives rights over projects to identities.
type Grant struct {
	// Projects are normalized names (PEP 503) or patterns in which "*"
	// stands for any run of characters; "*" alone is every project and
	// the pages that list them all.
	Projects []string `yaml:"projects" json:"projects"`
	// Rights are upload, yank, remove, status, download, list, or "*".
	Rights []string `yaml:"rights" json:"rights"`
	// Users are htpasswd user names.
	Users []string `yaml:"users" json:"users,omitempty"`
	// ServiceAccounts are "<namespace>/<name>" or
	// "system:serviceaccount:<namespace>:<name>".
	ServiceAccounts []string `yaml:"serviceAccounts" json:"serviceAccounts,omitempty"`
	// Namespaces grant to every service account of these namespaces.
	Namespaces []string `yaml:"namespaces" json:"namespaces,omitempty"`
	// Publishers are names from the policy's publishers.
	Publishers []string `yaml:"publishers" json:"publishers,omitempty"`
	// Anyone grants to every request, with or without credentials.
	Anyone bool `yaml:"anyone" json:"anyone,omitempty"`
}

// PublisherSpec is an OIDC trusted publisher: tokens of Issuer whose claims
// match Claims.
type PublisherSpec struct {
	Name   string `yaml:"name" json:"name"`
	Issuer string `yaml:"issuer" json:"issuer"`
	// JWKSURL is where the issuer's keys are; empty for the one its
	// discovery document names.
	JWKSURL string `yaml:"jwksURL" json:"jwksURL,omitempty"`
	// JWKSFile holds the issuer's keys for clusters that cannot reach it.
	JWKSFile string `yaml:"jwksFile" json:"jwksFile,omitempty"`
	// Claims must all match: a claim's string value against a pattern in
	// which "*" stands for any run of characters.
	Claims map[string]string `yaml:"claims" json:"claims"`
}

// Policy is a parsed, checked policy file. It is immutable.
type Policy struct {
	audience   string
	grants     []grant
	publishers []PublisherSpec
}

type grant struct {
	index    int // 1-based position in the file, for reasons
	patterns []string
	rights   Rights
	users    []string
	accounts []string // system:serviceaccount:<ns>:<name>
	spaces   []string
	pubs     []string
	anyone   bool
}

// maxFileSize bounds a policy file read into memory.
const maxFileSize = 4 << 20

// Parse reads and checks a policy file, YAML or JSON. Unknown fields,
// rights, publishers and malformed patterns are errors.
func Parse(data []byte) (*Policy, error) {
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("larger than %d MiB", maxFileSize>>20)
	}
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return Compile(f)
}

// Compile checks a policy as written and returns it ready for decisions.
func Compile(f File) (*Policy, error) {
	p := &Policy{audience: f.Audience, publishers: f.Publishers}
	if p.audience == "" {
		p.audience = DefaultAudience
	}
	var errs []error
	names := map[string]bool{}
	for i, pub := range f.Publishers {
		switch {
		case pub.Name == "":
			errs = append(errs, fmt.Errorf("publishers[%d]: name is required", i))
		case names[pub.Name]:
			errs = append(errs, fmt.Errorf("publishers[%d]: name %q given twice", i, pub.Name))
		case !strings.HasPrefix(pub.Issuer, "https://") && !strings.HasPrefix(pub.Issuer, "http://"):
			errs = append(errs, fmt.Errorf("publisher %s: issuer must be an https:// (or, for tests, http://) URL", pub.Name))
		case len(pub.Claims) == 0:
			// An issuer alone would let every repository on GitHub in.
			errs = append(errs, fmt.Errorf("publisher %s: at least one claim rule is required", pub.Name))
		case pub.JWKSURL != "" && pub.JWKSFile != "":
			errs = append(errs, fmt.Errorf("publisher %s: jwksURL and jwksFile exclude each other", pub.Name))
		}
		names[pub.Name] = true
		// One issuer has one set of keys.
		for _, other := range f.Publishers[:i] {
			if other.Issuer == pub.Issuer && (other.JWKSURL != pub.JWKSURL || other.JWKSFile != pub.JWKSFile) {
				errs = append(errs, fmt.Errorf("publishers %s and %s: one issuer, so the same jwksURL and jwksFile", other.Name, pub.Name))
			}
		}
	}
	for i, g := range f.Grants {
		c, err := compileGrant(i+1, g, names)
		if err != nil {
			errs = append(errs, fmt.Errorf("grants[%d]: %w", i, err))
			continue
		}
		p.grants = append(p.grants, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

func compileGrant(index int, g Grant, publishers map[string]bool) (grant, error) {
	c := grant{index: index, users: g.Users, spaces: g.Namespaces, pubs: g.Publishers, anyone: g.Anyone}
	var err error
	if c.rights, err = ParseRights(g.Rights); err != nil {
		return c, err
	}
	if c.rights == 0 {
		return c, errors.New("no rights")
	}
	if len(g.Projects) == 0 {
		return c, errors.New("no projects; \"*\" is every project")
	}
	for _, pat := range g.Projects {
		n, err := NormalizePattern(pat)
		if err != nil {
			return c, err
		}
		c.patterns = append(c.patterns, n)
	}
	for _, sa := range g.ServiceAccounts {
		full, err := serviceAccountName(sa)
		if err != nil {
			return c, err
		}
		c.accounts = append(c.accounts, full)
	}
	for _, pub := range g.Publishers {
		if !publishers[pub] {
			return c, fmt.Errorf("publisher %q is not among the policy's publishers", pub)
		}
	}
	if !c.anyone && len(c.users)+len(c.accounts)+len(c.spaces)+len(c.pubs) == 0 {
		return c, errors.New("names nobody: give users, serviceAccounts, namespaces, publishers or anyone: true")
	}
	return c, nil
}

// serviceAccountName returns the API server's name of a service account
// given as "<ns>/<name>" or in that full form.
func serviceAccountName(s string) (string, error) {
	if rest, ok := strings.CutPrefix(s, "system:serviceaccount:"); ok {
		ns, name, ok := strings.Cut(rest, ":")
		if ok && ns != "" && name != "" && !strings.Contains(name, ":") {
			return s, nil
		}
	} else if ns, name, ok := strings.Cut(s, "/"); ok && ns != "" && name != "" && !strings.Contains(name, "/") {
		return "system:serviceaccount:" + ns + ":" + name, nil
	}
	return "", fmt.Errorf("service account %q: want <namespace>/<name> or system:serviceaccount:<namespace>:<name>", s)
}

// NormalizePattern returns a project pattern in PEP 503's normal form:
// lower case, runs of "-", "_" and "." as one "-", "*" kept.
func NormalizePattern(pat string) (string, error) {
	pieces := strings.Split(pat, "*")
	for i, piece := range pieces {
		for _, c := range piece {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				return "", fmt.Errorf("project pattern %q: only letters, digits, '-', '_', '.' and '*'", pat)
			}
		}
		pieces[i] = dist.Normalize(piece)
	}
	n := strings.Join(pieces, "*")
	if n == "" {
		return "", errors.New("empty project pattern")
	}
	return n, nil
}

// Match reports whether s matches pattern, in which "*" stands for any run
// of characters (possibly empty) and every other character for itself.
func Match(pattern, s string) bool {
	first, rest, wild := strings.Cut(pattern, "*")
	if !wild {
		return pattern == s
	}
	if !strings.HasPrefix(s, first) {
		return false
	}
	s = s[len(first):]
	for {
		first, after, more := strings.Cut(rest, "*")
		if !more {
			return strings.HasSuffix(s, first) // the last piece is anchored at the end
		}
		i := strings.Index(s, first)
		if i < 0 {
			return false
		}
		s, rest = s[i+len(first):], after
	}
}

// specificity orders patterns: an exact name above any pattern, then by
// the count of literal characters.
func specificity(pattern string) int {
	if !strings.Contains(pattern, "*") {
		return 1 << 30
	}
	return len(pattern) - strings.Count(pattern, "*")
}

// Audience is the audience identity tokens must be issued for.
func (p *Policy) Audience() string { return p.audience }

// Publishers are the policy's trusted publishers.
func (p *Policy) Publishers() []PublisherSpec { return p.publishers }

// UsesServiceAccounts reports whether a grant names a service account or
// a namespace: only then does the server ask the API server to review
// tokens.
func (p *Policy) UsesServiceAccounts() bool {
	return slices.ContainsFunc(p.grants, func(g grant) bool { return len(g.accounts)+len(g.spaces) > 0 })
}

// subjects returns the ways g names id, one bit each: anyone, the user,
// the service account, its namespace, the publisher. Each is a layer of
// its own in Decide.
func (g *grant) subjects(id Identity) (layers uint8) {
	if g.anyone {
		layers |= 1 << 0
	}
	switch id.Kind {
	case User:
		if slices.Contains(g.users, id.Name) {
			layers |= 1 << 1
		}
	case ServiceAccount:
		if slices.Contains(g.accounts, id.Name) {
			layers |= 1 << 2
		}
		if slices.ContainsFunc(id.Groups, func(ns string) bool { return slices.Contains(g.spaces, ns) }) {
			layers |= 1 << 3
		}
	case Publisher:
		if slices.ContainsFunc(id.Groups, func(name string) bool { return slices.Contains(g.pubs, name) }) {
			layers |= 1 << 4
		}
	}
	return layers
}

// layerCount is the number of subject layers subjects knows.
const layerCount = 5

// Decision is the outcome of a question to the policy, with a reason fit
// for logs and for the client.
type Decision struct {
	Allowed bool
	Reason  string
}

// Decide says whether id may exercise r over project (a normalized name;
// "" for the pages that list every project, which only "*" matches).
//
// The grants are taken in layers by how they name id (anyone, as the user,
// as the service account, through its namespace, as the publisher). In each
// layer the most specific matching pattern decides, grants of equal
// specificity adding up; the layers' rights then add up.
func (p *Policy) Decide(id Identity, r Right, project string) Decision {
	var layers [layerCount]struct {
		best     int
		rights   Rights
		deciding []int
	}
	for i := range layers {
		layers[i].best = -1
	}
	for i := range p.grants {
		g := &p.grants[i]
		subj := g.subjects(id)
		if subj == 0 {
			continue
		}
		for _, pat := range g.patterns {
			if !Match(pat, project) {
				continue
			}
			s := specificity(pat)
			for l := range layers {
				if subj&(1<<l) == 0 {
					continue
				}
				switch ly := &layers[l]; {
				case s > ly.best:
					ly.best, ly.rights, ly.deciding = s, g.rights, []int{g.index}
				case s == ly.best && !slices.Contains(ly.deciding, g.index):
					ly.rights |= g.rights
					ly.deciding = append(ly.deciding, g.index)
				}
			}
		}
	}
	var all Rights
	var deciding, giving []int
	for _, ly := range layers {
		all |= ly.rights
		deciding = append(deciding, ly.deciding...)
		if ly.rights.Has(r) {
			giving = append(giving, ly.deciding...)
		}
	}
	what := project
	if what == "" {
		what = "the index"
	}
	switch {
	case len(deciding) == 0:
		return Decision{Reason: fmt.Sprintf("no grant gives %s any right over %s", id, what)}
	case !all.Has(r):
		return Decision{Reason: fmt.Sprintf("grant %s, the most specific for %s, gives %s only %s", joinInts(deciding), what, id, all)}
	}
	return Decision{Allowed: true, Reason: "grant " + joinInts(giving)}
}

func joinInts(ns []int) string {
	ns = slices.Compact(slices.Sorted(slices.Values(ns)))
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, "+")
}
