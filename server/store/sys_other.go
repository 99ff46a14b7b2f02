//go:build !linux || portable

package store

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
)

// The portable twins of sys_linux.go, from the standard library. No stat
// here can ask a network file system for fresh attributes, as statx with
// AT_STATX_FORCE_SYNC does: docs/consistency.md ("The portable build")
// says what that costs.

// The entry types readDir reports; typeOther is every type the store does
// not serve (a FIFO, a socket, a device).
const (
	typeUnknown uint8 = iota
	typeOther
	typeDir
	typeRegular
	typeLink
)

// statFresh returns the identity of path. With follow false a symbolic
// link is described, not its target.
func statFresh(path string, follow bool) (identity, error) {
	stat := os.Lstat
	if follow {
		stat = os.Stat
	}
	fi, err := stat(path)
	if err != nil {
		return identity{}, err
	}
	return identityOf(fi), nil
}

// statFreshJoin is statFresh(dir+"/"+rel, true).
func statFreshJoin(dir, rel string) (identity, error) {
	return statFresh(dir+"/"+rel, true)
}

// identityOf is what fi says of its file: size, modification time and
// type everywhere, and what the system's own stat adds (fromSys).
func identityOf(fi fs.FileInfo) identity {
	id := identity{size: fi.Size(), mtime: fi.ModTime().UnixNano(), mode: uint32(fi.Mode().Perm())}
	switch fi.Mode().Type() {
	case 0:
		id.mode |= modeRegular
	case fs.ModeDir:
		id.mode |= modeDir
	}
	fromSys(fi, &id)
	return id
}

// inodeOf is the inode number of the file fi describes; 0 where the
// system has none.
func inodeOf(fi fs.FileInfo) uint64 { return identityOf(fi).ino }

// fileIdentity describes an open file.
func fileIdentity(h *handle) (identity, error) {
	fi, err := h.Stat()
	if err != nil {
		return identity{}, err
	}
	return identityOf(fi), nil
}

// dirBatch is how many entries readDir asks the system for at once.
const dirBatch = 512

var nameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// readDir lists a directory, opening it afresh: on NFS the open is what
// makes the client revalidate its cached copy of the listing. Each entry
// is handed to fn with a name that is only valid during the call.
//
// os.DirEntry does not carry the inode number the listing read, so each
// entry is stat'ed for it (on Windows, which has none, the listing itself
// answers and ino is 0): a read costs a stat per entry more than Linux's
// twin.
func readDir(path string, fn func(name []byte, ino uint64, typ uint8) error) error {
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	bp := nameBufs.Get().(*[]byte)
	defer nameBufs.Put(bp)
	for {
		ents, err := f.ReadDir(dirBatch)
		for _, e := range ents {
			fi, ierr := e.Info()
			if errors.Is(ierr, fs.ErrNotExist) {
				continue // gone since the listing was read
			}
			var ino uint64
			typ := typeUnknown
			if ierr == nil {
				ino, typ = inodeOf(fi), typeOf(fi.Mode())
			}
			*bp = append((*bp)[:0], e.Name()...)
			if err := fn(*bp, ino, typ); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func typeOf(m fs.FileMode) uint8 {
	switch m.Type() {
	case 0:
		return typeRegular
	case fs.ModeDir:
		return typeDir
	case fs.ModeSymlink:
		return typeLink
	}
	return typeOther
}

// startWriteback does nothing: without Linux's sync_file_range an upload
// is written plainly, and the flush before it is published writes it all.
func startWriteback(*os.File, int64, int64) {}
