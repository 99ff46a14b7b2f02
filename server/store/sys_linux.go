//go:build linux && !portable

package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The entry types readDir reports are getdents's own.
const (
	typeUnknown = unix.DT_UNKNOWN
	typeDir     = unix.DT_DIR
	typeRegular = unix.DT_REG
	typeLink    = unix.DT_LNK
)

const statxMask = unix.STATX_TYPE | unix.STATX_MODE | unix.STATX_NLINK | unix.STATX_INO |
	unix.STATX_SIZE | unix.STATX_MTIME | unix.STATX_CTIME

// statFresh returns the identity of path, asking a network file system for
// fresh attributes rather than its attribute cache. With follow false a
// symbolic link is described, not its target.
func statFresh(path string, follow bool) (identity, error) {
	flags := unix.AT_STATX_FORCE_SYNC
	if !follow {
		flags |= unix.AT_SYMLINK_NOFOLLOW
	}
	return statx(path, "", flags, statxMask)
}

// statFreshJoin is statFresh(dir+"/"+rel, true) without making that path a
// string.
func statFreshJoin(dir, rel string) (identity, error) {
	return statx(dir, rel, unix.AT_STATX_FORCE_SYNC, statxMask)
}

var pathBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// statx stats dir, or dir+"/"+rel when rel is not empty, building the
// NUL-terminated path the kernel takes in a reused buffer: every check
// stats each directory and every project page each of its files, and the
// path strings were most of what they allocated.
func statx(dir, rel string, flags, mask int) (identity, error) {
	bp := pathBufs.Get().(*[]byte)
	defer pathBufs.Put(bp)
	b := append((*bp)[:0], dir...)
	if rel != "" {
		b = append(b, '/')
		b = append(b, rel...)
	}
	b = append(b, 0)
	*bp = b
	var st unix.Statx_t
	cwd := unix.AT_FDCWD
	for {
		_, _, errno := unix.Syscall6(unix.SYS_STATX, uintptr(cwd), uintptr(unsafe.Pointer(&b[0])),
			uintptr(flags), uintptr(mask), uintptr(unsafe.Pointer(&st)), 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return identity{}, &os.PathError{Op: "statx", Path: string(b[:len(b)-1]), Err: errno}
		}
		return fromStatx(&st), nil
	}
}

func fromStatx(st *unix.Statx_t) identity {
	return identity{
		dev:   unix.Mkdev(st.Dev_major, st.Dev_minor),
		ino:   st.Ino,
		size:  int64(st.Size),
		mode:  uint32(st.Mode),
		nlink: st.Nlink,
		mtime: st.Mtime.Sec*1e9 + int64(st.Mtime.Nsec),
		ctime: st.Ctime.Sec*1e9 + int64(st.Ctime.Nsec),
	}
}

// inodeOf is the inode number of the file fi describes, as os.Stat gives it.
func inodeOf(fi os.FileInfo) uint64 { return fi.Sys().(*syscall.Stat_t).Ino }

// fileIdentity describes an open file.
func fileIdentity(f *handle) (identity, error) {
	var st unix.Statx_t
	if err := unix.Statx(f.fd, "", unix.AT_EMPTY_PATH, statxMask, &st); err != nil {
		return identity{}, &os.PathError{Op: "statx", Path: f.name, Err: err}
	}
	return fromStatx(&st), nil
}

var direntBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// readDir lists a directory, opening it afresh: on NFS the open is what makes
// the client revalidate its cached copy of the listing (close-to-open). Each
// entry is handed to fn with a name that is only valid during the call, so a
// caller that compares against a previous listing allocates nothing for
// names it already knows.
// direntName is the offset of the name in a linux_dirent64.
const direntName = 19

func readDir(path string, fn func(name []byte, ino uint64, typ uint8) error) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	buf := *bp
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "getdents", Path: path, Err: err}
		}
		if n <= 0 {
			return nil
		}
		// Each record is a linux_dirent64: inode number (8 bytes), offset
		// (8), record length (2), type (1), then the NUL-terminated name.
		// The fields are read from the bytes: the last record of a buffer
		// is shorter than the Go struct that would describe it.
		for off := 0; off < n; {
			if off+direntName > n {
				return fmt.Errorf("reading %s: malformed directory entry", path)
			}
			rec := buf[off:n]
			reclen := int(binary.NativeEndian.Uint16(rec[16:18]))
			if reclen <= direntName || reclen > len(rec) {
				return fmt.Errorf("reading %s: malformed directory entry", path)
			}
			ino, typ := binary.NativeEndian.Uint64(rec[0:8]), rec[18]
			name := rec[direntName:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			off += reclen
			if len(name) == 0 || name[0] == '.' && (len(name) == 1 || len(name) == 2 && name[1] == '.') {
				continue
			}
			if err := fn(name, ino, typ); err != nil {
				return err
			}
		}
	}
}

// syncDir flushes a directory, so the names just made or removed in it
// survive a crash. A file system that cannot flush directories (EINVAL)
// is left as it is.
func syncDir(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("flushing %s: %w", dir, err)
	}
	return nil
}

// startWriteback asks the disk to start writing n bytes of f from off,
// without waiting: the flush before an upload is published then has only
// the last few to write. It is only a hint; the flush reports any error.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
