//go:build unix && (!linux || portable)

package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// openFlags keeps a FIFO that has a file's or a directory's name from
// blocking its open; reads of regular files and directories ignore it.
const openFlags = syscall.O_NONBLOCK

// fromSys adds what the system's stat says beyond os.FileInfo: device,
// inode number, link count and change time.
func fromSys(fi fs.FileInfo, id *identity) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	id.dev, id.ino, id.nlink, id.ctime = uint64(st.Dev), uint64(st.Ino), uint32(st.Nlink), ctimeOf(st)
}

// syncDir flushes a directory, so the names just made or removed in it
// survive a crash. A file system that cannot flush directories (EINVAL)
// is left as it is.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("flushing %s: %w", dir, err)
	}
	return nil
}
