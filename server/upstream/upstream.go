package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/simple"
	"pkgindex.dev/pkgindex/server/store"
)

// Stats count the cache's work, for the metrics.
type Stats struct {
	PageHits, PageFetches, PageRevalidations, PageStale atomic.Uint64
	FileHits, FileFetches, FileFailures                 atomic.Uint64
	FetchedBytes, Evicted                               atomic.Uint64
	Errors                                              atomic.Uint64
	// LatencyNs sums the time upstream requests took to answer, over
	// Requests of them.
	LatencyNs, Requests atomic.Uint64
}

// Upstream is the pull-through cache of one server.
type Upstream struct {
	opts   Options
	client *http.Client
	sem    chan struct{}
	// Stats are read by the metrics.
	Stats Stats

	mu     sync.Mutex
	loaded map[string]*loaded // by project name
	// loadedBytes sums the sizes of the records loaded holds, which
	// bound what their parsed pages take.
	loadedBytes int64
	pages       group[*loaded]
	files       map[string]*flight // by cache path, fetches in progress
	used        atomic.Int64       // bytes published since the last eviction sweep
	ctx         context.Context
	cancel      context.CancelFunc
	evictM      sync.Mutex
}

// loaded is a page record read from the volume, with the identity of the
// file it came from, so a replica re-reads it only when it changed.
type loaded struct {
	rec  *record
	stat store.FileStat
	// failedAt is when a revalidation last failed, in this process (Unix
	// nanoseconds, 0 for never).
	failedAt atomic.Int64

	mu      sync.Mutex
	files   []simple.File
	algo    string
	targets map[string]*target // by file name asked for
}

// New makes the cache in opts.Dir.
func New(opts Options) (*Upstream, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxFetches <= 0 {
		opts.MaxFetches = DefaultMaxFetches
	}
	if opts.MaxPageSize <= 0 {
		opts.MaxPageSize = DefaultMaxPageSize
	}
	client, err := newClient(&opts)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"pages", "files", "tmp"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("making the upstream cache: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Upstream{opts: opts, client: client, sem: make(chan struct{}, opts.MaxFetches),
		loaded: map[string]*loaded{}, files: map[string]*flight{}, ctx: ctx, cancel: cancel}, nil
}

// Close stops the fetches in progress.
func (u *Upstream) Close() { u.cancel() }

// Page is a project's page as the upstream cache has it.
type Page struct {
	// Files link to /packages/.upstream/<project>/<file>, relative to
	// /packages/; callers must not change them.
	Files    []simple.File
	Versions []string
	// Project is the upstream's URL of the project page, for PEP 708.
	Project string
	// State says how the page was answered: hit, fetched, revalidated or
	// stale (the upstream failed and the cached page stands in).
	State string
}

// Page answers the project page of name, a normalized name the caller
// found no local files for (or may merge): from the cache while fresh,
// else revalidated with the upstream; the cached page when the upstream
// fails. ErrNotFound when no upstream has it or it is denied.
func (u *Upstream) Page(ctx context.Context, name string, algo string) (*Page, error) {
	// A name no project can have is never asked for: each name asked
	// would cost an upstream request and a record on the shared volume.
	if !dist.ValidProject(name) || !dist.IsNormalized(name) || u.opts.denies(name) {
		return nil, ErrNotFound
	}
	l, err := u.load(name)
	if err != nil {
		u.opts.Log.Error(err, "reading a cached upstream page; fetching it again", "project", name)
	}
	state := "hit"
	if l == nil || !u.fresh(l) {
		// The refresh runs on its own, bounded by the upstream timeout, so
		// a client that leaves does not cut it short for the others.
		type result struct {
			l     *loaded
			state string
			err   error
		}
		ch := make(chan result, 1)
		go func() {
			l2, st, err := u.pages.do(name, func() (*loaded, string, error) { return u.refresh(name, l) })
			ch <- result{l2, st, err}
		}()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case res := <-ch:
			switch {
			case errors.Is(res.err, ErrNotFound):
				return nil, ErrNotFound
			case res.err != nil:
				return nil, fmt.Errorf("%w: %w", ErrUnavailable, res.err)
			}
			l, state = res.l, res.state
		}
	} else {
		u.Stats.PageHits.Add(1)
	}
	if !l.rec.Found {
		return nil, ErrNotFound
	}
	return &Page{Files: l.simpleFiles(name, algo), Versions: l.rec.Versions, Project: l.rec.URL, State: state}, nil
}

// fresh reports whether a page may be served without asking the
// upstream: within its TTL, or shortly after a failed revalidation, so a
// hung upstream costs one request a timeout, not every request.
func (u *Upstream) fresh(l *loaded) bool {
	ttl := u.opts.TTL
	if !l.rec.Found {
		ttl = min(ttl, NotFoundTTL)
	}
	now := time.Now()
	if now.Sub(l.rec.Fetched) < ttl {
		return true
	}
	failed := l.failedAt.Load()
	return failed != 0 && now.Sub(time.Unix(0, failed)) < min(ttl, 30*time.Second)
}

func (u *Upstream) pagePath(name string) string {
	return filepath.Join(u.opts.Dir, "pages", name+".json")
}

// load reads the cached record of name, reusing the parsed one while the
// file on the volume is the same. The file is stat'ed afresh, never from an
// NFS client's attribute cache, and compared whole: another replica
// replaces it by rename, which a new inode shows even when the size and
// the modification time (of a coarse clock) are the old ones.
func (u *Upstream) load(name string) (*loaded, error) {
	p := u.pagePath(name)
	st, err := store.StatFresh(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	u.mu.Lock()
	l := u.loaded[name]
	u.mu.Unlock()
	if l != nil && l.stat == st {
		return l, nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	rec := &record{}
	if err := json.Unmarshal(b, rec); err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	// Should the file be replaced between the stat and the read, the next
	// load sees another identity than st and reads it again.
	return u.remember(name, &loaded{rec: rec, stat: st}), nil
}

// maxLoaded and maxLoadedBytes bound the parsed pages a replica keeps, in
// number and in the size of their records: a page may be up to
// MaxPageSize, so a count alone would let a few thousand large projects
// take gigabytes. Past either bound half are dropped, to be read from the
// volume again when asked for.
const (
	maxLoaded      = 4096
	maxLoadedBytes = 64 << 20
)

func (u *Upstream) remember(name string, l *loaded) *loaded {
	u.mu.Lock()
	defer u.mu.Unlock()
	if old := u.loaded[name]; old != nil {
		u.loadedBytes -= old.stat.Size
		delete(u.loaded, name)
	}
	if len(u.loaded) >= maxLoaded || u.loadedBytes+l.stat.Size > maxLoadedBytes {
		for k, v := range u.loaded {
			delete(u.loaded, k)
			u.loadedBytes -= v.stat.Size
			if len(u.loaded) < maxLoaded/2 && u.loadedBytes+l.stat.Size <= maxLoadedBytes/2 {
				break
			}
		}
	}
	u.loaded[name] = l
	u.loadedBytes += l.stat.Size
	return l
}

// save publishes a record in one step (a temporary file renamed over the
// old), so another replica reads the old page or the new, never part.
func (u *Upstream) save(name string, rec *record) (*loaded, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	p := u.pagePath(name)
	tmp, err := os.CreateTemp(filepath.Join(u.opts.Dir, "tmp"), "page-*")
	if err != nil {
		return nil, fmt.Errorf("writing the cached page of %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("writing the cached page of %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("writing the cached page of %s: %w", name, err)
	}
	mine, err := store.StatFresh(tmp.Name())
	if err != nil {
		return nil, fmt.Errorf("writing the cached page of %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return nil, fmt.Errorf("publishing the cached page of %s: %w", name, err)
	}
	st, err := store.StatFresh(p)
	if err != nil {
		return nil, fmt.Errorf("publishing the cached page of %s: %w", name, err)
	}
	if st.Ino != mine.Ino {
		// Another replica published its page between the rename and the
		// stat: this record is kept under no identity, so the next
		// request reads theirs.
		st = store.FileStat{}
	}
	return u.remember(name, &loaded{rec: rec, stat: st}), nil
}

// refresh asks the upstreams, in order, for the page of name. An upstream
// that answers 404 or 410 passes the question to the next; one that fails
// stops the search, since a later upstream's project of the same name may
// be another one: the old page is then served stale when there is one.
// Replicas on one volume refresh a page one at a time (lockPage).
func (u *Upstream) refresh(name string, old *loaded) (*loaded, string, error) {
	l, unlock := u.lockPage(name, old)
	if l != nil {
		return l, "hit", nil // another replica refreshed it
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(u.ctx, u.opts.Timeout)
	defer cancel()
	if err := u.acquire(ctx); err != nil {
		return u.stale(name, old, err)
	}
	defer u.release()
	for _, base := range u.opts.URLs {
		var prev *record
		if old != nil && old.rec.Found && old.rec.Upstream == base {
			prev = old.rec
		}
		rec, err := u.fetchPage(ctx, base, name, prev)
		switch {
		case errors.Is(err, ErrNotFound):
			continue
		case err != nil:
			return u.stale(name, old, err)
		case rec == nil: // 304
			r := *old.rec
			r.Fetched = time.Now().UTC()
			l, err := u.save(name, &r)
			if err != nil {
				return u.stale(name, old, err)
			}
			u.Stats.PageRevalidations.Add(1)
			return l, "revalidated", nil
		}
		l, err := u.save(name, rec)
		if err != nil {
			return u.stale(name, old, err)
		}
		u.Stats.PageFetches.Add(1)
		return l, "fetched", nil
	}
	if _, err := u.save(name, &record{Name: name, Fetched: time.Now().UTC()}); err != nil {
		u.opts.Log.Error(err, "caching an upstream's not found", "project", name)
	}
	u.Stats.PageFetches.Add(1)
	return nil, "", ErrNotFound
}

// lockPage takes the volume's lock on refreshing the page of name, so that
// replicas whose copy expired at once ask the upstream once: the others
// wait for the page to change from old, and answer with it (l) when it is
// fresh. Otherwise the caller refreshes the page and calls unlock after; a
// lock that cannot be taken leaves it to refresh without one.
func (u *Upstream) lockPage(name string, old *loaded) (l *loaded, unlock func()) {
	p := u.pagePath(name)
	changed := func() bool {
		st, err := store.StatFresh(p)
		return err == nil && (old == nil || st != old.stat)
	}
	unlock, published, err := u.lockPath(filepath.Join(u.opts.Dir, "pages", "."+name+".json.lock"), name+".json", changed)
	if err != nil {
		u.opts.Log.Error(err, "locking an upstream page; refreshing it without", "project", name)
		return nil, func() {}
	}
	if !published {
		// Another replica may have refreshed the page between this
		// replica's look and the lock.
		if !changed() {
			return nil, unlock
		}
		unlock()
		unlock = func() {}
	}
	if l, err := u.load(name); err == nil && l != nil && u.fresh(l) {
		return l, nil
	}
	return nil, unlock
}

// fetchPage asks the upstream at base for the page of name, with the
// validators of prev when given: the record, nil when prev is still
// current (304), ErrNotFound when the upstream has no such project.
func (u *Upstream) fetchPage(ctx context.Context, base, name string, prev *record) (*record, error) {
	pageURL := strings.TrimSuffix(base, "/") + "/" + url.PathEscape(name) + "/"
	hdr := http.Header{"Accept": {simple.MediaJSON + ", " + simple.MediaHTML + ";q=0.2, " + simple.MediaLegacy + ";q=0.1"}}
	if prev != nil {
		if prev.ETag != "" {
			hdr.Set("If-None-Match", prev.ETag)
		}
		if prev.LastModified != "" {
			hdr.Set("If-Modified-Since", prev.LastModified)
		}
	}
	start := time.Now()
	resp, err := u.get(ctx, base, pageURL, hdr)
	u.observe(start)
	if err != nil {
		return nil, err
	}
	rec, err := u.readPage(resp, base, name)
	if rec == nil && err == nil && prev == nil {
		// Not modified since what? Without validators sent, a 304 is the
		// upstream's mistake, not a page to keep.
		return nil, &statusError{http.StatusNotModified}
	}
	if rec != nil {
		rec.Name, rec.Found, rec.Upstream, rec.Fetched = name, true, base, time.Now().UTC()
	}
	return rec, err
}

// readPage reads an upstream's answer for a page: the record, nil for 304,
// ErrNotFound for 404 and 410, an error for anything else.
func (u *Upstream) readPage(resp *http.Response, base, name string) (*record, error) {
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return nil, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, ErrNotFound
	case resp.StatusCode != http.StatusOK:
		return nil, &statusError{resp.StatusCode}
	}
	if resp.ContentLength > u.opts.MaxPageSize {
		return nil, ErrTooLarge
	}
	b, err := readLimited(resp.Body, u.opts.MaxPageSize)
	if err != nil {
		return nil, fmt.Errorf("reading the upstream page: %w", err)
	}
	final := resp.Request.URL
	var rec *record
	if strings.Contains(resp.Header.Get("Content-Type"), "json") {
		rec, err = parseJSON(b, final, name)
	} else {
		rec, err = parseHTML(b, final, name)
	}
	if err != nil {
		return nil, err
	}
	rec.URL = final.String()
	rec.ETag, rec.LastModified = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	return rec, nil
}

// stale answers with the cached page when the upstream failed, saying so
// in the log and the metrics; without one the failure stands.
func (u *Upstream) stale(name string, old *loaded, err error) (*loaded, string, error) {
	u.Stats.Errors.Add(1)
	if old == nil {
		u.opts.Log.Error(err, "upstream failed and nothing is cached", "project", name)
		return nil, "", err
	}
	u.Stats.PageStale.Add(1)
	u.opts.Log.Error(err, "upstream failed; serving the cached page", "project", name, "fetched", old.rec.Fetched.Format(time.RFC3339))
	old.failedAt.Store(time.Now().UnixNano())
	if !old.rec.Found {
		return nil, "", ErrNotFound
	}
	return old, "stale", nil
}

func (u *Upstream) observe(start time.Time) {
	u.Stats.Requests.Add(1)
	u.Stats.LatencyNs.Add(uint64(time.Since(start)))
}

func (u *Upstream) acquire(ctx context.Context) error {
	select {
	case u.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (u *Upstream) release() { <-u.sem }

// simpleFiles are the page's links, made once per record and algorithm.
func (l *loaded) simpleFiles(name, algo string) []simple.File {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.files != nil && l.algo == algo {
		return l.files
	}
	files := make([]simple.File, 0, len(l.rec.Files))
	for _, e := range l.rec.Files {
		f := simple.File{
			Filename:       e.Filename,
			URL:            LinkPrefix + url.PathEscape(name) + "/" + url.PathEscape(e.Filename),
			RequiresPython: e.RequiresPython,
			CoreMetadata:   e.Metadata,
			Yanked:         e.Yanked,
			YankReason:     e.YankReason,
			Size:           e.Size,
			UploadTime:     e.UploadTime,
			Provenance:     e.Provenance != "",
		}
		f.HashName, f.Hash = pick(e.Hashes, algo)
		if f.HashName != "" && e.MetadataHashes[f.HashName] != "" {
			_, f.MetadataHash = pick(map[string]string{f.HashName: e.MetadataHashes[f.HashName]}, f.HashName)
		}
		files = append(files, f)
	}
	l.files, l.algo = files, algo
	return files
}

// LinkPrefix starts the path, below /packages/, of every upstream file: a
// hidden name, which no local file can have.
const LinkPrefix = ".upstream/"

// Merges reports whether the local project name takes the upstream's
// files too.
func (u *Upstream) Merges(name string) bool { return u.opts.merges(name) && !u.opts.denies(name) }

// CleanTemp removes temporary files older than maxAge, which a replica
// killed mid-fetch left; the fetch itself starts again on the next request.
func (u *Upstream) CleanTemp(maxAge time.Duration) {
	dir := filepath.Join(u.opts.Dir, "tmp")
	ents, err := os.ReadDir(dir)
	if err != nil {
		u.opts.Log.Error(err, "cleaning the upstream cache's temporary files")
		return
	}
	for _, e := range ents {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > maxAge {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
