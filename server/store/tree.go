package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"hash/maphash"
	"io/fs"
	"math"
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
	files   []*File           // distribution files, in listing order
	subdirs []*dir
	status  bool // holds a StatusFile
}

// checkDir revalidates d and everything below it, and reports whether any
// listing changed.
func (s *Store) checkDir(r *root, d *dir, depth int) (bool, error) {
	id, err := statFresh(d.abs, depth == 0)
	if err == nil && !id.isDir() {
		err = &fs.PathError{Op: "check", Path: d.abs, Err: unix.ENOTDIR}
	}
	if err != nil {
		if depth == 0 {
			return false, err
		}
		// A directory that vanished or became something else: its parent
		// has changed too and is re-read in this round; until then it
		// lists nothing.
		changed := d.present && (len(d.files) > 0 || len(d.subdirs) > 0)
		*d = dir{rel: d.rel, abs: d.abs}
		return changed, nil
	}
	if d.present && id == d.id && d.trusted {
		return s.checkSubdirs(r, d, depth, false)
	}
	start := time.Now()
	// A directory whose timestamps moved has most likely changed; one
	// re-read only because its timestamps cannot be trusted yet most
	// likely has not.
	changed, err := s.readDir(r, d, depth, !d.present || id != d.id)
	if err != nil {
		if depth == 0 {
			return false, err
		}
		s.opts.Log.Error(err, "skipping unreadable directory", "dir", d.abs)
		changed = d.present && (len(d.files) > 0 || len(d.subdirs) > 0)
		*d = dir{rel: d.rel, abs: d.abs}
		return changed, nil
	}
	d.present = true
	d.id = id
	d.trusted = id.settled(start, s.opts.Guard)
	return s.checkSubdirs(r, d, depth, changed)
}

// checkSubdirs revalidates d's subdirectories; changed carries what d's own
// check found.
//
// A root in the per-project layout has a subdirectory per project, each
// asked for fresh attributes every round. On a network file system every
// such stat is a round trip to the server, so many subdirectories are
// checked by several goroutines at once: the round then takes about as
// long as the slowest share, not the sum of every trip. Each goroutine
// touches only the subtrees it is given.
func (s *Store) checkSubdirs(r *root, d *dir, depth int, changed bool) (bool, error) {
	if len(d.subdirs) < parallelCheckMin {
		for _, sub := range d.subdirs {
			c, err := s.checkDir(r, sub, depth+1)
			if err != nil {
				return false, err
			}
			changed = changed || c
		}
		return changed, nil
	}
	var (
		next, anyChanged atomic.Int64
		wg               sync.WaitGroup
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
				if c, _ := s.checkDir(r, d.subdirs[i], depth+1); c {
					anyChanged.Store(1)
				}
			}
		}()
	}
	wg.Wait()
	return changed || anyChanged.Load() == 1, nil
}

// Subdirectories are checked in parallel from parallelCheckMin on, by up to
// checkWorkers goroutines per directory.
const (
	parallelCheckMin = 16
	checkWorkers     = 16
)

// readDir re-reads d's listing. What was read last is remembered as a
// SHA-256 of it (every name, inode number and type, in the order the file
// system gives them), not as the entries: a listing that hashes the same is
// the same, so nothing is rebuilt, and the store keeps 32 bytes per
// directory instead of an entry per file.
//
// A directory that is expected to have changed is read once, keeping every
// entry for the rebuild. Otherwise the read keeps only its first
// keptEntries entries, in reused memory, and a larger directory that did
// change after all is read again: a huge directory re-read on every
// request while its timestamps cannot be trusted then takes no room for
// its entries.
func (s *Store) readDir(r *root, d *dir, depth int, expectChange bool) (bool, error) {
	s.Stats.DirReads.Add(1)
	var l *listing
	if expectChange {
		l = new(listing)
		l.reset(0)
	} else {
		l = listings.Get().(*listing)
		defer listings.Put(l)
		l.reset(keptEntries)
	}
	if err := readDir(d.abs, l.add); err != nil {
		return false, err
	}
	sum := l.sum()
	if d.present && sum == d.sum {
		return false, nil
	}
	if l.truncated {
		l = new(listing)
		l.reset(0)
		if err := readDir(d.abs, l.add); err != nil {
			return false, err
		}
		sum = l.sum()
	}
	s.rebuildDir(r, d, l, depth)
	d.sum = sum
	return true, nil
}

// keptEntries is how many entries a first read of a directory keeps (a
// variable so that tests can make a small directory large).
var keptEntries = 4096

// listing is one read of a directory: the running hash of every entry, and
// the entries themselves, up to a limit, their names in one buffer.
type listing struct {
	h         hash.Hash
	num       [10]byte
	names     []byte
	ents      []rawEnt
	limit     int // entries kept at most; 0 for all
	truncated bool
}

var listings = sync.Pool{New: func() any { return new(listing) }}

func (l *listing) reset(limit int) {
	if l.h == nil {
		l.h = sha256.New()
	}
	l.h.Reset()
	l.names, l.ents = l.names[:0], l.ents[:0]
	l.limit, l.truncated = limit, false
}

// rawEnt is one entry of a listing; its name is listing.names[off:off+n].
// It is 16 bytes: a directory of 50,000 files is read into 800 KiB of
// entries.
type rawEnt struct {
	off uint32
	n   uint8 // names are at most NAME_MAX (255) bytes
	typ uint8
	ino uint64
}

func (l *listing) add(name []byte, ino uint64, typ uint8) error {
	// A NUL ends each name (no name holds one), then the fixed-size inode
	// number and type: the hash input spells the listing out unambiguously.
	l.h.Write(name)
	l.num[0] = 0
	binary.LittleEndian.PutUint64(l.num[1:9], ino)
	l.num[9] = typ
	l.h.Write(l.num[:])
	switch {
	case l.limit > 0 && len(l.ents) >= l.limit:
		l.truncated = true
	case len(name) > 255 || len(l.names)+len(name) > math.MaxUint32:
		// Linux names are at most 255 bytes; a longer one could be no
		// distribution file, and is only hashed.
	default:
		l.ents = append(l.ents, rawEnt{off: uint32(len(l.names)), n: uint8(len(name)), ino: ino, typ: typ})
		l.names = append(l.names, name...)
	}
	return nil
}

func (l *listing) name(e rawEnt) []byte { return l.names[e.off : e.off+uint32(e.n)] }

func (l *listing) sum() (out [sha256.Size]byte) {
	l.h.Sum(out[:0])
	return out
}

// rebuildDir turns a fresh listing into files and subdirectories, keeping
// the File values (and so their cached facts) of entries that did not change.
func (s *Store) rebuildDir(r *root, d *dir, l *listing, depth int) {
	// A busy directory is rebuilt on every change to it; its index of the
	// previous files is scratch space, reused rather than made each time.
	oldFiles := fileIndexes.Get().(*fileIndex)
	oldFiles.reset(d.files)
	defer func() { oldFiles.reset(nil); fileIndexes.Put(oldFiles) }()
	oldDirs := make(map[string]*dir, len(d.subdirs))
	for _, sd := range d.subdirs {
		oldDirs[sd.rel[strings.LastIndexByte(sd.rel, '/')+1:]] = sd
	}
	// Sidecars first: a File's marks are fixed when it is made.
	var marks map[string]uint8
	for _, e := range l.ents {
		name := l.name(e)
		for _, suf := range sidecarSuffixes {
			if base, ok := bytes.CutSuffix(name, []byte(suf)); ok && len(base) > 0 {
				if marks == nil {
					marks = map[string]uint8{}
				}
				marks[string(base)] |= markFor(suf)
			}
		}
	}
	d.files = make([]*File, 0, len(l.ents))
	d.subdirs = nil
	d.status = false
	for _, e := range l.ents {
		name := l.name(e)
		if name[0] == '.' {
			if string(name) == StatusFile {
				d.status = true
			}
			continue
		}
		// Strings and paths are made only where they are kept or needed:
		// most entries are files already known from the last read.
		typ := e.typ
		if typ == unix.DT_UNKNOWN || typ == unix.DT_LNK {
			typ = s.entryType(r, d.abs+"/"+string(name), joinRel(d.rel, string(name)), e.typ == unix.DT_LNK)
		}
		switch typ {
		case unix.DT_DIR:
			if depth+1 >= maxDepth {
				s.opts.Log.Info("skipping directory nested too deep", "dir", d.abs+"/"+string(name), "maxDepth", maxDepth)
				continue
			}
			sd := oldDirs[string(name)]
			if sd == nil {
				sd = &dir{rel: joinRel(d.rel, string(name)), abs: d.abs + "/" + string(name)}
			}
			d.subdirs = append(d.subdirs, sd)
		case unix.DT_REG:
			m := marks[string(name)]
			old := oldFiles.find(name)
			if old != nil && old.ino == e.ino && old.marks == m {
				d.files = append(d.files, old)
				continue
			}
			df, err := dist.Parse(string(name))
			if err != nil {
				continue
			}
			f := newFile(r, joinRel(d.rel, df.Filename), df, e.ino, m)
			if old != nil {
				f.facts.Store(old.facts.Load())
			}
			d.files = append(d.files, f)
		}
	}
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
		if f := x.files[x.slots[j]-1]; f.Filename() == string(name) {
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
