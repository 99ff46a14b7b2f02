package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"pkgindex.dev/pkgindex/server/auth"
	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/form"
	"pkgindex.dev/pkgindex/server/meta"
	"pkgindex.dev/pkgindex/server/policy"
	"pkgindex.dev/pkgindex/server/store"
	"pkgindex.dev/pkgindex/server/trust"
)

// Limits on the parts of an upload form other than the file.
const (
	maxField      = 1 << 20 // one form field (a long description is the largest)
	maxFields     = 8 << 20 // all of them together
	maxParts      = 4096    // parts of any kind, repeated fields each counted
	maxSignature  = 64 << 10
	maxAttestJSON = 1 << 20
)

// serveLegacy answers the legacy upload API that twine, poetry, pdm, flit,
// hatch and uv speak: a multipart form POSTed to / or /legacy/, whose
// ":action" says what to do.
func (s *Server) serveLegacy(w http.ResponseWriter, r *http.Request) {
	c, ok := s.authenticate(w, r, auth.Update)
	if !ok {
		return
	}
	user := c.name()
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil && mt == "application/x-www-form-urlencoded" {
		s.serveRemoveForm(w, r, c)
		return
	}
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		s.fail(w, r, errorf(http.StatusBadRequest, "Expected a multipart/form-data upload, or an application/x-www-form-urlencoded removal"))
		return
	}
	if r.ContentLength > s.cfg.MaxUploadSize+maxFields+maxSignature+maxAttestJSON {
		s.fail(w, r, errorf(http.StatusRequestEntityTooLarge, "Upload larger than the server's limit of %d bytes", s.cfg.MaxUploadSize))
		return
	}
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxUploadSize+maxFields+maxSignature+maxAttestJSON)
	rc := http.NewResponseController(w)
	upload := &uploadForm{fields: map[string][]string{}, caller: c}
	defer upload.abort()
	fr, err := form.NewReader(&stallReader{r: body, rc: rc, stall: s.cfg.UploadStall}, params["boundary"])
	if err != nil {
		err = bodyError(err)
	} else {
		defer fr.Release()
		err = s.readForm(r, fr, upload)
	}
	if err != nil {
		s.failUpload(w, r, user, upload, err)
		return
	}
	switch action := upload.field(":action"); action {
	case "file_upload":
		err = s.finishUpload(r, user, upload)
	case "remove_pkg":
		err = s.removeRelease(r, c, upload.field("name"), upload.field("version"))
	case "verify", "submit":
		// Registration before upload: nothing to do, as in pypiserver.
	case "doc_upload":
		err = errorf(http.StatusBadRequest, "Documentation uploads are not supported")
	case "":
		err = errorf(http.StatusBadRequest, "Missing :action field")
	default:
		err = errorf(http.StatusBadRequest, "Unsupported :action %q", truncate(action, 40))
	}
	if err != nil {
		s.failUpload(w, r, user, upload, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "OK\n")
}

// uploadForm is what an upload form carried. The file is already in a
// temporary file of the store when the form has been read.
type uploadForm struct {
	caller       *caller // who sends it
	fields       map[string][]string
	filename     string
	df           dist.File
	upload       *store.Upload
	signature    []byte
	attestations []byte
}

// field is the value of a form field; the values of a repeated one
// (classifiers, requires_dist) are joined by line ends. The fields the
// index reads occur once.
func (f *uploadForm) field(name string) string {
	return strings.Join(f.fields[name], "\n")
}

func (f *uploadForm) abort() {
	if f.upload != nil {
		f.upload.Abort()
	}
}

// readForm reads every part of the form, streaming the file to a temporary
// file as it arrives; fields may come before or after it.
func (s *Server) readForm(r *http.Request, fr *form.Reader, upload *uploadForm) error {
	total := 0
	for parts := 0; ; parts++ {
		part, err := fr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return bodyError(err)
		}
		if parts == maxParts {
			return errorf(http.StatusRequestEntityTooLarge, "More than %d parts in the form", maxParts)
		}
		switch part.Name {
		case "content":
			if err := s.receiveFile(r, part, upload); err != nil {
				return err
			}
		case "gpg_signature":
			if upload.signature, err = readLimited(part, maxSignature, "Field gpg_signature"); err != nil {
				return err
			}
		case "attestations":
			if upload.attestations, err = readLimited(part, maxAttestJSON, "Field attestations"); err != nil {
				return err
			}
		default:
			b, err := readLimited(part, maxField, "Field "+truncate(part.Name, 40))
			if err != nil {
				return err
			}
			// A name's bytes count too, and each part one more: a form
			// of endless empty fields is as large as its fields.
			if total += len(part.Name) + len(b) + 1; total > maxFields {
				return errorf(http.StatusRequestEntityTooLarge, "Form fields larger than %d bytes together", maxFields)
			}
			upload.fields[part.Name] = append(upload.fields[part.Name], string(b))
		}
	}
}

// receiveFile checks the file's name before a byte is stored, then streams
// it into the store while its digests are computed.
func (s *Server) receiveFile(r *http.Request, part *form.Part, upload *uploadForm) error {
	if upload.upload != nil {
		return errorf(http.StatusBadRequest, "More than one file in the upload")
	}
	name, err := partFilename(part)
	if err != nil {
		return err
	}
	df, err := dist.Parse(name)
	if err != nil || !dist.ValidProject(df.Project) {
		return errorf(http.StatusBadRequest, "Bad filename: %s", truncate(name, 120))
	}
	upload.filename, upload.df = name, df
	if err := s.permit(r, upload.caller, policy.Upload, df.Project); err != nil {
		return err
	}
	// A missing root (an unmounted volume) would otherwise be made anew
	// by the upload, under the mount point.
	if err := s.store.Ready(r.Context()); err != nil {
		s.log.Error(err, "upload refused: a root is not readable")
		return errorf(http.StatusServiceUnavailable, "The package directory is unavailable (missing or not mounted): uploads are refused until it is back")
	}
	if err := s.checkProjectOpen(df.Project); err != nil {
		return err
	}
	// A file that exists is refused before its bytes are sent; Publish
	// decides again at the end, when it counts.
	if !s.cfg.Overwrite {
		if exists, err := s.store.Exists(r.Context(), df.Project, name); err != nil {
			return unavailable(r.Context(), err)
		} else if exists {
			return fmt.Errorf("%s: %w", name, store.ErrExists)
		}
	}
	// The digests a client sends come before its file (twine, poetry and
	// pdm all send them so); only those are computed as the bytes arrive.
	var digests []string
	for _, algo := range store.UploadDigests() {
		if upload.field(algo+"_digest") != "" {
			digests = append(digests, algo)
		}
	}
	up, err := s.store.Begin(df.Project, digests...)
	if err != nil {
		return err
	}
	upload.upload = up
	// The store reads the file straight into the chunks it hashes and
	// writes: the form reader puts the body's bytes there, not in a
	// buffer of its own to be copied from.
	if _, err := up.ReadFrom(io.LimitReader(part, s.cfg.MaxUploadSize+1)); err != nil {
		var re *store.ReadError
		if errors.As(err, &re) {
			return bodyError(re.Err)
		}
		return err
	}
	if err := up.Close(); err != nil {
		return err
	}
	if up.Size() > s.cfg.MaxUploadSize {
		return errorf(http.StatusRequestEntityTooLarge, "File larger than the server's limit of %d bytes", s.cfg.MaxUploadSize)
	}
	return nil
}

// finishUpload checks what the form says against the file received, then
// publishes it with its sidecars.
func (s *Server) finishUpload(r *http.Request, user string, upload *uploadForm) error {
	if upload.upload == nil {
		return errorf(http.StatusBadRequest, "Missing content: the upload has no file")
	}
	// A form of the file alone (curl -F content=@x.whl) is named by the
	// file, as pypiserver does; fields that are sent must agree with it.
	name, version := upload.field("name"), upload.field("version")
	if name == "" {
		name = upload.df.Project
	}
	if version == "" {
		version = upload.df.Version
	}
	if dist.Normalize(name) != dist.Normalize(upload.df.Project) {
		return errorf(http.StatusBadRequest, "File %s does not belong to project %q", upload.filename, truncate(name, 80))
	}
	if !meta.SameVersion(version, upload.df.Version) {
		return errorf(http.StatusBadRequest, "File %s is not version %q", upload.filename, truncate(version, 80))
	}
	sent := false
	for _, algo := range store.UploadDigests() {
		want := strings.ToLower(strings.TrimSpace(upload.field(algo + "_digest")))
		if want == "" {
			continue
		}
		sent = true
		got, err := upload.upload.Digest(algo)
		if err != nil {
			return err
		}
		if want != got {
			return errorf(http.StatusBadRequest, "Digest mismatch: the %s of the file received is %s, the client said %s", algo, got, truncate(want, 128))
		}
	}
	if !sent {
		s.log.V(1).Info("upload without a digest to check", "file", upload.filename, "user", user)
	}
	md, err := meta.Verify(upload.upload.File(), upload.upload.Size(), upload.df)
	if err != nil {
		return errorf(http.StatusBadRequest, "%s is %s", upload.filename, err)
	}
	upload.upload.SetMetadata(md)
	var provenance []byte
	if len(upload.attestations) > 0 {
		if provenance, err = provenanceFrom(upload.attestations, upload.caller); err != nil {
			return err
		}
	}
	// An upload takes a while; a token revoked meanwhile publishes
	// nothing once the revocation has returned.
	if err := s.stillValid(upload.caller); err != nil {
		return err
	}
	size := upload.upload.Size()
	pub, err := upload.upload.Publish(r.Context(), upload.filename, s.cfg.Overwrite)
	if err != nil {
		return err
	}
	// The file is published; its sidecars follow. A failure here is logged
	// and reported, but the file stays: it is complete and correct.
	for suffix, data := range map[string][]byte{store.SignatureSuffix: upload.signature, store.ProvenanceSuffix: provenance} {
		if len(data) == 0 {
			continue
		}
		if err := s.store.WriteSidecarRel(pub.Rel, suffix, data); err != nil {
			return fmt.Errorf("storing %s of %s: %w", suffix, pub.Rel, err)
		}
	}
	s.metrics.Uploaded(size)
	sha, _ := upload.upload.Digest("sha256")
	s.log.Info("uploaded", "user", user, "file", pub.Rel, "size", size, "sha256", sha, "replaced", pub.Replaced)
	return nil
}

// serveRemoveForm is pypiserver's removal as scripts send it: a urlencoded
// form of ":action=remove_pkg", name and version.
func (s *Server) serveRemoveForm(w http.ResponseWriter, r *http.Request, c *caller) {
	b, err := readLimited(r.Body, maxAPIBody, "body")
	if err == nil {
		var q url.Values
		if q, err = url.ParseQuery(string(b)); err != nil {
			err = errorf(http.StatusBadRequest, "Malformed form body")
		} else if action := q.Get(":action"); action != "remove_pkg" {
			err = errorf(http.StatusBadRequest, "Unsupported :action %q in a urlencoded form: only remove_pkg is sent so", html.EscapeString(truncate(action, 40)))
		} else {
			err = s.removeRelease(r, c, q.Get("name"), q.Get("version"))
		}
	}
	if err != nil {
		s.metrics.UploadRefused()
		s.log.Info("write refused", "user", c.name(), "action", "remove_pkg", "reason", err.Error())
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "OK\n")
}

// removeRelease is pypiserver's remove_pkg: every file of one version of a
// project goes. The name and version are echoed HTML-escaped, as
// pypiserver's pages would show them.
func (s *Server) removeRelease(r *http.Request, c *caller, name, version string) error {
	for _, f := range [][2]string{{"name", name}, {"version", version}} {
		if f[1] == "" {
			return errorf(http.StatusBadRequest, "Missing %s field", f[0])
		}
	}
	if err := s.permit(r, c, policy.Remove, name); err != nil {
		return err
	}
	files, err := s.releaseFiles(r, name, version)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := s.store.Remove(f); err != nil {
			return err
		}
		s.metrics.Removed()
		s.log.Info("removed", "user", c.name(), "file", f.Rel)
	}
	return nil
}

// releaseFiles are the files of one version of a project, as listed now.
func (s *Server) releaseFiles(r *http.Request, name, version string) ([]*store.File, error) {
	notFound := errorf(http.StatusNotFound, "%s (%s) not found", html.EscapeString(truncate(name, 80)), html.EscapeString(truncate(version, 40)))
	if !dist.ValidProject(name) {
		return nil, notFound
	}
	p, err := s.store.Project(r.Context(), dist.Normalize(name))
	if err != nil {
		return nil, unavailable(r.Context(), err)
	}
	if p == nil {
		return nil, notFound
	}
	var files []*store.File
	for _, f := range p.Files {
		if meta.SameVersion(f.Version(), version) {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, notFound
	}
	return files, nil
}

// checkProjectOpen refuses uploads to archived and quarantined projects
// (PEP 792).
func (s *Server) checkProjectOpen(project string) error {
	st, err := s.store.StatusOf(project)
	if err != nil {
		s.log.Error(err, "bad project status marker; refusing uploads", "project", project)
	}
	switch st.Status {
	case store.StatusArchived, store.StatusQuarantined:
		msg := fmt.Sprintf("Project %s is %s and accepts no uploads", dist.Normalize(project), st.Status)
		if st.Reason != "" {
			msg += ": " + truncate(st.Reason, 200)
		}
		return errorf(http.StatusForbidden, "%s", msg)
	}
	return nil
}

// failUpload logs a refused write and answers it.
func (s *Server) failUpload(w http.ResponseWriter, r *http.Request, user string, upload *uploadForm, err error) {
	upload.abort() // before answering: the client may look at once
	s.metrics.UploadRefused()
	s.log.Info("write refused", "user", user, "action", upload.field(":action"), "file", upload.filename, "reason", err.Error())
	s.fail(w, r, err)
}

// partFilename checks the file name exactly as the client sent it: one
// with directories in it ("../x.whl") is refused, not reduced to its base.
func partFilename(part *form.Part) (string, error) {
	name := part.FileName
	switch {
	case name == "":
		return "", errorf(http.StatusBadRequest, "The content part has no file name")
	case len(name) > 255, strings.ContainsAny(name, "/\\\x00"), name[0] == '.', strings.ContainsFunc(name, isControl):
		return "", errorf(http.StatusBadRequest, "Bad filename: %s", truncate(name, 120))
	}
	return name, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// readLimited reads r whole, refusing more than limit bytes of what (for
// the message: "Field name", "body").
func readLimited(r io.Reader, limit int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, bodyError(err)
	}
	if int64(len(b)) > limit {
		return nil, errorf(http.StatusRequestEntityTooLarge, "%s larger than %d bytes", what, limit)
	}
	return b, nil
}

// bodyError names what went wrong reading a request body.
func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return errorf(http.StatusRequestEntityTooLarge, "Upload larger than the server's limit")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, io.ErrNoProgress):
		return errorf(http.StatusBadRequest, "Truncated upload: the request body ended early")
	case errors.Is(err, errStalled):
		return errorf(http.StatusRequestTimeout, "Upload stalled: nothing received for too long")
	}
	var he *httpError
	if errors.As(err, &he) {
		return err
	}
	if errors.Is(err, form.ErrMalformed) {
		msg := err.Error()
		return errorf(http.StatusBadRequest, "%s%s", strings.ToUpper(msg[:1]), msg[1:])
	}
	return fmt.Errorf("reading upload: %w", err)
}

var errStalled = errors.New("upload stalled")

// stallReader moves the connection's read deadline forward before each
// read, so an upload may take as long as it keeps sending: slow links are
// fine, stalled ones do not hold a connection forever.
type stallReader struct {
	r     io.Reader
	rc    *http.ResponseController
	stall time.Duration
}

func (s *stallReader) Read(p []byte) (int, error) {
	s.rc.SetReadDeadline(time.Now().Add(s.stall))
	n, err := s.r.Read(p)
	if err != nil && isTimeout(err) {
		return n, errStalled
	}
	return n, err
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// provenanceFrom checks the attestations an upload carries (a JSON array of
// PEP 740 attestation objects) for shape and wraps them in the provenance
// object the index serves beside the file. The index does not verify the
// signatures: clients that rely on provenance verify it themselves. From a
// trusted publisher, an attestation whose certificate names another
// identity is refused.
func provenanceFrom(raw []byte, c *caller) ([]byte, error) {
	bad := func(format string, args ...any) error {
		return errorf(http.StatusBadRequest, "Invalid attestations: "+format, args...)
	}
	var atts []json.RawMessage
	if err := json.Unmarshal(raw, &atts); err != nil {
		return nil, bad("want a JSON array of attestation objects")
	}
	if len(atts) == 0 || len(atts) > 16 {
		return nil, bad("want 1 to 16 attestations, got %d", len(atts))
	}
	for i, a := range atts {
		var att struct {
			Version              *int `json:"version"`
			VerificationMaterial *struct {
				Certificate         string            `json:"certificate"`
				TransparencyEntries []json.RawMessage `json:"transparency_entries"`
			} `json:"verification_material"`
			Envelope *struct {
				Statement string `json:"statement"`
				Signature string `json:"signature"`
			} `json:"envelope"`
		}
		dec := json.NewDecoder(bytes.NewReader(a))
		if err := dec.Decode(&att); err != nil {
			return nil, bad("attestation %d: not an object", i)
		}
		switch {
		case att.Version == nil || *att.Version != 1:
			return nil, bad("attestation %d: version must be 1", i)
		case att.VerificationMaterial == nil || !isBase64(att.VerificationMaterial.Certificate):
			return nil, bad("attestation %d: verification_material.certificate must be base64", i)
		case len(att.VerificationMaterial.TransparencyEntries) == 0:
			return nil, bad("attestation %d: verification_material.transparency_entries is empty", i)
		case att.Envelope == nil || !isBase64(att.Envelope.Statement) || !isBase64(att.Envelope.Signature):
			return nil, bad("attestation %d: envelope.statement and envelope.signature must be base64", i)
		}
		if c != nil && c.claims != nil {
			der, _ := base64.StdEncoding.DecodeString(att.VerificationMaterial.Certificate)
			if err := trust.CheckAttestation(der, c.claims); err != nil {
				return nil, bad("attestation %d contradicts the uploader: %s", i, err)
			}
		}
	}
	claims := map[string]any{"user": c.name()}
	if c != nil {
		for k, v := range c.claims {
			claims[k] = v
		}
	}
	prov := map[string]any{
		"version": 1,
		"attestation_bundles": []any{map[string]any{
			"publisher":    map[string]any{"kind": "pkgindex-upload", "claims": claims},
			"attestations": atts,
		}},
	}
	return json.Marshal(prov)
}

func isBase64(s string) bool {
	if s == "" {
		return false
	}
	_, err := base64.StdEncoding.DecodeString(s)
	return err == nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
