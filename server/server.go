// Package server is the index server every pkgindex pod runs: the Simple
// API, downloads and pypiserver's endpoints over the store, with health,
// readiness and metrics, and a graceful shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"pkgindex.dev/pkgindex/server/auth"
	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/flags"
	"pkgindex.dev/pkgindex/server/logging"
	"pkgindex.dev/pkgindex/server/meta"
	"pkgindex.dev/pkgindex/server/metrics"
	"pkgindex.dev/pkgindex/server/policy"
	"pkgindex.dev/pkgindex/server/review"
	"pkgindex.dev/pkgindex/server/store"
	"pkgindex.dev/pkgindex/server/tokens"
	"pkgindex.dev/pkgindex/server/trust"
	"pkgindex.dev/pkgindex/server/upstream"
)

// Server serves one index.
type Server struct {
	cfg   Config
	log   logr.Logger
	store *store.Store
	auth  *auth.Authenticator
	// policy decides every access when --policy is given; nil for
	// pypiserver's -a/-P/--writers rules.
	policy *policy.Watcher
	// tokens are the scoped tokens on the shared volume; with a policy.
	tokens *tokens.Store
	// trust verifies the OIDC tokens of trusted publishers; with a policy.
	trust *trust.Verifier
	// review checks service-account tokens; set on first use.
	review     *review.Reviewer
	reviewErr  error
	reviewOnce sync.Once
	metrics    *metrics.Metrics
	welcome    []byte
	version    string
	rootPage   atomic.Pointer[rootPage]
	// wheels remembers where each wheel's METADATA lies.
	wheels *meta.Index
	// fileCache is the Cache-Control of package files, "" for none.
	fileCache string
	handler   http.Handler
	// upstream is the pull-through cache of other indexes, nil when off.
	upstream *upstream.Upstream
}

// StoreOptions are the options of the store a server with this Config
// serves.
func (cfg Config) StoreOptions(log logr.Logger) store.Options {
	return store.Options{Roots: cfg.Roots, HashAlgo: cfg.HashAlgo, Guard: cfg.Guard, Layout: cfg.Layout,
		Timeout: cfg.StorageTimeout, Log: log.WithName("store")}
}

// New builds a server from a validated Config, serving st (made from
// cfg.StoreOptions, or any store the caller chooses to share).
func New(cfg Config, st *store.Store, log logr.Logger, version string) (*Server, error) {
	var err error
	s := &Server{cfg: cfg, log: log, store: st, version: version, metrics: metrics.New(&st.Stats), wheels: meta.NewIndex()}
	s.auth, err = auth.New(auth.Options{Passwords: cfg.Passwords, Actions: cfg.Authenticate, AllowPlaintext: cfg.AllowPlaintext, Log: log})
	if err != nil {
		return nil, err
	}
	if cfg.Policy != "" {
		if s.policy, err = policy.Load(cfg.Policy, log); err != nil {
			return nil, err
		}
		s.tokens = tokens.New(filepath.Join(cfg.Roots[0], store.StateDir))
		s.trust = trust.New(nil)
	}
	if cfg.CacheControl > 0 {
		s.fileCache = "public, max-age=" + itoa(cfg.CacheControl)
	}
	if cfg.Welcome != "" {
		if s.welcome, err = os.ReadFile(cfg.Welcome); err != nil {
			return nil, fmt.Errorf("--%s: %w", flags.Welcome, err)
		}
	}
	if len(cfg.Upstream.URLs) > 0 {
		if s.upstream, err = newUpstream(cfg, log); err != nil {
			return nil, err
		}
		s.metrics.Upstream(&s.upstream.Stats)
	}
	s.handler, err = s.routes()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// logLayout says what a request costs in the layout the server runs with,
// in directory checks (on NFS, one round trip each), and whether the tree
// would allow a cheaper one.
func (s *Server) logLayout(snap *store.Snapshot) {
	shape := s.store.Shape(snap)
	if s.cfg.Layout == store.LayoutPerProject {
		s.log.Info("layout per-project: /simple/ checks each root, a project page each root and the project's directory, plus one check per file",
			"roots", len(s.cfg.Roots), "directories", shape.Dirs)
		return
	}
	if shape.FitsPerProject && shape.Dirs > len(s.cfg.Roots) {
		s.log.Info("layout any: every page checks every directory; this tree is in the per-project layout, where --layout per-project checks the root and the project's directory only",
			"directories", shape.Dirs)
		return
	}
	s.log.Info("layout any: every page checks every directory", "directories", shape.Dirs)
}

// Close lets go of what the server holds of its package directories.
func (s *Server) Close() error {
	if s.upstream != nil {
		s.upstream.Close()
	}
	return s.store.Close()
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Store returns the server's store.
func (s *Server) Store() *store.Store { return s.store }

func (s *Server) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	p := s.cfg.BaseURL
	handle := func(pattern, route string, h http.HandlerFunc) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.Handle(method+" "+p+path, s.metrics.Instrument(route, h))
	}
	list, download := s.guard(auth.List), s.guard(auth.Download)
	handle("GET /{$}", "welcome", s.serveWelcome)
	handle("GET /simple/{$}", "simple_index", list(s.serveIndex))
	handle("GET /simple", "redirect", s.redirectSlash)
	handle("GET /simple/{project}/{$}", "simple_project", list(s.serveProject))
	handle("GET /simple/{project}", "redirect", s.redirectProject)
	handle("GET /packages/{$}", "packages_index", list(s.servePackageList))
	handle("GET /packages", "redirect", s.redirectSlash)
	handle("GET /packages/{path...}", "download", download(s.serveFile))
	handle("GET /pypi/{project}/json", "pypi_json", list(s.servePyPIJSON))
	handle("GET /pypi/{project}/{version}/json", "pypi_json", list(s.servePyPIReleaseJSON))
	handle("POST /{$}", "upload", s.serveLegacy)
	handle("POST /legacy/{$}", "upload", s.serveLegacy)
	handle("POST /RPC2", "rpc", list(s.serveRPC))
	handle("GET /legacy/{$}", "upload", s.serveLegacyGet)
	handle("GET /legacy", "upload", s.serveLegacyGet)
	handle("POST /api/projects/{project}/releases/{version}/yank", "api", s.serveYank)
	handle("POST /api/projects/{project}/releases/{version}/unyank", "api", s.serveUnyank)
	handle("DELETE /api/projects/{project}/releases/{version}", "api", s.serveRemove)
	handle("PUT /api/projects/{project}/status", "api", s.serveSetStatus)
	handle("POST /api/tokens", "api", s.serveCreateToken)
	handle("GET /api/tokens", "api", s.serveListTokens)
	handle("DELETE /api/tokens/{id}", "api", s.serveRevokeToken)
	handle("GET /_/oidc/audience", "oidc", s.serveAudience)
	handle("POST /_/oidc/mint-token", "oidc", s.serveMintToken)
	handle("GET /healthz", "healthz", s.serveHealth)
	handle("GET /readyz", "readyz", s.serveReady)
	handle("GET /metrics", "metrics", s.metrics.Handler().ServeHTTP)
	if h := s.cfg.HealthEndpoint; h != "/healthz" {
		if err := safeRegister(func() { handle("GET "+h, "healthz", s.serveHealth) }); err != nil {
			return nil, fmt.Errorf("--%s %s: %w", flags.HealthEndpoint, h, err)
		}
	}
	// pypiserver's single-segment routes (/<project>/json, /<project>/)
	// overlap the patterns above, so they are matched by hand.
	handle(" /", "other", list(s.serveOther))
	return chain(mux, s.recoverPanics, s.accessLog, securityHeaders), nil
}

// safeRegister turns the mux's panic on a conflicting pattern into an error.
func safeRegister(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("conflicts with a built-in route: %v", r)
		}
	}()
	fn()
	return nil
}

// Run serves until ctx is cancelled, then stops accepting connections and
// gives in-flight requests the grace period to finish.
func (s *Server) Run(ctx context.Context, ready func(addr net.Addr)) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("--%s %s: %w", flags.Listen, s.cfg.Listen, err)
	}
	ln = moreListener{ln}
	srv := &http.Server{
		Handler:           s.handler,
		ConnContext:       connContext,
		ReadHeaderTimeout: s.cfg.HeaderTimeout,
		ReadTimeout:       5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          nil,
	}
	if s.auth.Disabled() {
		logging.Warn(s.log, "authentication is off (--passwords . --authenticate .): anyone who can reach this server may upload and remove packages")
	}
	go s.cleanTemp(ctx)
	// Read the roots once now, so the first request finds the listing
	// built and the log says at once if a root is unreadable.
	go func() {
		start := time.Now()
		snap, err := s.store.Snapshot(ctx)
		if err != nil {
			s.log.Error(err, "first scan failed")
			return
		}
		s.log.Info("first scan done", "projects", len(snap.Projects()), "files", snap.FileCount(), "took", time.Since(start).String())
		s.logLayout(snap)
	}()
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "grace", s.cfg.ShutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// The records of facts being written are worth the wait: the next
	// replica reads them instead of hashing.
	return s.Close()
}

// cleanTemp removes what crashed uploads left behind, at start and then
// every tenth of the age limit.
func (s *Server) cleanTemp(ctx context.Context) {
	t := time.NewTicker(s.cfg.TempMaxAge / 10)
	defer t.Stop()
	for {
		if _, err := s.store.CleanTemp(s.cfg.TempMaxAge); err != nil {
			s.log.Error(err, "cleaning temporary files")
		}
		if s.upstream != nil {
			s.upstream.CleanTemp(s.cfg.TempMaxAge)
			s.upstream.Sweep()
		}
		if s.tokens != nil {
			if _, err := s.tokens.Clean(); err != nil {
				s.log.Error(err, "cleaning expired tokens")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// guard wraps a read handler with the check of an action pypiserver's
// -a may protect.
func (s *Server) guard(act auth.Action) func(http.HandlerFunc) http.HandlerFunc {
	return func(h http.HandlerFunc) http.HandlerFunc {
		if s.policy != nil {
			return func(w http.ResponseWriter, r *http.Request) {
				c, ok := s.authenticate(w, r, act)
				if !ok {
					return
				}
				if err := s.permit(r, c, readRight(act), projectOf(r)); err != nil {
					s.fail(w, r, err)
					return
				}
				h(w, r)
			}
		}
		if !s.auth.Protects(act) {
			return h
		}
		return func(w http.ResponseWriter, r *http.Request) {
			if _, ok := s.authorize(w, r, act); ok {
				h(w, r)
			}
		}
	}
}

// authorize checks the request's credentials for act; on refusal it has
// answered already.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, act auth.Action) (string, bool) {
	user, err := s.auth.Check(r, act)
	if err != nil {
		s.fail(w, r, err)
		return "", false
	}
	if act == auth.Update && user != "" && len(s.cfg.Writers) > 0 && !slices.Contains(s.cfg.Writers, user) {
		s.fail(w, r, errorf(http.StatusForbidden, "User %s may not change the index", user))
		return "", false
	}
	return user, true
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "Ok")
}

// serveLegacyGet answers the upload URL opened in a browser: it is for
// upload clients, and the page a person wants is elsewhere.
func (s *Server) serveLegacyGet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "POST")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusMethodNotAllowed)
	fmt.Fprintf(w, "This URL takes uploads (POST, e.g. twine upload --repository-url %[1]s/legacy/).\nTo install, use %[1]s/simple/ (pip install --index-url %[1]s/simple/ PACKAGE).\n", s.baseURL(r))
}

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	if err := s.store.Ready(r.Context()); err != nil {
		s.log.Error(err, "not ready")
		msg := "a root directory is not readable"
		if errors.Is(err, store.ErrTimeout) {
			msg = "a root directory did not answer within " + s.cfg.StorageTimeout.String()
		}
		s.fail(w, r, errorf(http.StatusServiceUnavailable, "%s", msg))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ready")
}

// redirectSlash answers a page URL without its trailing slash, relative to
// the request so that any path prefix in front of the server is kept.
func (s *Server) redirectSlash(w http.ResponseWriter, r *http.Request) {
	last := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	redirect(w, r, "./"+url.PathEscape(last)+"/")
}

// redirectProject adds the trailing slash and normalizes the name in one
// hop.
func (s *Server) redirectProject(w http.ResponseWriter, r *http.Request) {
	redirect(w, r, "./"+url.PathEscape(dist.Normalize(r.PathValue("project")))+"/")
}

// redirect sends a 301 to a location relative to the request, keeping the
// query string.
func redirect(w http.ResponseWriter, r *http.Request, loc string) {
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusMovedPermanently)
}
