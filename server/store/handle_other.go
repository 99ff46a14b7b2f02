//go:build !linux || portable

package store

import (
	"errors"
	"io/fs"
	"os"
)

// handle is a file opened for reading. Its *os.File reads, seeks, and
// hands its descriptor to net/http's sendfile where the system has one.
type handle struct {
	*os.File
	name string
}

// openPath opens the file at path for reading, with nothing beneath a root
// to resolve.
func openPath(path string) (*handle, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, err
	}
	return &handle{File: f, name: path}, nil
}

// rootDir opens files beneath a root through os.Root, which refuses any
// resolution, through ".." or a symbolic link, that would leave the root.
// The root is opened for each lookup rather than held, as Linux's twin
// holds it: a root that was replaced (moved away and made again, a symbolic
// link swapped to a new directory) is then never served from its old
// directory, without the inode number that twin compares, which not every
// system has. It costs an open and a close of the root per lookup.
type rootDir struct{ path string }

func newRootDir(path string) *rootDir { return &rootDir{path: path} }

// close does nothing: no directory is held between lookups.
func (d *rootDir) close() {}

// open opens rel beneath the root, refusing any resolution, through ".."
// or a symbolic link, that would leave it.
func (d *rootDir) open(rel string) (*handle, error) {
	name := d.path + "/" + rel
	r, err := os.OpenRoot(d.path)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: cause(err)}
	}
	defer r.Close()
	f, err := r.OpenFile(rel, os.O_RDONLY|openFlags, 0)
	if err != nil {
		if escapes(r, err) {
			err = ErrOutsideRoot
		}
		return nil, &os.PathError{Op: "open", Path: name, Err: cause(err)}
	}
	return &handle{File: f, name: name}, nil
}

// escapes reports whether err is os.Root's refusal of a path that leaves
// it. The os package does not export that error, so it is learnt from a
// path that leaves every root, which os.Root refuses before any system
// call.
func escapes(r *os.Root, err error) bool {
	_, probe := r.Open("/")
	want := cause(probe)
	return want != nil && errors.Is(err, want)
}

// cause is what went wrong, without the path os wrapped it in.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
