package store

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/meta"
)

// Facts are what the index tells about a file's contents. They are cached
// by the file's identity (device, inode, size, modification and change
// times), which a change of contents always alters.
//
// One Facts is kept per file for as long as the file is listed, so it is
// one object of 112 bytes without pointers: the key it was computed for,
// both digests inline as raw bytes (pages append them in hex), and the
// number of its Requires-Python text among the distinct texts of every
// file (see requiresPythons). The collector never has to look inside an
// object without pointers, and an index holds one per file. Digests longer
// than 32 bytes (sha384, sha512) do not both fit; such a file's Facts are
// the first field of a factsExt, which holds the metadata file's.
type Facts struct {
	key      factsKey
	trusted  bool // the file had settled before it was read
	metadata bool
	ext      bool     // this is the Facts of a factsExt
	n        uint8    // digest length; 0 when hashing is off
	rp       uint32   // Requires-Python: its number in requiresPythons, 0 for none
	sums     [64]byte // the file's digest, then the metadata file's if it fits
}

// factsExt are Facts with what did not fit in them.
type factsExt struct {
	Facts
	md [64]byte // the metadata file's digest, when twice the digest length exceeds 64
}

// requiresPythons numbers the distinct Requires-Python texts of the files
// read, each kept once. An index has few of them (">=3.9", ">=3.8,<4.0"),
// and a number where each file held its own text keeps Facts free of
// pointers and 16 bytes smaller. Texts are never dropped: there are at
// most as many as files were ever read.
var requiresPythons struct {
	mu    sync.Mutex
	ids   map[string]uint32
	texts atomic.Pointer[[]string] // texts[i-1] is text i; grown by copying
}

// requiresPythonID returns rp's number, numbering it if it is new; 0 for "".
func requiresPythonID(rp string) uint32 {
	if rp == "" {
		return 0
	}
	t := &requiresPythons
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.ids[rp]; ok {
		return id
	}
	if t.ids == nil {
		t.ids = map[string]uint32{}
	}
	var texts []string
	if p := t.texts.Load(); p != nil {
		texts = *p
	}
	// Readers hold the old slice without a lock, so it is never written
	// to: the new text goes into a copy.
	texts = append(texts[:len(texts):len(texts)], strings.Clone(rp))
	t.texts.Store(&texts)
	id := uint32(len(texts))
	t.ids[texts[id-1]] = id
	return id
}

// requiresPythonText is the text numbered id.
func requiresPythonText(id uint32) string {
	if id == 0 {
		return ""
	}
	return (*requiresPythons.texts.Load())[id-1]
}

// factsKey is what of a file's identity its contents depend on: a link
// count or mode change leaves the facts as they are.
type factsKey struct {
	dev, ino           uint64
	size, mtime, ctime int64
}

func keyOf(id identity) factsKey {
	return factsKey{dev: id.dev, ino: id.ino, size: id.size, mtime: id.mtime, ctime: id.ctime}
}

// newFacts makes the facts of a file with identity id: its digest and its
// core metadata's (in one algorithm; nil when hashing is off, md nil when
// there is no metadata file), and its Requires-Python.
func newFacts(id identity, metadata bool, d, md []byte, rp string) *Facts {
	fa := Facts{key: keyOf(id), metadata: metadata, n: uint8(len(d)), rp: requiresPythonID(rp)}
	copy(fa.sums[:], d)
	if md == nil || 2*len(d) <= len(fa.sums) {
		copy(fa.sums[len(d):], md)
		p := new(Facts)
		*p = fa
		return p
	}
	x := &factsExt{Facts: fa}
	x.ext = true
	copy(x.md[:], md)
	return &x.Facts
}

// extension returns the factsExt whose first field fa is.
func (fa *Facts) extension() *factsExt {
	if !fa.ext {
		return nil
	}
	// Only newFacts sets ext, on the Facts at the start of a factsExt.
	return (*factsExt)(unsafe.Pointer(fa))
}

// Size is the file's size in bytes.
func (fa *Facts) Size() int64 { return fa.key.size }

// ModTime is the file's modification time: its upload time.
func (fa *Facts) ModTime() time.Time { return time.Unix(0, fa.key.mtime).UTC() }

// Digest is the file's digest in the store's algorithm; nil when hashing
// is off.
func (fa *Facts) Digest() []byte {
	if fa.n == 0 {
		return nil
	}
	return fa.sums[:fa.n]
}

// Metadata reports whether the core metadata file can be served (wheels).
func (fa *Facts) Metadata() bool { return fa.metadata }

// MetadataDigest is the core metadata file's digest, in the same algorithm;
// nil when there is none or hashing is off.
func (fa *Facts) MetadataDigest() []byte {
	switch {
	case !fa.metadata || fa.n == 0:
		return nil
	case 2*int(fa.n) > len(fa.sums):
		return fa.extension().md[:fa.n]
	}
	return fa.sums[fa.n : 2*fa.n]
}

// RequiresPython is the metadata's Requires-Python, or "".
func (fa *Facts) RequiresPython() string { return requiresPythonText(fa.rp) }

// copyBufs are what a file is hashed through. 32 KiB reads cost no round
// trips on NFS, whose client reads ahead in rsize pieces whatever the
// reader asks for, and with hashSlots files read at once they are 1 MiB
// in all rather than 2.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// FactsAll returns the facts of each of files as it is now, nil for one
// that vanished or cannot be read (logged): pages leave such files out.
// The files are checked in parallel, so on a network file system a page
// costs a round trip or two deep, not one per file. When ctx ends, what
// was not checked is nil too; the caller asks ctx.
func (s *Store) FactsAll(ctx context.Context, files []*File) []*Facts {
	s.readStarted()
	defer s.readDone()
	out := make([]*Facts, len(files))
	s.parallel(len(files), func(i int) {
		if ctx.Err() != nil {
			return
		}
		fa, err := s.Facts(ctx, files[i])
		if err != nil && ctx.Err() == nil {
			s.opts.Log.Info("leaving a file out of its project page", "path", files[i].Path(), "reason", err.Error())
		}
		out[i] = fa
	})
	return out
}

// Facts returns the facts of f as its file is now. A file that vanished or
// cannot be read gives an error; pages leave such files out.
func (s *Store) Facts(ctx context.Context, f *File) (*Facts, error) {
	select {
	case s.io <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.io }()
	id, err := statFreshJoin(f.root.path, f.Rel)
	if err != nil {
		s.Stats.SkippedFiles.Add(1)
		return nil, err
	}
	if fa := f.facts.Load(); fa != nil && fa.trusted && fa.key == keyOf(id) {
		s.Stats.FactsHits.Add(1)
		return fa, nil
	}
	fa, err := s.hashing.do(ctx, f, func() (*Facts, error) { return s.computeFacts(f, id) })
	if err != nil {
		s.Stats.SkippedFiles.Add(1)
	}
	return fa, err
}

// computeFacts finds f's facts where they are cheapest: in its project's
// record, which needs no opening of the file, in the record its upload
// left, or by reading the file, which is then recorded for other replicas.
// seen is f's identity as just asked of the file system.
func (s *Store) computeFacts(f *File, seen identity) (*Facts, error) {
	s.Stats.FactsMisses.Add(1)
	start := time.Now()
	if seen.isRegular() {
		if fa := s.fromProjectRecord(f, seen); fa != nil {
			s.Stats.FactsRecorded.Add(1)
			fa.trusted = seen.settled(start, s.opts.Guard)
			f.facts.Store(fa)
			return fa, nil
		}
	}
	// Reading a file whole takes buffers and, for an archive, its
	// decompressor: a cold replica hashing an index reads a few files at
	// once, not as many as it checks.
	s.hashSlots <- struct{}{}
	defer func() { <-s.hashSlots }()
	fh, err := f.root.base.open(f.Rel)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	id, err := fileIdentity(fh)
	if err != nil {
		return nil, err
	}
	if !id.isRegular() {
		return nil, fmt.Errorf("%s: not a regular file", fh.name)
	}
	var digest, mdDigest []byte
	if newHash := hashes[s.opts.HashAlgo]; newHash != nil {
		h := newHash()
		bp := copyBufs.Get().(*[]byte)
		n, err := io.CopyBuffer(h, io.NewSectionReader(fh, 0, id.size), *bp)
		copyBufs.Put(bp)
		s.Stats.HashedBytes.Add(uint64(n))
		if err != nil {
			return nil, fmt.Errorf("hashing %s: %w", fh.name, err)
		}
		digest = h.Sum(nil)
	}
	md, err := coreMetadata(fh, id.size, f.Dist())
	hasMetadata := err == nil && f.kind == dist.Wheel
	if err != nil {
		s.opts.Log.V(1).Info("no core metadata", "path", fh.name, "reason", err.Error())
	}
	var rp string
	if md != nil {
		if fields, err := meta.Parse(md); err == nil {
			rp = fields.RequiresPython
		}
		if hasMetadata {
			if newHash := hashes[s.opts.HashAlgo]; newHash != nil {
				h := newHash()
				h.Write(md)
				mdDigest = h.Sum(nil)
			}
		}
	}
	fa := newFacts(id, hasMetadata, digest, mdDigest, rp)
	fa.trusted = id.settled(start, s.opts.Guard)
	f.facts.Store(fa)
	s.noteHashed(f, fa)
	return fa, nil
}

// coreMetadata reads a wheel's METADATA or an sdist's PKG-INFO; nil for
// other kinds.
func coreMetadata(r io.ReaderAt, size int64, df dist.File) ([]byte, error) {
	switch df.Kind {
	case dist.Wheel:
		return meta.Wheel(r, size, df)
	case dist.Sdist:
		return meta.Sdist(r, size, df)
	}
	return nil, nil
}

// Sidecar reads a small file kept beside f (its yank reason, provenance or
// signature), as it is now.
func (s *Store) Sidecar(f *File, suffix string) ([]byte, error) {
	fh, err := f.root.base.open(f.Rel + suffix)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxSidecar+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", fh.name, err)
	}
	if len(b) > maxSidecar {
		return nil, fmt.Errorf("reading %s: larger than %d bytes", fh.name, maxSidecar)
	}
	return b, nil
}

const maxSidecar = 1 << 20

// YankReason returns the reason recorded in f's yank marker (possibly
// empty). It is only meaningful when f.Yanked().
func (s *Store) YankReason(f *File) string {
	b, err := s.Sidecar(f, YankedSuffix)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Status is a project's PEP 792 status.
type Status struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Statuses a project may have, per PEP 792.
const (
	StatusActive      = "active"
	StatusArchived    = "archived"
	StatusQuarantined = "quarantined"
	StatusDeprecated  = "deprecated"
)

// ProjectStatus reads the project's status marker as it is now. A project
// without one is active; an unreadable or malformed marker is reported and
// the project treated as quarantined, since that is the state that exposes
// nothing a maintainer may have meant to hide.
func (s *Store) ProjectStatus(p *Project) (Status, error) {
	return readStatus(p.statusFiles)
}

// StatusOf reads the status of a project by name, from the markers in the
// directories named after it as they are now, whether or not it has files.
func (s *Store) StatusOf(project string) (Status, error) {
	name := dist.Normalize(project)
	paths := make([]string, len(s.roots))
	for i, r := range s.roots {
		paths[i] = r.path + "/" + name + "/" + StatusFile
	}
	return readStatus(paths)
}

func readStatus(paths []string) (Status, error) {
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return Status{Status: StatusQuarantined}, fmt.Errorf("reading %s: %w", path, err)
		}
		var st Status
		if err := json.Unmarshal(b, &st); err != nil {
			return Status{Status: StatusQuarantined}, fmt.Errorf("parsing %s: %w", path, err)
		}
		switch st.Status {
		case StatusActive, StatusArchived, StatusQuarantined, StatusDeprecated:
			return st, nil
		}
		return Status{Status: StatusQuarantined}, fmt.Errorf("%s: unknown status %q", path, st.Status)
	}
	return Status{Status: StatusActive}, nil
}
