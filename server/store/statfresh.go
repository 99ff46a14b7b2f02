package store

// FileStat is what StatFresh reports of a file. Two stats of one path that
// compare equal (==) saw the same file unchanged, as far as the file system
// can tell: a file replaced by rename has another inode even when its size
// and modification time are the same, and a rewrite in place moves the
// change time, which no one can set back.
type FileStat struct {
	Ino  uint64
	Size int64
	// Mtime and Ctime are the modification and change times, in
	// nanoseconds since the epoch.
	Mtime, Ctime int64
}

// StatFresh describes the file at path (following a symbolic link) with
// the attributes the file server holds when it is called: on Linux it asks
// with statx and AT_STATX_FORCE_SYNC, so an NFS client does not answer from
// its attribute cache, as a plain stat may. The portable build has only the
// plain stat, and there a field the system does not give (inode and change
// time on Windows) is zero. A missing file is an error matching
// fs.ErrNotExist.
func StatFresh(path string) (FileStat, error) {
	id, err := statFresh(path, true)
	if err != nil {
		return FileStat{}, err
	}
	return FileStat{Ino: id.ino, Size: id.size, Mtime: id.mtime, Ctime: id.ctime}, nil
}
