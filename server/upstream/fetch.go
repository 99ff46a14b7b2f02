package upstream

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/store"
)

// Timings of the lock a replica holds on the volume while it fetches a
// file: it touches the lock every heartbeat, and a lock that did not change
// for lockStale is a dead replica's. A replica waits at most lockWait for
// another's fetch to publish the file, then fetches it itself beside it:
// its clients get no byte while they wait, and pip gives up on a download
// that sends nothing for 15 s. Variables so tests can change them.
var (
	lockHeartbeat = time.Second
	lockStale     = 4 * time.Second
	lockWait      = 8 * time.Second
	lockPoll      = 100 * time.Millisecond
)

// chunk is how much of a file is read from the upstream at a time, and
// what a download withholds until the whole file is verified.
const chunk = 64 << 10

// Download is a file from the upstream cache: File when it is cached (serve
// it with ranges and sendfile), else a stream of a fetch in progress, read
// as it arrives. A stream ends with an error wrapping ErrDigest when the
// bytes failed the check; its last bytes are withheld until the check
// passes, so a client that gets an error never holds the whole file.
type Download struct {
	File *store.Opened
	// Size is the file's length, -1 when the upstream did not say.
	Size int64
	// ETag identifies the content: from its digest where the page gave one.
	ETag string
	// Fetched says the file was not cached when it was asked for.
	Fetched bool
	r       *reader
}

// Read reads a stream; for a cached file it reads the file.
func (d *Download) Read(p []byte) (int, error) {
	if d.File != nil {
		return d.File.Read(p)
	}
	return d.r.Read(p)
}

// Close lets go of the file.
func (d *Download) Close() error {
	if d.File != nil {
		return d.File.Close()
	}
	return d.r.file.Close()
}

// flight is one fetch of a file into the cache. Every download of the file
// in this process during the fetch reads the temporary file as it grows, so
// memory does not grow with the number of clients.
type flight struct {
	mu    sync.Mutex
	cond  *sync.Cond
	ready bool   // the upstream answered, or the fetch ended
	tmp   string // the temporary file, "" once published or failed
	size  int64
	avail int64 // bytes that readers may read
	done  bool
	err   error
}

// target is what a download needs to know about one cached name; it does
// not change once made.
type target struct {
	url    string
	base   string
	hashes map[string]string
	size   int64 // -1 unknown
	limit  int64 // most bytes accepted
	etag   string
}

// Open opens a file below /packages/.upstream/: rel is "<project>/<file>",
// the file a distribution listed on the project's cached page or its
// ".metadata" or ".provenance". local reports whether a project has local
// files and whether one of them has the file's name: a local project's
// upstream files are served only when it is merged, and never one whose
// name a local file has, which wins.
func (u *Upstream) Open(ctx context.Context, rel string, local LocalFunc) (*Download, error) {
	project, filename, ok := strings.Cut(rel, "/")
	if !ok || !dist.ValidProject(project) || project != dist.Normalize(project) || filename == "" ||
		strings.ContainsAny(filename, "/\\\x00") || strings.HasPrefix(filename, ".") {
		return nil, ErrNotFound
	}
	if u.opts.denies(project) {
		return nil, ErrNotFound
	}
	distName := strings.TrimSuffix(strings.TrimSuffix(filename, ".metadata"), ".provenance")
	if isLocal, hasFile, err := local(ctx, project, distName); err != nil {
		return nil, err
	} else if isLocal && !u.opts.merges(project) || hasFile {
		return nil, ErrNotFound
	}
	// The page is read (one fresh statx of its record while it is the
	// same) before a cached file is served: a file the upstream has
	// dropped since, a release taken down for malware above all, is no
	// longer served once the page has been revalidated.
	t, err := u.target(ctx, project, filename)
	if err != nil {
		return nil, err
	}
	final := filepath.Join(u.opts.Dir, "files", project, filename)
	if d, err := u.openCached(final, t); err == nil {
		u.Stats.FileHits.Add(1)
		return d, nil
	}
	u.mu.Lock()
	f := u.files[final]
	if f == nil {
		f = &flight{size: -1}
		f.cond = sync.NewCond(&f.mu)
		u.files[final] = f
		go u.fetch(f, final, t)
	}
	u.mu.Unlock()
	return u.join(ctx, f, final, t)
}

// LocalFunc reports whether the project has local files, and whether one
// of them is named filename.
type LocalFunc func(ctx context.Context, project, filename string) (hasProject, hasFile bool, err error)

// target finds what the cached page says of filename.
func (u *Upstream) target(ctx context.Context, project, filename string) (*target, error) {
	l, err := u.load(project)
	if err != nil || l == nil {
		if _, err := u.Page(ctx, project, ""); err != nil {
			return nil, err
		}
		if l, err = u.load(project); err != nil || l == nil {
			return nil, fmt.Errorf("%w: the page of %s is not cached", ErrUnavailable, project)
		}
	}
	l.mu.Lock()
	t := l.targets[filename]
	l.mu.Unlock()
	if t != nil {
		return t, nil
	}
	t, err = l.target(filename, u.opts.MaxPageSize)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	if l.targets == nil {
		l.targets = map[string]*target{}
	}
	l.targets[filename] = t
	l.mu.Unlock()
	return t, nil
}

// target is what the record says of filename, made once per record and
// name: every download of a cached file asks.
func (l *loaded) target(filename string, maxPageSize int64) (*target, error) {
	name, suffix := filename, ""
	for _, s := range []string{".metadata", ".provenance"} {
		if n, ok := strings.CutSuffix(filename, s); ok {
			name, suffix = n, s
		}
	}
	e := l.rec.file(name)
	if e == nil {
		return nil, ErrNotFound
	}
	t := &target{base: l.rec.Upstream, size: -1, limit: 1 << 40}
	switch suffix {
	case "":
		t.url, t.hashes = e.URL, e.Hashes
		if e.Size > 0 {
			t.size = e.Size
		}
	case ".metadata":
		if !e.Metadata {
			return nil, ErrNotFound
		}
		t.url, t.hashes, t.limit = e.URL+".metadata", e.MetadataHashes, maxPageSize
	case ".provenance":
		if e.Provenance == "" {
			return nil, ErrNotFound
		}
		t.url, t.limit = e.Provenance, maxPageSize
	}
	if _, sum := pick(t.hashes, "sha256"); sum != nil {
		t.etag = `"` + hex.EncodeToString(sum[:min(len(sum), 16)]) + `"`
	}
	return t, nil
}

// openCached opens the cached file, marking it used for the eviction's
// order at most once an hour (a write on NFS is a round trip).
func (u *Upstream) openCached(final string, t *target) (*Download, error) {
	fh, err := store.OpenFile(final)
	if err != nil {
		return nil, err
	}
	if now := time.Now(); now.Sub(fh.ModTime) > time.Hour {
		os.Chtimes(final, now, now)
	}
	etag := t.etag
	if etag == "" {
		etag = fh.ETag
	}
	return &Download{File: fh, Size: fh.Size, ETag: etag}, nil
}

// join waits for the fetch to answer and opens its temporary file, or the
// cached file when the fetch (here or on another replica) published it.
func (u *Upstream) join(ctx context.Context, f *flight, final string, t *target) (*Download, error) {
	stop := context.AfterFunc(ctx, func() {
		f.mu.Lock()
		f.cond.Broadcast()
		f.mu.Unlock()
	})
	defer stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	// The answer's status waits for the first bytes a client may have: a
	// file no longer than one chunk is checked whole before its headers
	// go out, so its failure is still a 502; a longer one fails by a
	// dropped connection.
	for !(f.ready && (f.avail > 0 || f.tmp == "")) && !f.done && ctx.Err() == nil {
		f.cond.Wait()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.err != nil {
		return nil, f.err
	}
	if f.tmp == "" || f.done {
		d, err := u.openCached(final, t)
		if d != nil {
			d.Fetched = true
		}
		return d, err
	}
	fh, err := os.Open(f.tmp)
	if err != nil {
		return nil, fmt.Errorf("reading a file being fetched: %w", err)
	}
	return &Download{Size: f.size, ETag: t.etag, Fetched: true, r: &reader{f: f, file: fh}}, nil
}

// reader reads a flight's temporary file up to what the fetch allows.
type reader struct {
	f    *flight
	file *os.File
	off  int64
}

func (r *reader) Read(p []byte) (int, error) {
	f := r.f
	f.mu.Lock()
	for r.off >= f.avail && !f.done {
		f.cond.Wait()
	}
	avail, done, err := f.avail, f.done, f.err
	f.mu.Unlock()
	if r.off < avail {
		n, rerr := r.file.ReadAt(p[:min(int64(len(p)), avail-r.off)], r.off)
		r.off += int64(n)
		if rerr == io.EOF {
			rerr = nil
		}
		return n, rerr
	}
	if done && err != nil {
		return 0, err
	}
	return 0, io.EOF
}

// fetch brings one file into the cache: under the volume's lock of its
// name, so that one replica fetches while the others wait for the
// published file; streamed into a temporary file, hashed as it arrives and
// published by link only when every digest the page listed matches.
// distMode is the mode of a distribution file the cache keeps or update
// downloads: an upload's, so what reads the volume besides the server
// (a backup, a static server) reads them alike.
const distMode = 0o644

func (u *Upstream) fetch(f *flight, final string, t *target) {
	err := u.fetchLocked(f, final, t)
	f.mu.Lock()
	u.mu.Lock()
	delete(u.files, final)
	u.mu.Unlock()
	if err != nil {
		u.Stats.FileFailures.Add(1)
		u.opts.Log.Error(err, "fetching from the upstream", "file", strings.TrimPrefix(final, u.opts.Dir))
		f.err = err
	}
	if f.tmp != "" {
		os.Remove(f.tmp) // readers keep their open handles
		f.tmp = ""
	}
	f.ready, f.done = true, true
	f.cond.Broadcast()
	f.mu.Unlock()
}

func (u *Upstream) fetchLocked(f *flight, final string, t *target) error {
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return fmt.Errorf("making the cache's directory: %w", err)
	}
	unlock, published, err := u.lock(final)
	if err != nil || published {
		return err
	}
	defer unlock()
	if _, err := store.StatFresh(final); err == nil {
		return nil // published by another replica just before the lock
	}
	ctx, cancel := context.WithCancelCause(u.ctx)
	defer cancel(nil)
	if err := u.acquire(ctx); err != nil {
		return err
	}
	defer u.release()
	// The whole file may take long; a pause of the upstream may not.
	stall := time.AfterFunc(u.opts.Timeout, func() { cancel(fmt.Errorf("%w: the upstream sent nothing for %s", ErrUnavailable, u.opts.Timeout)) })
	defer stall.Stop()
	start := time.Now()
	resp, err := u.get(ctx, t.base, t.url, nil)
	u.observe(start)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, cause(ctx, err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return ErrNotFound
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%w: %w", ErrUnavailable, &statusError{resp.StatusCode})
	}
	size := resp.ContentLength
	if t.size >= 0 && size >= 0 && size != t.size {
		return fmt.Errorf("%w: the upstream sends %d bytes, its page listed %d", ErrDigest, size, t.size)
	}
	if size < 0 {
		size = t.size
	}
	if size > t.limit {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, size)
	}
	tmp, err := os.CreateTemp(filepath.Join(u.opts.Dir, "tmp"), "file-*")
	if err != nil {
		return fmt.Errorf("caching an upstream file: %w", err)
	}
	defer tmp.Close()
	if err := tmp.Chmod(distMode); err != nil {
		return fmt.Errorf("caching an upstream file: %w", err)
	}
	f.mu.Lock()
	f.tmp, f.size, f.ready = tmp.Name(), size, true
	f.cond.Broadcast()
	f.mu.Unlock()

	hashes := checkers(t.hashes)
	buf := make([]byte, chunk)
	var written int64
	for {
		n, rerr := fill(resp.Body, buf)
		if n > 0 {
			stall.Reset(u.opts.Timeout)
			if _, err := tmp.Write(buf[:n]); err != nil {
				return fmt.Errorf("caching an upstream file: %w", err)
			}
			for _, h := range hashes {
				h.h.Write(buf[:n])
			}
			// Readers may have everything but this chunk: the end of
			// the file waits for the check.
			f.mu.Lock()
			f.avail = written
			f.cond.Broadcast()
			f.mu.Unlock()
			written += int64(n)
			u.Stats.FetchedBytes.Add(uint64(n))
			if written > t.limit {
				return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, t.limit)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("%w: reading the upstream file: %w", ErrUnavailable, cause(ctx, rerr))
		}
	}
	if size >= 0 && written != size {
		return fmt.Errorf("%w: the upstream sent %d bytes of %d", ErrUnavailable, written, size)
	}
	if err := verify(hashes, filepath.Base(final)); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("caching an upstream file: %w", err)
	}
	if err := os.Link(tmp.Name(), final); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("publishing an upstream file: %w", err)
	}
	u.Stats.FileFetches.Add(1)
	f.mu.Lock()
	f.avail = written
	f.mu.Unlock()
	if u.opts.CacheSize > 0 && u.used.Add(written) > u.opts.CacheSize/10 {
		go u.evict()
	}
	return nil
}

// fill reads until buf is full or the body ends (io.EOF, with what came
// before it) or fails: a truncated body fails with io.ErrUnexpectedEOF.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// cause prefers the reason a context was cancelled with (the stall
// timer's) to the error it caused.
func cause(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		return c
	}
	return err
}

type checker struct {
	name string
	h    hash.Hash
	want []byte
}

// checkers are the digests a download is checked against: every one the
// page listed that the server knows.
func checkers(listed map[string]string) []checker {
	known := store.Hashes()
	var out []checker
	for name, v := range listed {
		mk, ok := known[name]
		want, err := hex.DecodeString(v)
		if ok && err == nil {
			out = append(out, checker{name, mk(), want})
		}
	}
	return out
}

// verify checks what was hashed through hashes against what the page
// listed, ErrDigest naming the first that differs.
func verify(hashes []checker, filename string) error {
	for _, h := range hashes {
		if subtle.ConstantTimeCompare(h.h.Sum(nil), h.want) != 1 {
			return fmt.Errorf("%w: %s of %s", ErrDigest, h.name, filename)
		}
	}
	return nil
}
