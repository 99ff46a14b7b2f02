package server

import (
	"errors"
	"net/http"
	"time"

	"pkgindex.dev/pkgindex/server/policy"
	"pkgindex.dev/pkgindex/server/tokens"
	"pkgindex.dev/pkgindex/server/trust"
)

// Trusted publishing as PyPI does it: a CI job asks for the audience, has
// its platform sign an identity token for it, and exchanges that token for
// a short-lived upload token, which twine sends as __token__'s password.
//
//	GET  /_/oidc/audience      {"audience": "pkgindex"}
//	POST /_/oidc/mint-token    {"token": "<OIDC token>"} -> {"success": true, "token": "pkgindex-...", "expires": <unix>}

// mintedLife is how long a minted token lasts, as on PyPI.
const mintedLife = 15 * time.Minute

func (s *Server) serveAudience(w http.ResponseWriter, r *http.Request) {
	if s.policy == nil {
		s.fail(w, r, errorf(http.StatusNotFound, "Trusted publishing needs a policy file (--policy)"))
		return
	}
	writeAnswer(w, http.StatusOK, map[string]string{"audience": s.policy.Current().Audience()})
}

// mintError is PyPI's shape of a refused exchange, which publishing
// actions print.
type mintError struct {
	Message string `json:"message"`
	Errors  []struct {
		Code        string `json:"code"`
		Description string `json:"description"`
	} `json:"errors"`
}

func (s *Server) mintFailed(w http.ResponseWriter, code int, kind, desc string) {
	var e mintError
	e.Message = "Token request failed"
	e.Errors = append(e.Errors, struct {
		Code        string `json:"code"`
		Description string `json:"description"`
	}{kind, desc})
	if code == http.StatusUnauthorized {
		// No Basic challenge: the token goes in the body, not as
		// credentials.
		w.Header().Set("WWW-Authenticate", `Bearer realm="pkgindex"`)
	}
	writeAnswer(w, code, e)
}

func (s *Server) serveMintToken(w http.ResponseWriter, r *http.Request) {
	if s.policy == nil {
		s.fail(w, r, errorf(http.StatusNotFound, "Trusted publishing needs a policy file (--policy)"))
		return
	}
	var body struct {
		Token string `json:"token"`
	}
	if err := readJSON(r, &body, true); err != nil || body.Token == "" {
		s.mintFailed(w, http.StatusBadRequest, "invalid-payload", `want a JSON object {"token": "<OIDC token>"}`)
		return
	}
	if len(body.Token) > maxJWT {
		s.mintFailed(w, http.StatusUnauthorized, "invalid-token", "token too large")
		return
	}
	pol := s.policy.Current()
	id, claims, err := s.identifyPublisher(r, pol, body.Token)
	switch {
	case isUnavailable(err):
		s.mintFailed(w, http.StatusServiceUnavailable, "issuer-unavailable", trust.ErrUnavailable.Error())
		return
	case err != nil:
		s.metrics.Access(string(policy.Publisher), "mint", "unauthenticated")
		s.mintFailed(w, http.StatusUnauthorized, "invalid-token", err.Error())
		return
	}
	token, rec, err := s.tokens.Create(tokens.Record{
		Rights: []string{policy.Upload.String()}, Owner: id, Claims: claims,
		Expires: time.Now().Add(mintedLife), Description: "minted by trusted publishing",
	})
	if err != nil {
		s.log.Error(err, "minting a token")
		s.mintFailed(w, http.StatusServiceUnavailable, "unavailable", "the token could not be stored")
		return
	}
	s.metrics.Access(string(policy.Publisher), "mint", "allowed")
	s.log.Info("token minted", "id", rec.ID, "publisher", id.Name, "publishers", id.Groups, "expires", rec.Expires)
	writeAnswer(w, http.StatusOK, map[string]any{"success": true, "token": token, "expires": rec.Expires.Unix()})
}

// isUnavailable reports whether err is an answer of 503.
func isUnavailable(err error) bool {
	var he *httpError
	return errors.As(err, &he) && he.code == http.StatusServiceUnavailable
}
