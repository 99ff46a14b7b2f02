//go:build !linux || portable

package auth

import (
	"os"
	"time"
)

// identity is what os.Stat says about a file on every system: its size and
// modification time. Without the inode and the change time that Linux's
// twin adds, a file replaced by another of the same size and modification
// time (copied with its times kept, or set back with touch) goes unnoticed
// until it changes again; a Secret volume's swap and htpasswd's rewrite both
// leave a new modification time, and within settleGuard of a change every
// request reads the file anyway.
type identity struct {
	size  int64
	mtime int64 // ns since the epoch
}

// settled reports whether the file's last change lies far enough before
// start that any later change must give it another time; see settleGuard.
func (id identity) settled(start time.Time) bool {
	return id.mtime <= start.Add(-settleGuard).UnixNano()
}

func identityOf(fi os.FileInfo) identity {
	return identity{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

// statPath returns the identity of the file path leads to, following
// symbolic links, as the file open would.
func statPath(path string) (identity, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return identity{}, err
	}
	return identityOf(fi), nil
}

// statFile returns the identity of an open file.
func statFile(f *os.File) (identity, error) {
	fi, err := f.Stat()
	if err != nil {
		return identity{}, err
	}
	return identityOf(fi), nil
}
