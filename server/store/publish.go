package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"syscall"

	"golang.org/x/crypto/blake2b"
	"golang.org/x/sys/unix"

	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/meta"
)

// The store keeps its own files in a hidden directory of the first root,
// which listings never enter: temporary files being written (there, not
// beside their destination, so a project's directory changes once per
// upload, when the file appears) and the facts records of uploaded files.
// It is on the same file system as the files it publishes, as link and
// rename need.
const (
	// StateDir is the store's directory, below the first root.
	StateDir = ".pkgindex"
	// TempPrefix starts the name of every temporary file in StateDir/tmp.
	TempPrefix = "tmp-"
)

// tempDir is where files being written live; it is made on first use.
func (s *Store) tempDir() (string, error) {
	dir := s.tempPath()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("making %s: %w", dir, err)
	}
	return dir, nil
}

func (s *Store) tempPath() string { return filepath.Join(s.roots[0].path, StateDir, "tmp") }

// Upload is a distribution file being received into the first root. Bytes
// go to a hidden temporary file in the store's directory while their
// digests are computed; Publish then makes the file appear under its name
// at once, or not at all.
type Upload struct {
	s       *Store
	project string
	dir     string // absolute directory that will hold the file
	tmp     *os.File
	size    int64
	sums    []digest // computed as the bytes arrive, the store's first
	meta    []byte   // core metadata found by the caller's checks
	done    bool

	// Received bytes flow through a pipeline: each digest, and the file,
	// is a stage with its own goroutine, fed chunks in order. A chunk is
	// given back once every stage is done with it; with a few in flight,
	// the caller receives the next while earlier ones are hashed and
	// written, and no stage waits for the slowest before starting on the
	// next.
	stages   []chan *chunk
	finished chan struct{} // one token for each chunk every stage is done with
	inFlight int
	wg       sync.WaitGroup
	mu       sync.Mutex
	err      error // the first failure to store a chunk
	closed   bool
}

// chunk is a piece of an upload on its way through the stages.
type chunk struct {
	b      []byte
	left   atomic.Int32 // stages still to process it
	shared bool         // holds one of the store's chunk tokens
}

type digest struct {
	algo string
	h    hash.Hash
}

// UploadDigests returns the digests an upload can compute, by the names
// the upload form gives them (its fields are "<name>_digest"), besides the
// store's own algorithm, in a slice of the caller's own.
func UploadDigests() []string { return append([]string(nil), uploadDigests...) }

var uploadDigests = []string{"md5", "sha256", "blake2_256"}

// NewDigest returns a new hash for one of UploadDigests or Hashes; nil for
// any other name.
func NewDigest(algo string) hash.Hash {
	if algo == "blake2_256" {
		h, _ := blake2b.New256(nil)
		return h
	}
	if f := hashes[algo]; f != nil {
		return f()
	}
	return nil
}

// Begin starts an upload for the project (any spelling; its normalized
// name is the directory) into the first root. The digests named (see
// UploadDigests) are computed while the bytes arrive, with SHA-256 and the
// store's own algorithm, which the log and the read path need; any other
// is computed when asked for, from the received file. A client names the
// digests it will send before the file, so asking only for those spares
// an upload the cost of the others.
func (s *Store) Begin(project string, digests ...string) (*Upload, error) {
	if !dist.ValidProject(project) {
		return nil, fmt.Errorf("project name %q: %w", project, ErrBadPath)
	}
	name := dist.Normalize(project)
	dir := filepath.Join(s.roots[0].path, name)
	tmp, err := s.createTemp()
	if err != nil {
		return nil, err
	}
	u := &Upload{s: s, project: name, dir: dir, tmp: tmp, finished: make(chan struct{}, chunksInFlight)}
	for _, algo := range append([]string{s.opts.HashAlgo, "sha256"}, digests...) {
		if h := NewDigest(algo); h != nil && !u.has(algo) {
			u.sums = append(u.sums, digest{algo, h})
		}
	}
	for _, d := range u.sums {
		u.stage(func(b []byte) error { d.h.Write(b); return nil })
	}
	var written, flushed int64
	u.stage(func(b []byte) error {
		if _, err := u.tmp.Write(b); err != nil {
			return fmt.Errorf("writing upload: %w", err)
		}
		// The file is flushed before it is published. Starting the disk
		// writes as the bytes arrive leaves that flush only the last few.
		if written += int64(len(b)); written-flushed >= writebackEvery {
			// Only a hint: the flush before publishing reports any error.
			_ = unix.SyncFileRange(int(u.tmp.Fd()), flushed, written-flushed, unix.SYNC_FILE_RANGE_WRITE)
			flushed = written
		}
		return nil
	})
	return u, nil
}

// writebackEvery is how many bytes of an upload are written before the
// disk is asked to start writing them.
const writebackEvery = 4 << 20

// Every upload may have one chunk in its pipeline, and up to
// chunksInFlight while the store has room: sharedChunks more in all, for
// all uploads. Chunks are taken only for the time they are processed, so
// a client that stalls holds none.
const (
	chunksInFlight = 16
	sharedChunks   = 64 // 4 MiB
)

// nextChunk returns a chunk to fill once the pipeline has room for it.
func (u *Upload) nextChunk() *chunk {
	for {
		for u.inFlight > 0 && len(u.finished) > 0 {
			<-u.finished
			u.inFlight--
		}
		if u.inFlight == 0 {
			break
		}
		if u.inFlight < chunksInFlight {
			select {
			case u.s.chunks <- struct{}{}:
				c := chunkPool.Get().(*chunk)
				c.shared = true
				u.inFlight++
				return c
			default:
			}
		}
		<-u.finished
		u.inFlight--
	}
	c := chunkPool.Get().(*chunk)
	c.shared = false
	u.inFlight++
	return c
}

// release gives back a chunk every stage has processed.
func (u *Upload) release(c *chunk) {
	if c.shared {
		<-u.s.chunks
	}
	chunkPool.Put(c)
	u.finished <- struct{}{}
}

// stage starts a goroutine that applies work to every chunk in turn. It
// holds one of the store's turns while it works: uploads are CPU work, and
// ten of them at once would fill the run queue ahead of every page read.
// Turns leave reads a processor and a wait of one chunk's work at most.
func (u *Upload) stage(work func([]byte) error) {
	in := make(chan *chunk, chunksInFlight)
	u.stages = append(u.stages, in)
	u.wg.Go(func() {
		for c := range in {
			if u.failed() == nil {
				turn := u.s.takeTurn()
				err := work(c.b)
				<-turn
				if err != nil {
					u.fail(err)
				}
			}
			if c.left.Add(-1) == 0 {
				u.release(c)
			}
		}
	})
}

func (u *Upload) fail(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err == nil {
		u.err = err
	}
}

func (u *Upload) failed() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

func (u *Upload) has(algo string) bool {
	return slices.ContainsFunc(u.sums, func(d digest) bool { return d.algo == algo })
}

// Write appends p to the file being received. It returns once p is copied
// into the pipeline; a failure to store an earlier chunk is returned by a
// later call, or by Close.
func (u *Upload) Write(p []byte) (int, error) {
	n, err := u.ReadFrom(bytes.NewReader(p))
	return int(n), err
}

// ReadFrom reads r to its end into the upload, straight into the chunks of
// the pipeline. A failure to read r is returned as a *ReadError; a failure
// to store what was read, as is.
func (u *Upload) ReadFrom(r io.Reader) (int64, error) {
	if u.closed {
		return 0, errors.New("upload already closed")
	}
	var total int64
	for {
		if err := u.failed(); err != nil {
			return total, err
		}
		c := u.nextChunk()
		// Unlike io.ReadFull, this passes r's own error on: a body cut
		// short must stay distinct from a part that ended.
		b := c.b[:UploadChunk]
		n := 0
		var err error
		for n < len(b) && err == nil {
			var m int
			m, err = r.Read(b[n:])
			n += m
		}
		if n == 0 {
			u.release(c)
		} else {
			c.b = b[:n]
			u.dispatch(c)
			total += int64(n)
		}
		switch {
		case err == io.EOF:
			return total, nil
		case err != nil:
			return total, &ReadError{err}
		}
	}
}

// ReadError is a failure to read what an upload reads from.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// dispatch hands a filled chunk to every stage. The chunk belongs to the
// stages from then on: the last one gives it back, maybe to another upload.
func (u *Upload) dispatch(c *chunk) {
	u.size += int64(len(c.b))
	c.left.Store(int32(len(u.stages)))
	for _, in := range u.stages {
		in <- c
	}
}

// UploadChunk is the size of the pieces an upload is processed in.
const UploadChunk = 64 << 10

// Close waits until every byte written is stored and hashed, and reports
// any failure. The upload can then be checked and published.
func (u *Upload) Close() error {
	if !u.closed {
		u.closed = true
		for _, in := range u.stages {
			close(in)
		}
		u.wg.Wait()
		u.inFlight = 0
	}
	return u.failed()
}

var chunkPool = sync.Pool{New: func() any { return &chunk{b: make([]byte, 0, UploadChunk)} }}

// SetMetadata gives the core metadata read from the file (a wheel's
// METADATA, an sdist's PKG-INFO), recorded with the published file.
func (u *Upload) SetMetadata(md []byte) { u.meta = md }

// Size is the number of bytes received so far.
func (u *Upload) Size() int64 { return u.size }

// Digest returns the hex digest of what was received in the named
// algorithm (one of UploadDigests or Hashes). One not computed while the
// bytes arrived is computed now, from the file.
func (u *Upload) Digest(algo string) (string, error) {
	if err := u.Close(); err != nil {
		return "", err
	}
	for _, d := range u.sums {
		if d.algo == algo {
			return hex.EncodeToString(d.h.Sum(nil)), nil
		}
	}
	h := NewDigest(algo)
	if h == nil {
		return "", fmt.Errorf("unknown digest %q", algo)
	}
	bp := copyBufs.Get().(*[]byte)
	_, err := io.CopyBuffer(h, io.NewSectionReader(u.tmp, 0, u.size), *bp)
	copyBufs.Put(bp)
	if err != nil {
		return "", fmt.Errorf("hashing upload: %w", err)
	}
	u.sums = append(u.sums, digest{algo, h})
	return hex.EncodeToString(h.Sum(nil)), nil
}

// digests are every digest computed, by algorithm, for the record.
func (u *Upload) digests() map[string]string {
	m := make(map[string]string, len(u.sums))
	for _, d := range u.sums {
		m[d.algo] = hex.EncodeToString(d.h.Sum(nil))
	}
	return m
}

// File returns the received bytes for checking before they are published,
// once Close has returned.
func (u *Upload) File() io.ReaderAt { return u.tmp }

// Abort discards the upload. It is safe to call after Publish.
func (u *Upload) Abort() {
	if u.done {
		return
	}
	u.Close()
	u.done = true
	u.tmp.Close()
	os.Remove(u.tmp.Name())
}

// Published says where an upload landed.
type Published struct {
	Rel      string // path below the first root
	Replaced bool   // an existing file of the same name was overwritten
}

// Publish makes the received bytes appear as filename in the project's
// directory: the data is flushed to stable storage, then linked under its
// name, which fails if a file of that name exists, so of two writers racing
// for one name, on any number of hosts sharing the file system, exactly one
// wins. With overwrite, the file replaces an existing one by rename
// instead, which readers also see as one change. The directory is flushed
// before Publish returns, so the file survives a crash of this host.
//
// A file of the same name elsewhere in the first root (a flat or nested
// layout) is the one replaced or refused, never duplicated; one in a later
// root cannot be replaced from here.
func (u *Upload) Publish(ctx context.Context, filename string, overwrite bool) (*Published, error) {
	if u.done {
		return nil, errors.New("upload already finished")
	}
	defer u.Abort()
	if err := u.Close(); err != nil {
		return nil, err
	}
	if err := u.tmp.Sync(); err != nil {
		return nil, fmt.Errorf("flushing upload: %w", err)
	}
	st, err := u.tmp.Stat()
	if err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	if err := u.tmp.Close(); err != nil {
		return nil, fmt.Errorf("closing upload: %w", err)
	}
	if err := mkdirSynced(u.dir); err != nil {
		return nil, err
	}
	target := filepath.Join(u.dir, filename)
	existing, err := u.s.findFile(ctx, u.project, filename)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		if !overwrite {
			return nil, fmt.Errorf("%s: %w", filename, ErrExists)
		}
		if existing.root != u.s.roots[0] {
			return nil, fmt.Errorf("%s is served from a root that uploads do not write to: %w", filename, ErrExists)
		}
		target = existing.Path()
	}
	replaced := false
	if existing == nil {
		if err := removeOrphanSidecars(target); err != nil {
			return nil, err
		}
	}
	if err := os.Link(u.tmp.Name(), target); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("publishing %s: %w", filename, err)
		}
		if !overwrite {
			return nil, fmt.Errorf("%s: %w", filename, ErrExists)
		}
		if err := os.Rename(u.tmp.Name(), target); err != nil {
			return nil, fmt.Errorf("publishing %s: %w", filename, err)
		}
		replaced = true
	}
	if err := syncDir(filepath.Dir(target)); err != nil {
		return nil, err
	}
	rel, _ := filepath.Rel(u.s.roots[0].path, target)
	rel = filepath.ToSlash(rel)
	// The record is written after the file is published, so it can only
	// ever describe a published file; a reader that comes in between
	// computes the facts itself.
	if err := u.s.writeAtomic(u.s.factsFile(rel), u.record(st, filename)); err != nil {
		u.s.opts.Log.Error(err, "recording the facts of an uploaded file", "file", rel)
	}
	return &Published{Rel: rel, Replaced: replaced}, nil
}

// record is the facts record of the published file, whose identity the
// temporary file's stat gave (a link keeps inode, size and mtime).
func (u *Upload) record(st os.FileInfo, filename string) []byte {
	sys := st.Sys().(*syscall.Stat_t)
	rec := recordedFacts{
		Ino: sys.Ino, Size: st.Size(), MtimeNs: st.ModTime().UnixNano(),
		Digests: u.digests(),
	}
	if u.meta != nil {
		if fields, err := meta.Parse(u.meta); err == nil {
			rec.RequiresPython = fields.RequiresPython
		}
		// The read path serves a wheel's METADATA as its PEP 658 file.
		if df, err := dist.Parse(filename); err == nil && df.Kind == dist.Wheel {
			rec.Metadata = true
			rec.MetadataDigest = map[string]string{}
			for algo, h := range hashes {
				d := h()
				d.Write(u.meta)
				rec.MetadataDigest[algo] = hex.EncodeToString(d.Sum(nil))
			}
		}
	}
	b, _ := json.Marshal(rec)
	return b
}

// Exists reports whether a file of the project with the given name is
// listed now, in any root.
func (s *Store) Exists(ctx context.Context, project, filename string) (bool, error) {
	f, err := s.findFile(ctx, dist.Normalize(project), filename)
	return f != nil, err
}

// WriteSidecarRel stores data beside the file at rel in the first root,
// as WriteSidecar does; it is for the file an upload just published.
func (s *Store) WriteSidecarRel(rel, suffix string, data []byte) error {
	if err := CleanRel(rel); err != nil {
		return err
	}
	return s.writeAtomic(filepath.Join(s.roots[0].path, filepath.FromSlash(rel))+suffix, data)
}

// findFile looks for a listed file of the project with the given name, in
// the listing as it is now.
func (s *Store) findFile(ctx context.Context, project, filename string) (*File, error) {
	snap, err := s.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	p := snap.Project(project)
	if p == nil {
		return nil, nil
	}
	for _, f := range p.Files {
		if f.Filename() == filename {
			return f, nil
		}
	}
	return nil, nil
}

// WriteSidecar stores data beside a file of the first root (a yank reason,
// a provenance object), replacing what was there in one step.
//
// f comes from a listing that may be a moment old: another replica may
// have removed the file since. The sidecar is written first and the file
// checked after, so a sidecar is never left beside no file: where the file
// is gone (or, by inode, is another one) the sidecar is taken back and the
// answer is ErrNotFound. A file published again under the same name in
// that moment may keep the sidecar (inode numbers are reused at once); a
// yank names a release, not a file, so that is the yank taking effect
// after the upload.
func (s *Store) WriteSidecar(f *File, suffix string, data []byte) error {
	if err := s.writable(f); err != nil {
		return err
	}
	if err := s.writeAtomic(f.Path()+suffix, data); err != nil {
		return err
	}
	if id, err := statFresh(f.Path(), false); err != nil || id.ino != f.ino {
		if rerr := os.Remove(f.Path() + suffix); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return fmt.Errorf("taking back %s%s: %w", f.Rel, suffix, rerr)
		}
		return fmt.Errorf("%s: %w", f.Rel, ErrNotFound)
	}
	return nil
}

// writable refuses changes to files of roots other than the first, which
// the index reads but never writes.
func (s *Store) writable(f *File) error {
	if f.root != s.roots[0] {
		return fmt.Errorf("%s is served from a root that is not written to: %w", f.Rel, ErrReadOnly)
	}
	return nil
}

// removeOrphanSidecars deletes sidecars lying beside a name that holds no
// file, before a new file takes the name: a yank that raced a removal on
// another replica must not mark the next upload of that name.
func removeOrphanSidecars(target string) error {
	for _, suf := range sidecarSuffixes {
		if err := os.Remove(target + suf); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing stale %s: %w", filepath.Base(target+suf), err)
		}
	}
	return nil
}

// RemoveSidecar deletes a sidecar of a file of the first root; a missing
// one is not an error.
func (s *Store) RemoveSidecar(f *File, suffix string) error {
	if err := s.writable(f); err != nil {
		return err
	}
	if err := os.Remove(f.Path() + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing %s%s: %w", f.Rel, suffix, err)
	}
	return syncDir(filepath.Dir(f.Path()))
}

// Remove deletes a file of the first root and its sidecars. The file goes
// first: from then on it is no longer listed, whatever happens to the rest.
func (s *Store) Remove(f *File) error {
	if err := s.writable(f); err != nil {
		return err
	}
	if err := os.Remove(f.Path()); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %w", f.Rel, ErrNotFound)
		}
		return fmt.Errorf("removing %s: %w", f.Rel, err)
	}
	leftovers := []string{s.factsFile(f.Rel)}
	for _, suf := range sidecarSuffixes {
		leftovers = append(leftovers, f.Path()+suf)
	}
	for _, p := range leftovers {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.opts.Log.Error(err, "removing sidecar of a removed file", "path", p)
		}
	}
	return syncDir(filepath.Dir(f.Path()))
}

// SetProjectStatus writes the project's status marker in its directory of
// the first root, where ProjectStatus reads it first.
func (s *Store) SetProjectStatus(project string, st Status) error {
	if !dist.ValidProject(project) {
		return fmt.Errorf("project name %q: %w", project, ErrBadPath)
	}
	switch st.Status {
	case StatusActive, StatusArchived, StatusQuarantined, StatusDeprecated:
	default:
		return fmt.Errorf("unknown project status %q: %w", st.Status, ErrBadPath)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	dir := filepath.Join(s.roots[0].path, dist.Normalize(project))
	if err := mkdirSynced(dir); err != nil {
		return err
	}
	return s.writeAtomic(filepath.Join(dir, StatusFile), b)
}

// CleanTemp removes temporary files older than maxAge that writers left in
// the store's temporary directory (a crash, a killed pod). Younger ones may
// belong to an upload still running on another replica.
//
// It only looks: a root that never had an upload (or is read-only) has no
// temporary directory and nothing to clean.
func (s *Store) CleanTemp(maxAge time.Duration) (removed int, err error) {
	dir := s.tempPath()
	cutoff := time.Now().Add(-maxAge)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cleaning %s: %w", dir, err)
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), TempPrefix) {
			continue
		}
		info, err := e.Info()
		if err != nil || info.ModTime().After(cutoff) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err == nil {
			removed++
			s.opts.Log.Info("removed an abandoned temporary file", "path", p, "age", time.Since(info.ModTime()).Round(time.Second).String())
		}
	}
	return removed, nil
}

func (s *Store) createTemp() (*os.File, error) {
	dir, err := s.tempDir()
	if err != nil {
		return nil, err
	}
	var b [12]byte
	rand.Read(b[:])
	name := filepath.Join(dir, TempPrefix+hex.EncodeToString(b[:]))
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating temporary file in %s: %w", dir, err)
	}
	return f, nil
}

// writeAtomic replaces path with data: a reader sees the old contents or
// the new, never a part.
func (s *Store) writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("making %s: %w", dir, err)
	}
	f, err := s.createTemp()
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("flushing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	return syncDir(dir)
}

// mkdirSynced makes dir (one level below an existing root) and flushes its
// parent, so a crash cannot lose the directory a published file is in.
func mkdirSynced(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if err == nil {
		return syncDir(filepath.Dir(dir))
	}
	if errors.Is(err, fs.ErrExist) {
		st, serr := os.Lstat(dir)
		if serr == nil && st.IsDir() {
			return nil
		}
		return fmt.Errorf("%s exists and is not a directory: %w", dir, ErrBadPath)
	}
	return fmt.Errorf("making %s: %w", dir, err)
}

func syncDir(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("flushing %s: %w", dir, err)
	}
	return nil
}
