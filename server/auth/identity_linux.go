//go:build linux && !portable

package auth

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// identity is what stat says about a file: any change of content through
// write or rename changes at least one field (a rename or a Secret volume's
// symbolic link swap brings another inode; a write in place moves the change
// time, which nobody can set back).
type identity struct {
	dev, ino uint64
	size     int64
	mtime    int64 // ns since the epoch
	ctime    int64 // ns since the epoch
}

// settled reports whether the file's last change lies far enough before
// start that any later change must give it other times; see settleGuard.
func (id identity) settled(start time.Time) bool {
	limit := start.Add(-settleGuard).UnixNano()
	return id.ctime <= limit && id.mtime <= limit
}

func identityOf(st *unix.Stat_t) identity {
	return identity{
		dev:   uint64(st.Dev),
		ino:   st.Ino,
		size:  st.Size,
		mtime: st.Mtim.Nano(),
		ctime: st.Ctim.Nano(),
	}
}

// statPath returns the identity of the file path leads to, following
// symbolic links, as the file open would.
func statPath(path string) (identity, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return identity{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return identityOf(&st), nil
}

// statFile returns the identity of an open file.
func statFile(f *os.File) (identity, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return identity{}, &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	return identityOf(&st), nil
}
