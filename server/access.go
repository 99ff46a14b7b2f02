package server

import (
	"errors"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"

	"pkgindex.dev/pkgindex/server/auth"
	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/logging"
	"pkgindex.dev/pkgindex/server/policy"
	"pkgindex.dev/pkgindex/server/review"
	"pkgindex.dev/pkgindex/server/tokens"
	"pkgindex.dev/pkgindex/server/trust"
)

// caller is who a request proved to be.
type caller struct {
	id policy.Identity
	// token is the record of the scoped token the request sent, if any:
	// its scope bounds what its owner's grants allow.
	token *tokens.Record
	// claims are a trusted publisher's, directly or through a token
	// minted for it: the identity its attestations must not contradict.
	claims map[string]string
}

// name is the caller as the log lines of changes name it.
func (c *caller) name() string {
	if c == nil {
		return ""
	}
	return c.id.Name
}

// authenticate establishes who r is before a handler looks further. Without
// a policy it is pypiserver's check of act (update for every change), and
// the caller is the htpasswd user, or nil where act is not protected. With
// a policy, credentials are checked whatever the action, a request without
// any is anonymous, and permit decides once the project is known. On
// refusal it has answered already.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, act auth.Action) (*caller, bool) {
	if s.policy == nil {
		user, ok := s.authorize(w, r, act)
		if !ok || user == "" {
			return nil, ok
		}
		return &caller{id: policy.Identity{Kind: policy.User, Name: user}}, true
	}
	c, err := s.identify(r, act)
	if err != nil {
		s.metrics.Access("unknown", act.String(), "unauthenticated")
		s.fail(w, r, err)
		return nil, false
	}
	return c, true
}

// identify checks the request's credentials under a policy.
func (s *Server) identify(r *http.Request, act auth.Action) (*caller, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return &caller{id: policy.Identity{Kind: policy.Anonymous}}, nil
	}
	if token, ok := bearer(header); ok {
		return s.identifyToken(r, token)
	}
	if user, password, ok := r.BasicAuth(); ok && user == TokenUser {
		return s.identifyToken(r, password)
	}
	user, err := s.auth.Verify(r, act.String())
	if err != nil {
		return nil, err
	}
	return &caller{id: policy.Identity{Kind: policy.User, Name: user}}, nil
}

// TokenUser is the user name that says the password is a token, as on
// PyPI: twine upload -u __token__ -p pkgindex-...
const TokenUser = "__token__"

// bearer returns the token of an Authorization header of the Bearer
// scheme (RFC 6750; the scheme's name in any case, as RFC 9110 has it).
// Scripts send tokens so; pip and twine send Basic credentials only, a
// token as the password of TokenUser.
func bearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// identifyToken checks a token sent as the password of TokenUser or as a
// bearer token.
func (s *Server) identifyToken(r *http.Request, password string) (*caller, error) {
	if !tokens.LooksLike(password) {
		return s.identifyJWT(r, password)
	}
	rec, err := s.tokens.Check(password)
	switch {
	case errors.Is(err, tokens.ErrInvalid), errors.Is(err, tokens.ErrExpired):
		// The id is no secret; a malformed token has none to show.
		id, _ := tokens.ParseID(password)
		logging.Warn(s.log, "token refused", "reason", err.Error(), "id", id, "remote", r.RemoteAddr)
		return nil, fmt.Errorf("%w: %w", auth.ErrUnauthorized, err)
	case err != nil:
		s.log.Error(err, "token not checked")
		return nil, errorf(http.StatusServiceUnavailable, "The token could not be checked: the package directory is unavailable")
	}
	return &caller{id: policy.Identity{Kind: policy.Token, Name: rec.ID + " of " + rec.Owner.String()}, token: rec, claims: rec.Claims}, nil
}

// permit decides whether c may exercise right over project (as sent; ""
// for the pages of the whole index), logs the decision and counts it.
// Without a policy, authenticate decided already.
func (s *Server) permit(r *http.Request, c *caller, right policy.Right, project string) error {
	if s.policy == nil {
		return nil
	}
	if project != "" {
		project = dist.Normalize(project)
	}
	d := s.decide(c, right, project)
	kind := string(c.id.Kind)
	keys := []any{"who", c.id.Name, "kind", kind, "right", right.String(), "project", project, "reason", d.Reason, "remote", r.RemoteAddr}
	if !d.Allowed {
		s.metrics.Access(kind, right.String(), "refused")
		logging.Warn(s.log, "access refused", keys...)
		if c.id.Kind == policy.Anonymous {
			// A challenge makes pip and twine ask for credentials.
			return fmt.Errorf("%w: %s", auth.ErrUnauthorized, errAnonymous)
		}
		return errorf(http.StatusForbidden, "%s may not %s %s: %s", c.id, right, orIndex(project), d.Reason)
	}
	s.metrics.Access(kind, right.String(), "allowed")
	if right == policy.Download || right == policy.List {
		// Reads are many (pip sends credentials with each); their
		// grants show at debug level, their refusals always.
		s.log.V(1).Info("access allowed", keys...)
	} else {
		s.log.Info("access allowed", keys...)
	}
	return nil
}

var errAnonymous = errors.New("credentials required")

// stillValid checks the caller's scoped token again, just before a change
// that took long to receive is made: a token revoked (or expired) since
// the request began changes nothing.
func (s *Server) stillValid(c *caller) error {
	if c == nil || c.token == nil {
		return nil
	}
	err := s.tokens.Recheck(c.token)
	switch {
	case errors.Is(err, tokens.ErrInvalid), errors.Is(err, tokens.ErrExpired):
		logging.Warn(s.log, "change refused: the token was revoked or expired during the request", "who", c.id.Name)
		return fmt.Errorf("%w: %w", auth.ErrUnauthorized, err)
	case err != nil:
		s.log.Error(err, "token not checked")
		return errorf(http.StatusServiceUnavailable, "The token could not be checked: the package directory is unavailable")
	}
	return nil
}

// maxJWT bounds an identity token sent as a password; real ones are a
// few KiB.
const maxJWT = 16 << 10

// identifyJWT checks a JSON Web Token sent as a password: an OIDC token
// of an issuer a publisher of the policy names, or else a Kubernetes
// service account's, reviewed by the API server, when the policy grants to
// service accounts.
func (s *Server) identifyJWT(r *http.Request, token string) (*caller, error) {
	if len(token) > maxJWT {
		return nil, fmt.Errorf("%w: token larger than %d KiB", auth.ErrUnauthorized, maxJWT>>10)
	}
	if strings.Count(token, ".") != 2 {
		logging.Warn(s.log, "token refused", "reason", "neither a scoped token nor a JSON Web Token", "remote", r.RemoteAddr)
		return nil, fmt.Errorf("%w: not a token this index knows (%s... or a JSON Web Token)", auth.ErrUnauthorized, tokens.Prefix)
	}
	pol := s.policy.Current()
	if iss, ok := trust.Issuer(token); ok && slices.ContainsFunc(pol.Publishers(), func(p policy.PublisherSpec) bool { return p.Issuer == iss }) {
		id, claims, err := s.identifyPublisher(r, pol, token)
		if err != nil {
			return nil, err
		}
		return &caller{id: id, claims: claims}, nil
	}
	if !pol.UsesServiceAccounts() {
		logging.Warn(s.log, "token refused", "reason", "a JSON Web Token of an issuer no publisher names, and no grant to service accounts", "remote", r.RemoteAddr)
		return nil, fmt.Errorf("%w: no grant of the policy accepts this token", auth.ErrUnauthorized)
	}
	rv, err := s.reviewer()
	if err != nil {
		s.log.Error(err, "service-account token not reviewed")
		return nil, errorf(http.StatusServiceUnavailable, "Service-account tokens cannot be checked here: %s", err)
	}
	acct, err := rv.Review(r.Context(), token, pol.Audience())
	switch {
	case errors.Is(err, review.ErrRejected):
		logging.Warn(s.log, "service-account token refused", "reason", err.Error(), "remote", r.RemoteAddr)
		return nil, fmt.Errorf("%w: %w", auth.ErrUnauthorized, err)
	case err != nil:
		s.log.Error(err, "service-account token not reviewed")
		return nil, errorf(http.StatusServiceUnavailable, "%s", review.ErrUnavailable)
	}
	return &caller{id: policy.Identity{Kind: policy.ServiceAccount, Name: acct.Name, Groups: []string{acct.Namespace}}}, nil
}

// identifyPublisher verifies an OIDC token of an issuer the policy trusts
// and returns the publisher whose claim rules it matches.
func (s *Server) identifyPublisher(r *http.Request, pol *policy.Policy, token string) (policy.Identity, map[string]string, error) {
	id, claims, err := s.trust.Identify(r.Context(), pol, token)
	switch {
	case errors.Is(err, trust.ErrRejected):
		logging.Warn(s.log, "identity token refused", "reason", err.Error(), "remote", r.RemoteAddr)
		return id, nil, fmt.Errorf("%w: %w", auth.ErrUnauthorized, err)
	case err != nil:
		s.log.Error(err, "identity token not checked")
		return id, nil, errorf(http.StatusServiceUnavailable, "The identity token could not be checked: %s", trust.ErrUnavailable)
	}
	return id, trust.Kept(claims), nil
}

// reviewer is the API server that reviews service-account tokens: the one
// the Config names, or the cluster's the server runs in, found on first
// use.
func (s *Server) reviewer() (*review.Reviewer, error) {
	s.reviewOnce.Do(func() {
		if s.cfg.Reviewer != nil {
			s.review = s.cfg.Reviewer
			return
		}
		s.review, s.reviewErr = review.InCluster()
	})
	return s.review, s.reviewErr
}

// decide asks the policy in force. A token may do what its scope names
// and the policy gives its owner now: revoking the owner's grant, or
// taking the owner out of the password file, revokes the owner's tokens
// too.
func (s *Server) decide(c *caller, right policy.Right, project string) policy.Decision {
	if c.token == nil {
		return s.policy.Current().Decide(c.id, right, project)
	}
	if !c.token.Allows(right, project) {
		scope := "the projects its owner may act on"
		if len(c.token.Projects) > 0 {
			scope = strings.Join(c.token.Projects, ",")
		}
		return policy.Decision{Reason: fmt.Sprintf("the token carries %s over %s only", strings.Join(c.token.Rights, ","), scope)}
	}
	if o := c.token.Owner; o.Kind == policy.User && !s.auth.Known(o.Name) {
		return policy.Decision{Reason: fmt.Sprintf("its owner, user %s, is no longer in the password file", o.Name)}
	}
	d := s.policy.Current().Decide(c.token.Owner, right, project)
	d.Reason = "for its owner, " + d.Reason
	return d
}

func orIndex(project string) string {
	if project == "" {
		return "the index"
	}
	return project
}

// readRight is the policy's right for a read action of -a.
func readRight(act auth.Action) policy.Right {
	if act == auth.Download {
		return policy.Download
	}
	return policy.List
}

// projectOf is the project a read request is about: its {project}, or the
// project of the file it downloads, a file's core metadata, provenance and
// signature being its file's; "" for the pages of the whole index, and
// for a path that names no distribution, which only a grant over every
// project then allows.
func projectOf(r *http.Request) string {
	if p := r.PathValue("project"); p != "" {
		return p
	}
	if p := r.PathValue("path"); p != "" {
		name := path.Base(p)
		for _, sidecar := range sidecarSuffixes {
			if base, ok := strings.CutSuffix(name, sidecar); ok {
				name = base
				break
			}
		}
		if df, err := dist.Parse(name); err == nil {
			return df.Project
		}
	}
	return ""
}

// sidecarSuffixes end the names of what is served beside a distribution
// file, under its name: PEP 658 core metadata, PEP 740 provenance, a
// detached GPG signature.
var sidecarSuffixes = []string{".metadata", ".provenance", ".asc"}
