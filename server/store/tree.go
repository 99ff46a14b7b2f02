package store

import (
	"errors"
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

// maxDepth bounds how deep nested layouts are walked.
const maxDepth = 32

// dir is the last known state of one directory under a root. Only the
// running check touches it.
type dir struct {
	rel     string // slash-separated path below the root; "" for the root
	abs     string
	present bool
	id      identity
	trusted bool     // id.ctime was settled when the listing was read
	ents    []dirent // the raw listing, in the order the file system gave it
	files   []*File  // distribution files, in listing order
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
	changed, err := s.readDir(r, d, depth)
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

// readDir re-reads d's listing. When the names, inode numbers and types are
// those already known nothing is rebuilt and nothing is allocated.
func (s *Store) readDir(r *root, d *dir, depth int) (bool, error) {
	s.Stats.DirReads.Add(1)
	same := d.present
	i := 0
	var fresh []dirent
	err := readDir(d.abs, func(name []byte, ino uint64, typ uint8) error {
		if same {
			if i < len(d.ents) && d.ents[i].ino == ino && d.ents[i].typ == typ && d.ents[i].name == string(name) {
				i++
				return nil
			}
			same = false
			fresh = make([]dirent, i, len(d.ents)+8)
			copy(fresh, d.ents[:i])
		}
		fresh = append(fresh, dirent{name: string(name), ino: ino, typ: typ})
		return nil
	})
	if err != nil {
		return false, err
	}
	if same && i == len(d.ents) {
		return false, nil
	}
	if same { // a prefix of the old listing: entries were removed at the end
		fresh = d.ents[:i:i]
	}
	s.rebuildDir(r, d, fresh, depth)
	return true, nil
}

// rebuildDir turns a fresh listing into files and subdirectories, keeping
// the File values (and so their cached facts) of entries that did not change.
func (s *Store) rebuildDir(r *root, d *dir, ents []dirent, depth int) {
	// A busy directory is rebuilt on every change to it; its index of the
	// previous files is scratch space, reused rather than made each time.
	op := oldFilesPool.Get().(*map[string]*File)
	defer func() { clear(*op); oldFilesPool.Put(op) }()
	oldFiles := *op
	for _, f := range d.files {
		oldFiles[f.Filename()] = f
	}
	oldDirs := make(map[string]*dir, len(d.subdirs))
	for _, sd := range d.subdirs {
		oldDirs[sd.abs] = sd
	}
	// Sidecars first: a File's marks are fixed when it is made.
	marks := map[string]uint8{}
	for _, e := range ents {
		for _, suf := range []string{YankedSuffix, ProvenanceSuffix, SignatureSuffix} {
			if base, ok := strings.CutSuffix(e.name, suf); ok && base != "" {
				marks[base] |= markFor(suf)
			}
		}
	}
	d.ents = ents
	d.files = nil
	d.subdirs = nil
	d.status = false
	for _, e := range ents {
		if e.name[0] == '.' {
			if e.name == StatusFile {
				d.status = true
			}
			continue
		}
		// Paths are built only where they are kept or needed: most entries
		// are files already known from the last read.
		typ := e.typ
		if typ == unix.DT_UNKNOWN || typ == unix.DT_LNK {
			typ = s.entryType(r, d.abs+"/"+e.name, joinRel(d.rel, e.name), e.typ == unix.DT_LNK)
		}
		switch typ {
		case unix.DT_DIR:
			abs, rel := d.abs+"/"+e.name, joinRel(d.rel, e.name)
			if depth+1 >= maxDepth {
				s.opts.Log.Info("skipping directory nested too deep", "dir", abs, "maxDepth", maxDepth)
				continue
			}
			sd := oldDirs[abs]
			if sd == nil {
				sd = &dir{rel: rel, abs: abs}
			}
			d.subdirs = append(d.subdirs, sd)
		case unix.DT_REG:
			m := marks[e.name]
			if old := oldFiles[e.name]; old != nil && old.ino == e.ino && old.marks == m {
				d.files = append(d.files, old)
				continue
			}
			df, err := dist.Parse(e.name)
			if err != nil {
				continue
			}
			f := newFile(r, joinRel(d.rel, e.name), df, e.ino, m)
			if old := oldFiles[e.name]; old != nil {
				f.facts.Store(old.facts.Load())
			}
			d.files = append(d.files, f)
		}
	}
}

var oldFilesPool = sync.Pool{New: func() any { m := map[string]*File{}; return &m }}

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
