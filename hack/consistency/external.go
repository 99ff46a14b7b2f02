package main

import (
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"pkgindex.dev/pkgindex/server/pkgtest"
)

// An outsider changes the root itself, as another NFS client running `cp`,
// `rm` or `mv`, or a sync job, would: no replica is told, so each must find
// the change on its own at the next request. Every change goes into the
// history with the span of the system call that made it visible, so the
// checker holds the replicas to it as to an upload or a removal.
//
// Each outsider has names of its own (version 2.<id>.<n>, never uploaded,
// removed or yanked through a replica) and knows what each holds, so it can
// tell what a move carries. A name is in one directory at a time: the root
// itself, the project's directory, or, under the layout any, a directory
// named after no project.
type outsider struct {
	id       int
	root     string
	shared   bool // the layout lets files lie in a directory named after no project
	projects []*project
	h        *history
	rng      *rand.Rand
	names    map[string][]*extName // by project
	made     map[string]int        // names made so far, by project
}

// extName is one of an outsider's distribution file names.
type extName struct {
	project string
	file    string
	version string
	sdist   bool
	dir     string // relative to the root, while present
	bytes   []byte // nil while absent
}

// outsiderNames is how many names an outsider makes per project; past it,
// removed names are added again, so pages stay a steady size.
const outsiderNames = 16

// sharedDir is the directory of the root that is named after no project.
const sharedDir = "sync"

// run changes the root at random, a moment apart, until ctx ends. An error
// is a change the file system refused, which ends the run: the history
// would no longer say what the root holds.
func (o *outsider) run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Duration(10+o.rng.IntN(20)) * time.Millisecond):
		}
		p := o.projects[o.rng.IntN(len(o.projects))].name
		if err := o.step(p); err != nil {
			return fmt.Errorf("outsider %d: %w", o.id, err)
		}
	}
}

// step makes one change to a name of project p.
func (o *outsider) step(p string) error {
	var present, absent []*extName
	for _, n := range o.names[p] {
		if n.bytes != nil {
			present = append(present, n)
		} else {
			absent = append(absent, n)
		}
	}
	pick := func(ns []*extName) *extName {
		if len(ns) == 0 {
			return nil
		}
		return ns[o.rng.IntN(len(ns))]
	}
	// A name for new bytes: one never used or one removed (a re-add).
	addable := func(sdist bool) *extName {
		var same []*extName
		for _, n := range absent {
			if n.sdist == sdist {
				same = append(same, n)
			}
		}
		if n := pick(same); n != nil && (o.rng.IntN(2) == 0 || o.made[p] >= outsiderNames) {
			return n
		}
		return o.newName(p, sdist)
	}
	sdist := o.rng.IntN(4) == 0
	switch n := o.rng.IntN(100); {
	case n < 15 && len(present) > 0:
		// A sync job replacing a file with other bytes of the same name.
		f := pick(present)
		return o.copy(f, f.dir)
	case n < 35:
		if f := addable(sdist); f != nil {
			return o.copy(f, o.someDir(p))
		}
	case n < 50:
		if f := addable(sdist); f != nil {
			return o.write(f, o.someDir(p))
		}
	case n < 75:
		if f := pick(present); f != nil {
			return o.remove(f)
		}
	case n < 90:
		if f := pick(present); f != nil {
			if to := addable(f.sdist); to != nil {
				return o.rename(f, to, o.someDir(p))
			}
		}
	default:
		if f := pick(present); f != nil {
			return o.move(f, o.otherDir(p, f.dir))
		}
	}
	return nil
}

// newName makes a name never used, or returns nil when the outsider has
// made enough for the project.
func (o *outsider) newName(p string, sdist bool) *extName {
	if o.made[p] >= outsiderNames {
		return nil
	}
	o.made[p]++
	v := fmt.Sprintf("2.%d.%d", o.id, o.made[p])
	spec := pkgtest.Spec{Name: p, Version: v}
	n := &extName{project: p, version: v, sdist: sdist, file: spec.WheelName()}
	if sdist {
		n.file = spec.SdistName()
	}
	o.names[p] = append(o.names[p], n)
	return n
}

// dirs are the directories, relative to the root, a file of project p may
// lie in: the root, the project's directory, and, where the layout lets
// files of any project lie anywhere, a directory named after none.
func (o *outsider) dirs(p string) []string {
	if o.shared {
		return []string{"", p, sharedDir}
	}
	return []string{"", p}
}

// someDir picks one of p's directories.
func (o *outsider) someDir(p string) string {
	ds := o.dirs(p)
	return ds[o.rng.IntN(len(ds))]
}

// otherDir picks one of p's directories other than cur.
func (o *outsider) otherDir(p, cur string) string {
	ds := slices.DeleteFunc(o.dirs(p), func(d string) bool { return d == cur })
	return ds[o.rng.IntN(len(ds))]
}

// content makes new bytes for n: a valid wheel or sdist whose summary is
// random, so that each add's bytes differ from every other's.
func (o *outsider) content(n *extName) []byte {
	spec := pkgtest.Spec{Name: n.project, Version: n.version, Summary: "outside " + crand.Text()}
	if n.sdist {
		return spec.SdistBytes()
	}
	return spec.WheelBytes()
}

// inDir runs do in the directory dir of the root, creating the directory
// first. A replica may remove a project's directory between the two (its
// last file removed, in the per-project layout); do then fails with
// ENOENT, having changed nothing, and is run again.
func (o *outsider) inDir(dir string, do func(abs string) error) error {
	abs := filepath.Join(o.root, dir)
	var err error
	for range 100 {
		if err = os.MkdirAll(abs, 0o755); err != nil {
			return err
		}
		if err = do(abs); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return fmt.Errorf("%q kept vanishing: %w", dir, err)
}

// copy gives n new bytes in dir the way `cp` to a temporary name and `mv`
// does: the file appears whole, in one rename, whether the name was free or
// held (then it is replaced).
func (o *outsider) copy(n *extName, dir string) error {
	b := o.content(n)
	var start, end time.Time
	err := o.inDir(dir, func(abs string) error {
		tmp, err := os.CreateTemp(abs, ".cp-*")
		if err != nil {
			return err
		}
		if _, err := tmp.Write(b); err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			return err
		}
		if err := tmp.Close(); err != nil {
			os.Remove(tmp.Name())
			return err
		}
		// The temporary file holds the directory: the rename cannot find
		// it gone.
		start = time.Now()
		err = os.Rename(tmp.Name(), filepath.Join(abs, n.file))
		end = time.Now()
		if err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("renaming into place: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("copying %s into %q: %w", n.file, dir, err)
	}
	n.dir, n.bytes = dir, b
	o.record(opCopy, n, start, end, b, nil)
	return nil
}

// write creates n in dir and writes it in place, a few pieces a moment
// apart, as plain `cp` to the final name does: the file is listed, and
// read, while only part of it is there. The checker asks nothing of it
// until the write is done, except that what is seen is some prefix of it.
func (o *outsider) write(n *extName, dir string) error {
	b := o.content(n)
	var start time.Time
	var f *os.File
	err := o.inDir(dir, func(abs string) error {
		start = time.Now()
		var err error
		f, err = os.OpenFile(filepath.Join(abs, n.file), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		return err
	})
	if err != nil {
		return fmt.Errorf("creating %s in %q: %w", n.file, dir, err)
	}
	// Four pieces, a few milliseconds apart: long enough for listings
	// and downloads to meet the file half written.
	for rest, i := b, 0; len(rest) > 0; i++ {
		if i > 0 {
			time.Sleep(time.Duration(3+o.rng.IntN(8)) * time.Millisecond)
		}
		k := min(len(rest), len(b)/4+1)
		if _, err := f.Write(rest[:k]); err != nil {
			f.Close()
			return fmt.Errorf("writing %s in %q: %w", n.file, dir, err)
		}
		rest = rest[k:]
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s in %q: %w", n.file, dir, err)
	}
	end := time.Now()
	n.dir, n.bytes = dir, b
	o.record(opWrite, n, start, end, b, b)
	return nil
}

// remove unlinks n, as `rm` does, and now and then the project's directory
// after it, as a tidy sync job would when it is empty.
func (o *outsider) remove(n *extName) error {
	start := time.Now()
	err := os.Remove(filepath.Join(o.root, n.dir, n.file))
	end := time.Now()
	if err != nil {
		return fmt.Errorf("removing: %w", err)
	}
	o.record(opRm, n, start, end, nil, nil)
	if n.dir == n.project && o.rng.IntN(2) == 0 {
		// Not empty is the usual answer; gone is another writer's doing.
		os.Remove(filepath.Join(o.root, n.dir))
	}
	n.bytes = nil
	return nil
}

// rename moves n's bytes to the name to, in dir, in one rename(2): n goes
// and to appears at once, holding what n held.
func (o *outsider) rename(n, to *extName, dir string) error {
	start, end, err := o.mv(n, dir, to.file)
	if err != nil {
		return err
	}
	o.record(opMvFrom, n, start, end, nil, nil)
	o.record(opMvTo, to, start, end, n.bytes, nil)
	to.dir, to.bytes, n.bytes = dir, n.bytes, nil
	return nil
}

// move moves n to another directory under the same name: its bytes stay,
// its URL changes.
func (o *outsider) move(n *extName, dir string) error {
	start, end, err := o.mv(n, dir, n.file)
	if err != nil {
		return err
	}
	n.dir = dir
	o.record(opMv, n, start, end, n.bytes, nil)
	return nil
}

// mv renames n's file to name in dir and returns the span of the rename
// that did it.
func (o *outsider) mv(n *extName, dir, name string) (start, end time.Time, err error) {
	err = o.inDir(dir, func(abs string) error {
		start = time.Now()
		err := os.Rename(filepath.Join(o.root, n.dir, n.file), filepath.Join(abs, name))
		end = time.Now()
		return err
	})
	if err != nil {
		err = fmt.Errorf("moving %q/%s to %q/%s: %w", n.dir, n.file, dir, name, err)
	}
	return start, end, err
}

// record adds a change to the history; b is what the name holds after it
// (nil for a removal), content the bytes of a file written in place.
func (o *outsider) record(op string, n *extName, start, end time.Time, b, content []byte) {
	e := Event{Op: op, Replica: -1, Project: n.project, Version: n.version, File: n.file,
		Start: start, End: end, Status: 200, Content: content}
	if b != nil {
		sum := sha256.Sum256(b)
		e.SHA256 = hex.EncodeToString(sum[:])
	}
	o.h.add(e)
}
