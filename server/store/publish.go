package store

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
// go to a hidden temporary file in the project's directory while every
// digest a client may send is computed; Publish then makes the file appear
// under its name at once, or not at all.
type Upload struct {
	s       *Store
	project string
	dir     string // absolute directory that will hold the file
	tmp     *os.File
	size    int64
	md5     hash.Hash
	sha256  hash.Hash
	blake2  hash.Hash
	algo    hash.Hash // the store's own algorithm, if not one of the above
	meta    []byte    // core metadata found by the caller's checks
	done    bool
}

// SetMetadata gives the core metadata read from the file (a wheel's
// METADATA, an sdist's PKG-INFO), recorded with the published file.
func (u *Upload) SetMetadata(md []byte) { u.meta = md }

// Begin starts an upload for the project (any spelling; its normalized
// name is the directory) into the first root.
func (s *Store) Begin(project string) (*Upload, error) {
	if !dist.ValidProject(project) {
		return nil, fmt.Errorf("project name %q: %w", project, ErrBadPath)
	}
	name := dist.Normalize(project)
	dir := filepath.Join(s.roots[0].path, name)
	tmp, err := s.createTemp()
	if err != nil {
		return nil, err
	}
	b2, _ := blake2b.New256(nil)
	u := &Upload{s: s, project: name, dir: dir, tmp: tmp, md5: md5.New(), sha256: sha256.New(), blake2: b2}
	switch s.opts.HashAlgo {
	case "md5", "sha256", "none":
	default:
		u.algo = Hashes[s.opts.HashAlgo]()
	}
	return u, nil
}

// Write appends to the file being received. The digests are computed
// while the bytes go to disk, on other cores: hashing is most of an
// upload's work, and with large writes the goroutines cost nothing next to
// it.
func (u *Upload) Write(p []byte) (int, error) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		u.md5.Write(p)
		u.blake2.Write(p)
	}()
	go func() {
		defer wg.Done()
		u.sha256.Write(p)
		if u.algo != nil {
			u.algo.Write(p)
		}
	}()
	n, err := u.tmp.Write(p)
	wg.Wait()
	u.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("writing upload: %w", err)
	}
	return n, nil
}

// Size is the number of bytes received so far.
func (u *Upload) Size() int64 { return u.size }

// Digests returns the hex digests of what was received, by the names the
// upload form uses for them: "md5", "sha256", "blake2_256", and the store's
// own algorithm.
func (u *Upload) Digests() map[string]string {
	d := map[string]string{
		"md5":        hex.EncodeToString(u.md5.Sum(nil)),
		"sha256":     hex.EncodeToString(u.sha256.Sum(nil)),
		"blake2_256": hex.EncodeToString(u.blake2.Sum(nil)),
	}
	if u.algo != nil {
		d[u.s.opts.HashAlgo] = hex.EncodeToString(u.algo.Sum(nil))
	}
	return d
}

// File returns the received bytes for checking before they are published.
func (u *Upload) File() io.ReaderAt { return u.tmp }

// Abort discards the upload. It is safe to call after Publish.
func (u *Upload) Abort() {
	if u.done {
		return
	}
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
		Digests: u.Digests(),
	}
	if u.meta != nil {
		if fields, err := meta.Parse(u.meta); err == nil {
			rec.RequiresPython = fields.RequiresPython
		}
		// The read path serves a wheel's METADATA as its PEP 658 file.
		if df, err := dist.Parse(filename); err == nil && df.Kind == dist.Wheel {
			rec.Metadata = true
			rec.MetadataDigest = map[string]string{}
			for algo, h := range Hashes {
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
