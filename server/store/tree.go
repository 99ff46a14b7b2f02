package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"hash/maphash"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"pkgindex.dev/pkgindex/server/dist"
)

// Sidecar suffixes: files kept beside a distribution that say more about it.
// See docs/layout.md.
const (
	YankedSuffix     = ".yanked"     // present: the file is yanked; contents: the reason
	ProvenanceSuffix = ".provenance" // PEP 740 provenance object (JSON)
	SignatureSuffix  = ".asc"        // detached GPG signature
	// StatusFile, in a directory named after a project, holds the PEP 792
	// status of the project as JSON: {"status": "archived", "reason": "..."}.
	StatusFile = ".project-status"
)

// sidecarSuffixes are the suffixes of the files that describe one
// distribution file.
var sidecarSuffixes = []string{YankedSuffix, ProvenanceSuffix, SignatureSuffix}

// changes are what check rounds found changed since the last snapshot was
// built: the projects whose files, or status marker, the next snapshot must
// list anew. Subdirectories are checked in parallel, so it is locked. What
// a failed round noted is kept for the next.
type changes struct {
	mu       sync.Mutex
	projects map[string]struct{}
}

func (c *changes) touch(project string) {
	c.mu.Lock()
	if c.projects == nil {
		c.projects = map[string]struct{}{}
	}
	c.projects[project] = struct{}{}
	c.mu.Unlock()
}

// take returns the projects noted and forgets them.
func (c *changes) take() map[string]struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.projects
	c.projects = nil
	return p
}

// maxDepth bounds how deep nested layouts are walked.
const maxDepth = 32

// dir is the last known state of one directory under a root. Only the
// running check touches it.
type dir struct {
	rel     string // slash-separated path below the root; "" for the root
	abs     string
	present bool
	id      identity
	trusted bool              // id.ctime was settled when the listing was read
	sum     [sha256.Size]byte // of the listing last read (see readDir)
	files   []*File           // distribution files
	subdirs []*dir
	status  bool // holds a StatusFile
}

// checkDir revalidates d and everything below it. What changed is noted
// in s.changes: the projects whose files the next snapshot must list anew.
func (s *Store) checkDir(r *root, d *dir, depth int) error {
	id, err := statFresh(d.abs, depth == 0)
	if err == nil && !id.isDir() {
		err = &fs.PathError{Op: "check", Path: d.abs, Err: unix.ENOTDIR}
	}
	if err != nil {
		if depth == 0 {
			return err
		}
		// A directory that vanished or became something else: its parent
		// has changed too and is re-read in this round; until then it
		// lists nothing.
		s.forget(d)
		return nil
	}
	if d.present && id == d.id && d.trusted {
		return s.checkSubdirs(r, d, depth)
	}
	start := time.Now()
	// A directory whose timestamps moved has most likely changed; one
	// re-read only because its timestamps cannot be trusted yet most
	// likely has not.
	if err := s.readDir(r, d, depth, !d.present || id != d.id); err != nil {
		if depth == 0 {
			return err
		}
		s.opts.Log.Error(err, "skipping unreadable directory", "dir", d.abs)
		s.forget(d)
		return nil
	}
	d.present = true
	d.id = id
	d.trusted = id.settled(start, s.opts.Guard)
	return s.checkSubdirs(r, d, depth)
}

// forget empties d and everything below it, noting every project that had
// files there, until d is read again.
func (s *Store) forget(d *dir) {
	for _, f := range d.files {
		s.changes.touch(f.project)
	}
	if d.status {
		s.changes.touch(d.rel)
	}
	for _, sd := range d.subdirs {
		s.forget(sd)
	}
	*d = dir{rel: d.rel, abs: d.abs}
}

// checkSubdirs revalidates d's subdirectories.
//
// A root in the per-project layout has a subdirectory per project, each
// asked for fresh attributes every round. On a network file system every
// such stat is a round trip to the server, so many subdirectories are
// checked by several goroutines at once: the round then takes about as
// long as the slowest share, not the sum of every trip. Each goroutine
// touches only the subtrees it is given.
func (s *Store) checkSubdirs(r *root, d *dir, depth int) error {
	if len(d.subdirs) < parallelCheckMin {
		for _, sub := range d.subdirs {
			if err := s.checkDir(r, sub, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range min(checkWorkers, len(d.subdirs)/parallelCheckMin+1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(d.subdirs) {
					return
				}
				// Below a root, checkDir reports no error: a subdirectory
				// that fails is logged and lists nothing.
				_ = s.checkDir(r, d.subdirs[i], depth+1)
			}
		}()
	}
	wg.Wait()
	return nil
}

// Subdirectories are checked in parallel from parallelCheckMin on, by up to
// checkWorkers goroutines per directory.
const (
	parallelCheckMin = 16
	checkWorkers     = 16
)

// readDir re-reads d's listing, noting in s.changes what changed. What was
// read last is remembered as a SHA-256 of it (every name, inode number and
// type, in the order the file system gives them), not as the entries: a
// listing that hashes the same is the same, so nothing is rebuilt, and the
// store keeps 32 bytes per directory instead of an entry per file.
//
// A directory that is expected to have changed is rebuilt as it is read.
// Otherwise a first read only hashes the listing, and the directory is
// read again for a rebuild if it did change after all: a huge directory
// re-read on every request while its timestamps cannot be trusted then
// takes no memory for its entries.
func (s *Store) readDir(r *root, d *dir, depth int, expectChange bool) error {
	if d.present && !expectChange {
		s.Stats.DirReads.Add(1)
		sum, err := listingSum(d.abs)
		if err != nil {
			return err
		}
		if sum == d.sum {
			return nil
		}
	}
	s.Stats.DirReads.Add(1)
	sum, err := s.rebuildDir(r, d, depth)
	if err != nil {
		return err
	}
	d.sum = sum
	return nil
}

// listingHash hashes a listing entry by entry.
type listingHash struct {
	h   hash.Hash
	num [10]byte
}

var listingHashes = sync.Pool{New: func() any { return &listingHash{h: sha256.New()} }}

func (l *listingHash) add(name []byte, ino uint64, typ uint8) {
	// A NUL ends each name (no name holds one), then the fixed-size inode
	// number and type: the hash input spells the listing out unambiguously.
	l.h.Write(name)
	l.num[0] = 0
	binary.LittleEndian.PutUint64(l.num[1:9], ino)
	l.num[9] = typ
	l.h.Write(l.num[:])
}

func (l *listingHash) sum() (out [sha256.Size]byte) {
	l.h.Sum(out[:0])
	return out
}

// listingSum reads the directory at path and returns the hash of its
// listing.
func listingSum(path string) ([sha256.Size]byte, error) {
	l := listingHashes.Get().(*listingHash)
	defer listingHashes.Put(l)
	l.h.Reset()
	err := readDir(path, func(name []byte, ino uint64, typ uint8) error {
		l.add(name, ino, typ)
		return nil
	})
	return l.sum(), err
}

// rebuildDir reads d's listing and turns it into files and subdirectories
// as it goes, keeping the File values (and so their cached facts) of
// entries that did not change, and noting the projects whose files did. It
// returns the hash of the listing read. No entry is kept beyond its turn:
// a file already known is looked up by name and kept, a new one is made
// there and then, so a read of 50,000 files costs the new list of them,
// not a copy of every name.
func (s *Store) rebuildDir(r *root, d *dir, depth int) ([sha256.Size]byte, error) {
	// A busy directory is rebuilt on every change to it; its index of the
	// previous files is scratch space, reused rather than made each time.
	old := fileIndexes.Get().(*fileIndex)
	old.reset(d.files)
	defer func() { old.reset(nil); fileIndexes.Put(old) }()
	h := listingHashes.Get().(*listingHash)
	defer listingHashes.Put(h)
	h.h.Reset()
	oldDirs := make(map[string]*dir, len(d.subdirs))
	for _, sd := range d.subdirs {
		oldDirs[sd.rel[strings.LastIndexByte(sd.rel, '/')+1:]] = sd
	}
	var (
		files     = make([]*File, 0, len(d.files)+8)
		subdirs   []*dir
		status    bool
		marks     map[string]uint8 // of sidecars, by the name they describe
		oldMarked bool             // a kept file has marks
	)
	err := readDir(d.abs, func(name []byte, ino uint64, typ uint8) error {
		h.add(name, ino, typ)
		if name[0] == '.' {
			status = status || string(name) == StatusFile
			return nil
		}
		// Strings and paths are made only where they are kept or needed:
		// most entries are files already known from the last read.
		if typ == unix.DT_UNKNOWN || typ == unix.DT_LNK {
			typ = s.entryType(r, d.abs+"/"+string(name), joinRel(d.rel, string(name)), typ == unix.DT_LNK)
		}
		switch typ {
		case unix.DT_DIR:
			if depth+1 >= maxDepth {
				s.opts.Log.Info("skipping directory nested too deep", "dir", d.abs+"/"+string(name), "maxDepth", maxDepth)
				return nil
			}
			sd := oldDirs[string(name)]
			if sd == nil {
				sd = &dir{rel: joinRel(d.rel, string(name)), abs: d.abs + "/" + string(name)}
			}
			delete(oldDirs, string(name))
			subdirs = append(subdirs, sd)
		case unix.DT_REG:
			if base, m := sidecarOf(name); m != 0 {
				if marks == nil {
					marks = map[string]uint8{}
				}
				marks[string(base)] |= m
				return nil
			}
			f, i := old.find(name)
			if f != nil && f.ino == ino {
				old.see(i)
				files = append(files, f)
				oldMarked = oldMarked || f.marks != 0
				return nil
			}
			df, err := dist.Parse(string(name))
			if err != nil {
				return nil
			}
			// Made without marks: the sidecars may come later in the
			// listing, and are applied below.
			nf := newFile(r, joinRel(d.rel, df.Filename), df, ino, 0)
			if f != nil {
				nf.facts.Store(f.facts.Load()) // same name, so perhaps the same contents
			}
			files = append(files, nf)
			s.changes.touch(nf.project)
		}
		return nil
	})
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	// A File's marks are fixed when it is made: a file whose sidecars
	// differ from its marks is made again.
	if len(marks) > 0 || oldMarked {
		for i, f := range files {
			if m := marks[f.Filename()]; m != f.marks {
				files[i] = f.withMarks(m)
				s.changes.touch(f.project)
			}
		}
	}
	for i, f := range old.files {
		if !old.seen(i) {
			s.changes.touch(f.project)
		}
	}
	for _, sd := range oldDirs {
		s.forget(sd)
	}
	if status != d.status {
		s.changes.touch(d.rel)
	}
	d.files, d.subdirs, d.status = files, subdirs, status
	return h.sum(), nil
}

// sidecarOf returns the distribution file name is a sidecar of, and its
// mark; 0 when name is no sidecar.
func sidecarOf(name []byte) ([]byte, uint8) {
	for _, suf := range sidecarSuffixes {
		if base, ok := bytes.CutSuffix(name, []byte(suf)); ok && len(base) > 0 {
			return base, markFor(suf)
		}
	}
	return nil, 0
}

// fileIndex finds a directory's previous files by name while it is
// rebuilt: an open-addressing table of positions in the old file list,
// hashed by name. It takes 8 bytes a file and no pointers, where a map
// from names would take a string and a pointer per file.
type fileIndex struct {
	slots []int32 // 1 + position in files; 0 for an empty slot
	files []*File
	seenB []uint64 // bit i: files[i] was found in the new listing
}

var (
	fileIndexes = sync.Pool{New: func() any { return new(fileIndex) }}
	nameSeed    = maphash.MakeSeed()
)

// reset indexes files, which must have distinct names.
func (x *fileIndex) reset(files []*File) {
	x.files = files
	words := (len(files) + 63) / 64
	if cap(x.seenB) < words {
		x.seenB = make([]uint64, words)
	}
	x.seenB = x.seenB[:words]
	clear(x.seenB)
	if len(files) == 0 {
		return
	}
	n := 8
	for n < 2*len(files) {
		n <<= 1
	}
	if cap(x.slots) < n {
		x.slots = make([]int32, n)
	}
	x.slots = x.slots[:n]
	clear(x.slots)
	for i, f := range files {
		j := int(maphash.String(nameSeed, f.Filename())) & (n - 1)
		for x.slots[j] != 0 {
			j = (j + 1) & (n - 1)
		}
		x.slots[j] = int32(i + 1)
	}
}

// find returns the indexed file with the given name and its position, or
// nil.
func (x *fileIndex) find(name []byte) (*File, int) {
	if len(x.files) == 0 {
		return nil, 0
	}
	mask := len(x.slots) - 1
	for j := int(maphash.Bytes(nameSeed, name)) & mask; x.slots[j] != 0; j = (j + 1) & mask {
		i := int(x.slots[j] - 1)
		if f := x.files[i]; f.Filename() == string(name) {
			return f, i
		}
	}
	return nil, 0
}

// see marks the file at position i as found again.
func (x *fileIndex) see(i int) { x.seenB[i/64] |= 1 << (i % 64) }

// seen reports whether the file at position i was found again.
func (x *fileIndex) seen(i int) bool { return x.seenB[i/64]&(1<<(i%64)) != 0 }

// entryType resolves an entry whose type getdents did not give, or a
// symbolic link: links to files are served only when they stay inside the
// root; links to directories are not followed, as os.walk does not.
func (s *Store) entryType(r *root, abs, rel string, link bool) uint8 {
	if link {
		f, err := r.base.open(rel)
		if err != nil {
			if errors.Is(err, ErrOutsideRoot) {
				s.opts.Log.Info("skipping symbolic link that leaves its root", "path", abs)
			}
			return unix.DT_UNKNOWN
		}
		id, err := fileIdentity(f)
		f.Close()
		if err != nil || !id.isRegular() {
			return unix.DT_UNKNOWN
		}
		return unix.DT_REG
	}
	id, err := statFresh(abs, false)
	switch {
	case err != nil:
		return unix.DT_UNKNOWN
	case id.isDir():
		return unix.DT_DIR
	case id.isRegular():
		return unix.DT_REG
	}
	return unix.DT_UNKNOWN
}

func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
