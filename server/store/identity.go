package store

import "time"

// identity is what a file or directory looks like to stat: a change of any
// field means its contents may have changed. Each system fills what it has
// (sys_linux.go from statx, sys_other.go from os.FileInfo); a field a
// system cannot give stays zero there, and then tells nothing.
type identity struct {
	dev, ino uint64
	size     int64
	mode     uint32 // the st_mode bits: file type and permissions
	nlink    uint32
	mtime    int64 // ns since the epoch
	ctime    int64 // ns since the epoch
}

// The file type bits of mode, as POSIX's stat spells them (S_IFMT,
// S_IFDIR, S_IFREG), which is also what Linux's statx returns.
const (
	modeType    = 0o170000
	modeDir     = 0o040000
	modeRegular = 0o100000
)

func (id identity) isDir() bool     { return id.mode&modeType == modeDir }
func (id identity) isRegular() bool { return id.mode&modeType == modeRegular }

// settled reports whether the object's last change lies far enough before
// start that any later change must give it a different change time. guard
// covers the file system's timestamp granularity and the clock skew between
// this host and a file server.
func (id identity) settled(start time.Time, guard time.Duration) bool {
	return id.ctime+int64(guard) <= start.UnixNano() && id.mtime+int64(guard) <= start.UnixNano()
}
