package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"hash/maphash"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unique"

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

// maxDepth bounds how deep nested layouts are walked.
const maxDepth = 32

// dir is one directory under a root, as the store last read it. Its checks
// run one at a time through its own group, so the requests that need a
// directory at one moment share one check of it; each check publishes an
// immutable view that requests read without locks.
type dir struct {
	root  *root
	rel   string // slash-separated path below the root; "" for the root
	abs   string
	depth int
	check group[*dirView]
	view  atomic.Pointer[dirView] // the last published; nil before the first check

	// Touched only by the running check.
	id      identity
	trusted bool              // id.ctime was settled when the listing was read
	sum     [sha256.Size]byte // of the listing last read (see reread)
	left    int               // entries the layout left out at the last read

	// timedOut is set while a check a request gave up on is still running.
	timedOut atomic.Bool

	mu   sync.Mutex
	kids map[string]*dir // subdirectory objects by entry name, kept across reads
}

// dirView is what one check of a directory found. It never changes once
// published: a check that finds a change publishes a new view, so
// comparing pointers tells whether a directory changed.
type dirView struct {
	present bool
	files   []*File // distribution files
	subdirs []*dir  // subdirectories the layout follows
	status  bool    // holds a StatusFile
	// projects groups a root's entries by project in the per-project
	// layout: its flat files and the directories named after each.
	projects map[string]*rootEntry
}

// rootEntry is what a root holds of one project in the per-project layout.
type rootEntry struct {
	files []*File
	dirs  []*dir
}

// absent is the view of a directory that is not there, or not readable.
var absent = &dirView{}

// name is the directory's own name; "" for a root.
func (d *dir) name() string { return d.rel[strings.LastIndexByte(d.rel, '/')+1:] }

// kid returns the object of d's subdirectory called name, made on first
// use: a directory keeps its object, and so its last view, across reads of
// its parent.
func (d *dir) kid(name string) *dir {
	d.mu.Lock()
	defer d.mu.Unlock()
	if k := d.kids[name]; k != nil {
		return k
	}
	if d.kids == nil {
		d.kids = map[string]*dir{}
	}
	k := &dir{root: d.root, rel: joinRel(d.rel, name), abs: d.abs + "/" + name, depth: d.depth + 1}
	d.kids[name] = k
	return k
}

// known returns the object of d's subdirectory called name if d had one
// when it was last read, else nil. It never makes one: names come from
// request paths, and a made-up name must cost no memory.
func (d *dir) known(name string) *dir {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.kids[name]
}

// keepKids forgets every subdirectory object not in keep.
func (d *dir) keepKids(keep []*dir) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(keep) == 0 {
		d.kids = nil
		return
	}
	kept := make(map[string]*dir, len(keep))
	for _, k := range keep {
		kept[k.name()] = k
	}
	d.kids = kept
}

// checkDir returns d's view as the directory is now: from a check that
// starts after the call, shared with every caller that arrives while the
// one before it runs.
func (s *Store) checkDir(ctx context.Context, d *dir) (*dirView, error) {
	if v := s.staleView(d); v != nil {
		return v, nil
	}
	v, err := d.check.doDetached(ctx, s.opts.Timeout, func() (*dirView, error) { return s.recheck(d) })
	if err != nil {
		err = s.gaveUp("checking "+d.abs, err)
	}
	if errors.Is(err, ErrTimeout) && d.timedOut.CompareAndSwap(false, true) {
		s.stuck.Add(1) // until the check that hangs returns
	}
	return v, err
}

// recheck asks for d's attributes and reads it again if they changed or
// could not be trusted. Below a root, a directory that vanished or cannot
// be read gives the absent view (logged), not an error: its parent has
// changed too, or the rest of the index is still worth serving.
func (s *Store) recheck(d *dir) (*dirView, error) {
	s.io <- struct{}{}
	began := time.Now()
	defer func() {
		s.Stats.DirCheckTime.Observe(time.Since(began))
		<-s.io
		if d.timedOut.CompareAndSwap(true, false) {
			s.stuck.Add(-1)
		}
	}()
	s.Stats.DirChecks.Add(1)
	old := d.view.Load()
	id, err := statFresh(d.abs, d.depth == 0)
	if err == nil && !id.isDir() {
		err = &fs.PathError{Op: "check", Path: d.abs, Err: syscall.ENOTDIR}
	}
	if err != nil {
		if d.depth == 0 {
			return nil, err
		}
		return s.setAbsent(d), nil
	}
	if old != nil && old.present && id == d.id && d.trusted {
		return old, nil
	}
	start := time.Now()
	// A directory whose timestamps moved has most likely changed; one
	// re-read only because its timestamps cannot be trusted yet most
	// likely has not.
	v, err := s.reread(d, old, old == nil || !old.present || id != d.id)
	if err != nil {
		if d.depth == 0 {
			return nil, err
		}
		s.opts.Log.Error(err, "skipping unreadable directory", "dir", d.abs)
		return s.setAbsent(d), nil
	}
	d.id, d.trusted = id, id.settled(start, s.opts.Guard)
	d.view.Store(v)
	return v, nil
}

// setAbsent publishes that d is not there, forgetting what it held.
func (s *Store) setAbsent(d *dir) *dirView {
	d.id, d.trusted, d.sum, d.left = identity{}, false, [sha256.Size]byte{}, 0
	d.keepKids(nil)
	d.view.Store(absent)
	return absent
}

// reread reads d's listing again. What was read last is remembered as a
// SHA-256 of it (every name, inode number and type, in the order the file
// system gives them), not as the entries: a listing that hashes the same
// is the same, so the old view stands, and the store keeps 32 bytes per
// directory instead of an entry per file.
//
// A directory that is expected to have changed is rebuilt as it is read.
// Otherwise a first read only hashes the listing, and the directory is
// read again for a rebuild if it did change after all: a huge directory
// re-read on every request while its timestamps cannot be trusted then
// takes no memory for its entries.
func (s *Store) reread(d *dir, old *dirView, expectChange bool) (*dirView, error) {
	if !expectChange {
		s.Stats.DirReads.Add(1)
		sum, err := listingSum(d.abs)
		if err != nil {
			return nil, err
		}
		if sum == d.sum {
			return old, nil
		}
	}
	s.Stats.DirReads.Add(1)
	v, sum, err := s.rebuild(d, old)
	if err != nil {
		return nil, err
	}
	d.sum = sum
	return v, nil
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

// rebuild reads d's listing and turns it into a new view as it goes,
// keeping the File values (and so their cached facts) of entries that did
// not change. It returns the hash of the listing read. No entry is kept
// beyond its turn: a file already known is looked up by name and kept, a
// new one is made there and then, so a read of 50,000 files costs the new
// list of them, not a copy of every name.
func (s *Store) rebuild(d *dir, old *dirView) (*dirView, [sha256.Size]byte, error) {
	var oldFiles []*File
	if old != nil {
		oldFiles = old.files
	}
	// A busy directory is rebuilt on every change to it; its index of the
	// previous files is scratch space, reused rather than made each time.
	idx := fileIndexes.Get().(*fileIndex)
	idx.reset(oldFiles)
	defer func() { idx.reset(nil); fileIndexes.Put(idx) }()
	h := listingHashes.Get().(*listingHash)
	defer listingHashes.Put(h)
	h.h.Reset()
	perProject := s.opts.Layout == LayoutPerProject
	// In the per-project layout a directory of the root holds the files of
	// the project it is named after, and nothing deeper.
	own := ""
	if perProject && d.depth == 1 {
		own = dist.Normalize(d.name())
	}
	var (
		v         = &dirView{present: true}
		files     = make([]*File, 0, len(oldFiles)+8)
		marks     map[string]uint8 // of sidecars, by the name they describe
		oldMarked bool             // a kept file has marks
		left      int
		leftName  string
	)
	leave := func(name []byte) {
		if left++; left == 1 {
			leftName = string(name)
		}
	}
	err := readDir(d.abs, func(name []byte, ino uint64, typ uint8) error {
		h.add(name, ino, typ)
		if name[0] == '.' {
			v.status = v.status || string(name) == StatusFile
			return nil
		}
		// Strings and paths are made only where they are kept or needed:
		// most entries are files already known from the last read.
		if typ == typeUnknown || typ == typeLink {
			typ = s.entryType(d.root, d.abs+"/"+string(name), joinRel(d.rel, string(name)), typ == typeLink)
		}
		switch typ {
		case typeDir:
			switch {
			case perProject && (d.depth > 0 || !dist.ValidProject(string(name))):
				leave(name)
			case d.depth+1 >= maxDepth:
				s.opts.Log.Info("skipping directory nested too deep", "dir", d.abs+"/"+string(name), "maxDepth", maxDepth)
			default:
				v.subdirs = append(v.subdirs, d.kid(string(name)))
			}
		case typeRegular:
			if base, m := sidecarOf(name); m != 0 {
				if marks == nil {
					marks = map[string]uint8{}
				}
				marks[string(base)] |= m
				return nil
			}
			f := idx.find(name)
			if f != nil && f.ino == ino {
				files = append(files, f)
				oldMarked = oldMarked || f.marks != 0
				return nil
			}
			df, err := dist.Parse(string(name))
			if err != nil {
				return nil
			}
			if own != "" && df.Normalized() != own {
				leave(name)
				return nil
			}
			// Made without marks: the sidecars may come later in the
			// listing, and are applied below.
			nf := newFile(d.root, joinRel(d.rel, df.Filename), df, ino, 0)
			if f != nil {
				nf.facts.Store(f.facts.Load()) // same name, so perhaps the same contents
			}
			files = append(files, nf)
		}
		return nil
	})
	if err != nil {
		return nil, [sha256.Size]byte{}, err
	}
	// A File's marks are fixed when it is made: a file whose sidecars
	// differ from its marks is made again.
	if len(marks) > 0 || oldMarked {
		for i, f := range files {
			if m := marks[f.Filename()]; m != f.marks {
				files[i] = f.withMarks(m)
			}
		}
	}
	v.files = files
	d.keepKids(v.subdirs)
	if left != d.left && left > 0 {
		s.opts.Log.Info("entries outside the per-project layout are not served: a project's files belong in the root or in the directory named after it",
			"dir", d.abs, "entries", left, "example", leftName)
	}
	d.left = left
	if perProject && d.depth == 0 {
		v.projects = groupRoot(v)
	}
	return v, h.sum(), nil
}

// groupRoot indexes a root's view by project, in the per-project layout.
func groupRoot(v *dirView) map[string]*rootEntry {
	m := make(map[string]*rootEntry)
	entry := func(p string) *rootEntry {
		e := m[p]
		if e == nil {
			e = &rootEntry{}
			m[p] = e
		}
		return e
	}
	for _, f := range v.files {
		e := entry(f.project)
		e.files = append(e.files, f)
	}
	for _, sd := range v.subdirs {
		e := entry(unique.Make(dist.Normalize(sd.name())).Value())
		e.dirs = append(e.dirs, sd)
	}
	return m
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
}

var (
	fileIndexes = sync.Pool{New: func() any { return new(fileIndex) }}
	nameSeed    = maphash.MakeSeed()
)

// reset indexes files, which must have distinct names.
func (x *fileIndex) reset(files []*File) {
	x.files = files
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

// find returns the indexed file with the given name, or nil.
func (x *fileIndex) find(name []byte) *File {
	if len(x.files) == 0 {
		return nil
	}
	mask := len(x.slots) - 1
	for j := int(maphash.Bytes(nameSeed, name)) & mask; x.slots[j] != 0; j = (j + 1) & mask {
		i := int(x.slots[j] - 1)
		if f := x.files[i]; f.Filename() == string(name) {
			return f
		}
	}
	return nil
}

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
			return typeUnknown
		}
		id, err := fileIdentity(f)
		f.Close()
		if err != nil || !id.isRegular() {
			return typeUnknown
		}
		return typeRegular
	}
	id, err := statFresh(abs, false)
	switch {
	case err != nil:
		return typeUnknown
	case id.isDir():
		return typeDir
	case id.isRegular():
		return typeRegular
	}
	return typeUnknown
}

func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
