package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"pkgindex.dev/pkgindex/server/auth"
	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/policy"
	"pkgindex.dev/pkgindex/server/tokens"
)

// The token API makes, lists and revokes scoped tokens. It needs a policy:
// a token's rights are checked against its owner's grants.
//
//	POST   /api/tokens        {"projects": ["acme-lib"], "rights": ["upload"], "expires": "90d", "description": "..."}
//	GET    /api/tokens
//	DELETE /api/tokens/{id}

// defaultExpiry is a token's lifetime when the request names none.
const defaultExpiry = "90d"

// tokenAnswer is a token as the API shows it: the token itself only when
// it is made.
type tokenAnswer struct {
	Token string `json:"token,omitempty"`
	tokens.Record
}

// tokenCaller authenticates a request to the token API: tokens need a
// policy, and a token cannot make or manage tokens.
func (s *Server) tokenCaller(w http.ResponseWriter, r *http.Request) (*caller, bool) {
	if s.policy == nil {
		s.fail(w, r, errorf(http.StatusNotFound, "Scoped tokens need a policy file (--policy)"))
		return nil, false
	}
	c, ok := s.authenticate(w, r, auth.Update)
	if !ok {
		return nil, false
	}
	switch c.id.Kind {
	case policy.Anonymous:
		s.fail(w, r, auth.ErrUnauthorized)
		return nil, false
	case policy.Token:
		s.fail(w, r, errorf(http.StatusForbidden, "A token cannot manage tokens; use the credentials of its owner"))
		return nil, false
	}
	return c, true
}

func (s *Server) serveCreateToken(w http.ResponseWriter, r *http.Request) {
	c, ok := s.tokenCaller(w, r)
	if !ok {
		return
	}
	// Such identities live for minutes or an hour; a token made with one
	// would outlive the job, pod or account that proved it.
	switch c.id.Kind {
	case policy.Publisher:
		s.fail(w, r, errorf(http.StatusForbidden, "A trusted publisher cannot make scoped tokens; exchange its identity token at /_/oidc/mint-token for a short-lived one"))
		return
	case policy.ServiceAccount:
		s.fail(w, r, errorf(http.StatusForbidden, "A service account cannot make scoped tokens; send its own token, which the index checks with the API server"))
		return
	}
	var body struct {
		Projects    []string `json:"projects"`
		Rights      []string `json:"rights"`
		Expires     string   `json:"expires"`
		Description string   `json:"description"`
	}
	if err := readJSON(r, &body, true); err != nil {
		s.fail(w, r, err)
		return
	}
	rec, err := s.tokenRequest(r, c, body.Projects, body.Rights, body.Expires, body.Description)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	token, rec, err := s.tokens.Create(rec)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("token created", "id", rec.ID, "owner", rec.Owner.String(), "projects", rec.Projects, "rights", rec.Rights, "expires", rec.Expires)
	writeAnswer(w, http.StatusCreated, tokenAnswer{Token: token, Record: rec.Public()})
}

// tokenRequest checks what a token is asked for: named projects, known
// rights, a lifetime in bounds, and every right over every project held by
// its owner now.
func (s *Server) tokenRequest(r *http.Request, c *caller, projects, rights []string, expires, desc string) (tokens.Record, error) {
	rec := tokens.Record{Owner: c.id, Description: desc}
	if len(projects) == 0 {
		return rec, errorf(http.StatusBadRequest, "projects: name at least one project")
	}
	for _, p := range projects {
		if !dist.ValidProject(p) {
			return rec, errorf(http.StatusBadRequest, "projects: %q is not a project name", truncate(p, 80))
		}
		if n := dist.Normalize(p); !slices.Contains(rec.Projects, n) {
			rec.Projects = append(rec.Projects, n)
		}
	}
	set, err := policy.ParseRights(rights)
	if err != nil || set == 0 {
		return rec, errorf(http.StatusBadRequest, "rights: want one or more of upload, yank, remove, status, download, list")
	}
	rec.Rights = set.Names()
	if expires == "" {
		expires = defaultExpiry
	}
	life, err := tokens.ParseExpiry(expires)
	if err != nil {
		return rec, errorf(http.StatusBadRequest, "%s", err)
	}
	rec.Expires = time.Now().Add(life)
	if len(desc) > 200 {
		return rec, errorf(http.StatusBadRequest, "description: at most 200 bytes")
	}
	for _, p := range rec.Projects {
		for _, right := range rec.Rights {
			rt, _ := policy.ParseRights([]string{right})
			if err := s.permit(r, c, policy.Right(rt), p); err != nil {
				return rec, err
			}
		}
	}
	return rec, nil
}

// manages reports whether c may see and revoke the token: its owner, or
// anyone the policy gives every right of the token over every project of
// it.
func (s *Server) manages(c *caller, rec *tokens.Record) bool {
	if rec.Owner.Kind == c.id.Kind && rec.Owner.Name == c.id.Name {
		return true
	}
	if len(rec.Projects) == 0 {
		return false
	}
	rights, _ := policy.ParseRights(rec.Rights)
	for _, p := range rec.Projects {
		for _, n := range rights.Names() {
			rt, _ := policy.ParseRights([]string{n})
			if !s.decide(c, policy.Right(rt), p).Allowed {
				return false
			}
		}
	}
	return true
}

func (s *Server) serveListTokens(w http.ResponseWriter, r *http.Request) {
	c, ok := s.tokenCaller(w, r)
	if !ok {
		return
	}
	all, err := s.tokens.List()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := []tokenAnswer{}
	for _, rec := range all {
		if s.manages(c, &rec) {
			out = append(out, tokenAnswer{Record: rec.Public()})
		}
	}
	writeAnswer(w, http.StatusOK, out)
}

func (s *Server) serveRevokeToken(w http.ResponseWriter, r *http.Request) {
	c, ok := s.tokenCaller(w, r)
	if !ok {
		return
	}
	id, err := tokens.ParseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, errorf(http.StatusBadRequest, "%s", err))
		return
	}
	rec, err := s.tokens.Get(id)
	if err == nil && !s.manages(c, rec) {
		// Not found rather than forbidden: ids of others' tokens are
		// not confirmed.
		err = tokens.ErrNotFound
	}
	if err == nil {
		err = s.tokens.Revoke(id)
	}
	if errors.Is(err, tokens.ErrNotFound) {
		s.fail(w, r, errorf(http.StatusNotFound, "No token %s that you may revoke", id))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("token revoked", "id", id, "owner", rec.Owner.String(), "by", c.id.String())
	writeAnswer(w, http.StatusOK, tokenAnswer{Record: rec.Public()})
}

// writeAnswer answers a change or a question about one: never cached, no
// validators.
func writeAnswer(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
