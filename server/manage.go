package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"pkgindex.dev/pkgindex/server/auth"
	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/policy"
	"pkgindex.dev/pkgindex/server/store"
)

// The management API changes what the index says about files it holds:
// yank and unyank a release (PEP 592), remove one, set a project's status
// (PEP 792). Every call needs the update action's credentials and answers
// JSON naming the files it touched.
//
//	POST   /api/projects/{project}/releases/{version}/yank    {"reason": "..."}
//	POST   /api/projects/{project}/releases/{version}/unyank
//	DELETE /api/projects/{project}/releases/{version}
//	PUT    /api/projects/{project}/status                     {"status": "archived", "reason": "..."}

// maxAPIBody bounds a management request's JSON body.
const maxAPIBody = 64 << 10

type changeResult struct {
	Project string   `json:"project"`
	Version string   `json:"version,omitempty"`
	Files   []string `json:"files,omitempty"`
	Status  string   `json:"status,omitempty"`
	Reason  string   `json:"reason,omitempty"`
}

func (s *Server) serveYank(w http.ResponseWriter, r *http.Request) {
	s.changeRelease(w, r, "yanked", policy.Yank, func(f *store.File, reason string) error {
		return s.store.WriteSidecar(f, store.YankedSuffix, []byte(reason+"\n"))
	})
}

func (s *Server) serveUnyank(w http.ResponseWriter, r *http.Request) {
	s.changeRelease(w, r, "unyanked", policy.Yank, func(f *store.File, _ string) error {
		return s.store.RemoveSidecar(f, store.YankedSuffix)
	})
}

func (s *Server) serveRemove(w http.ResponseWriter, r *http.Request) {
	s.changeRelease(w, r, "removed", policy.Remove, func(f *store.File, _ string) error {
		if err := s.store.Remove(f); err != nil {
			return err
		}
		s.metrics.Removed()
		return nil
	})
}

// changeRelease applies change to every file of a release and reports them.
func (s *Server) changeRelease(w http.ResponseWriter, r *http.Request, what string, right policy.Right, change func(*store.File, string) error) {
	c, ok := s.authenticate(w, r, auth.Update)
	if !ok {
		return
	}
	if err := s.permit(r, c, right, r.PathValue("project")); err != nil {
		s.fail(w, r, err)
		return
	}
	user := c.name()
	var body struct {
		Reason string `json:"reason"`
	}
	if err := readJSON(r, &body, false); err != nil {
		s.fail(w, r, err)
		return
	}
	if strings.ContainsAny(body.Reason, "\r\n") || len(body.Reason) > 1000 {
		s.fail(w, r, errorf(http.StatusBadRequest, "reason: want one line of at most 1000 bytes"))
		return
	}
	project, version := r.PathValue("project"), r.PathValue("version")
	files, err := s.releaseFiles(r, project, version)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res := changeResult{Project: dist.Normalize(project), Version: version}
	for _, f := range files {
		if err := change(f, body.Reason); err != nil {
			s.fail(w, r, err)
			return
		}
		res.Files = append(res.Files, f.Filename())
		s.log.Info(what, "user", user, "file", f.Rel, "reason", body.Reason)
	}
	writeResult(w, res)
}

func (s *Server) serveSetStatus(w http.ResponseWriter, r *http.Request) {
	c, ok := s.authenticate(w, r, auth.Update)
	if !ok {
		return
	}
	user := c.name()
	var st store.Status
	if err := readJSON(r, &st, true); err != nil {
		s.fail(w, r, err)
		return
	}
	project := r.PathValue("project")
	if !dist.ValidProject(project) {
		s.fail(w, r, errorf(http.StatusBadRequest, "invalid project name"))
		return
	}
	if err := s.permit(r, c, policy.Status, project); err != nil {
		s.fail(w, r, err)
		return
	}
	switch st.Status {
	case store.StatusActive, store.StatusArchived, store.StatusQuarantined, store.StatusDeprecated:
	default:
		s.fail(w, r, errorf(http.StatusBadRequest, "status: want active, archived, quarantined or deprecated"))
		return
	}
	if err := s.store.SetProjectStatus(project, st); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("project status set", "user", user, "project", dist.Normalize(project), "status", st.Status, "reason", st.Reason)
	writeResult(w, changeResult{Project: dist.Normalize(project), Status: st.Status, Reason: st.Reason})
}

// readJSON decodes a small JSON body; an empty one is allowed unless
// required.
func readJSON(r *http.Request, v any, required bool) error {
	b, err := readLimited(r.Body, maxAPIBody, "body")
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		if required {
			return errorf(http.StatusBadRequest, "a JSON body is required")
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "invalid JSON body: %s", truncate(err.Error(), 200))
	}
	return nil
}

// writeResult answers a change.
func writeResult(w http.ResponseWriter, v changeResult) { writeAnswer(w, http.StatusOK, v) }
