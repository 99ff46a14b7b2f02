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
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"pkgindex.dev/pkgindex/server/auth"
	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/flags"
	"pkgindex.dev/pkgindex/server/metrics"
	"pkgindex.dev/pkgindex/server/store"
)

// Server serves one index.
type Server struct {
	cfg      Config
	log      logr.Logger
	store    *store.Store
	auth     *auth.Authenticator
	metrics  *metrics.Metrics
	welcome  []byte
	version  string
	rootPage atomic.Pointer[rootPage]
	// fileCache is the Cache-Control of package files, "" for none.
	fileCache string
	handler   http.Handler
}

// New builds a server from a validated Config.
func New(cfg Config, log logr.Logger, version string) (*Server, error) {
	st, err := store.New(store.Options{Roots: cfg.Roots, HashAlgo: cfg.HashAlgo, Guard: cfg.Guard, Log: log.WithName("store")})
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, store: st, version: version, metrics: metrics.New(&st.Stats)}
	s.auth, err = auth.New(auth.Options{Passwords: cfg.Passwords, Actions: cfg.Authenticate, AllowPlaintext: cfg.AllowPlaintext, Log: log})
	if err != nil {
		return nil, err
	}
	if cfg.CacheControl > 0 {
		s.fileCache = "public, max-age=" + itoa(cfg.CacheControl)
	}
	if cfg.Welcome != "" {
		if s.welcome, err = os.ReadFile(cfg.Welcome); err != nil {
			return nil, fmt.Errorf("--%s: %w", flags.Welcome, err)
		}
	}
	s.handler, err = s.routes()
	if err != nil {
		return nil, err
	}
	return s, nil
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
		if method != "POST" && method != "PUT" && method != "DELETE" {
			h = s.reading(h)
		}
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
	handle("POST /{$}", "upload", s.serveLegacy)
	handle("POST /legacy/{$}", "upload", s.serveLegacy)
	handle("POST /api/projects/{project}/releases/{version}/yank", "api", s.serveYank)
	handle("POST /api/projects/{project}/releases/{version}/unyank", "api", s.serveUnyank)
	handle("DELETE /api/projects/{project}/releases/{version}", "api", s.serveRemove)
	handle("PUT /api/projects/{project}/status", "api", s.serveSetStatus)
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

// reading tells the store a read is in progress while h runs, so uploads
// leave it a processor.
func (s *Server) reading(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.store.ReadStarted()
		defer s.store.ReadDone()
		h(w, r)
	}
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
		s.log.Info("WARNING: authentication is off (--passwords . --authenticate .): anyone who can reach this server may upload and remove packages")
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
	return nil
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

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	if err := s.store.CheckRoots(); err != nil {
		s.log.Error(err, "not ready")
		s.fail(w, r, errorf(http.StatusServiceUnavailable, "a root directory is not readable"))
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
