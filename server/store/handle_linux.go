//go:build linux && !portable

package store

import (
	"errors"
	"io"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// handle is a file opened for reading: the descriptor and nothing else. An
// *os.File would cost a few fcntl and epoll calls per open to learn what we
// already know (a regular file, blocking reads), and downloads open one file
// per request. handle still hands its descriptor to net/http's sendfile
// through syscall.Conn.
type handle struct {
	fd   int
	name string
}

// Read reads from the file's current offset.
func (h *handle) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(h.fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, &os.PathError{Op: "read", Path: h.name, Err: err}
		}
		if n == 0 && len(p) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

// ReadAt reads at off without moving the offset.
func (h *handle) ReadAt(p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Pread(h.fd, p[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, &os.PathError{Op: "pread", Path: h.name, Err: err}
		}
		if n == 0 {
			return done, io.EOF
		}
		done += n
	}
	return done, nil
}

// Seek moves the file's offset.
func (h *handle) Seek(off int64, whence int) (int64, error) {
	n, err := unix.Seek(h.fd, off, whence)
	if err != nil {
		return 0, &os.PathError{Op: "seek", Path: h.name, Err: err}
	}
	return n, nil
}

// Close releases the descriptor.
func (h *handle) Close() error {
	if h.fd < 0 {
		return os.ErrClosed
	}
	err := unix.Close(h.fd)
	h.fd = -1
	return err
}

// openPath opens the file at path for reading, with nothing beneath a root
// to resolve.
func openPath(path string) (*handle, error) {
	for {
		// O_NONBLOCK keeps a FIFO at path from blocking the open.
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return &handle{fd: fd, name: path}, nil
	}
}

// SyscallConn exposes the descriptor to net's sendfile.
func (h *handle) SyscallConn() (syscall.RawConn, error) { return rawFD(h.fd), nil }

// rawFD runs callbacks on a blocking descriptor directly: there is no
// poller to wait on for a regular file.
type rawFD int

func (fd rawFD) Control(f func(uintptr)) error { f(uintptr(fd)); return nil }

func (fd rawFD) Read(f func(uintptr) bool) error {
	for !f(uintptr(fd)) {
	}
	return nil
}

func (fd rawFD) Write(f func(uintptr) bool) error {
	for !f(uintptr(fd)) {
	}
	return nil
}

// rootDir keeps a root's directory open (O_PATH: no reading, only a base
// for lookups), so a download resolves its path beneath it with one stat
// of the root and one openat2, instead of opening and closing the root each
// time. The stat is what keeps it honest: a root that was replaced (moved
// away and made again, a symbolic link swapped to a new directory, a stale
// NFS handle) is opened afresh before the lookup, so a download never comes
// from a directory that is no longer at the root's path.
type rootDir struct {
	path string
	mu   sync.RWMutex
	fd   int // -1 until first use
	id   identity
}

func newRootDir(path string) *rootDir { return &rootDir{path: path, fd: -1} }

// close lets go of the root's directory; the next open takes it again.
func (d *rootDir) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fd >= 0 {
		unix.Close(d.fd)
		d.fd = -1
	}
}

// open opens rel beneath the root, refusing any resolution, through ".."
// or a symbolic link, that would leave it.
func (d *rootDir) open(rel string) (*handle, error) {
	fd, err := d.openat(rel)
	if errors.Is(err, unix.ESTALE) {
		d.refresh(true)
		fd, err = d.openat(rel)
	}
	if err != nil {
		if errors.Is(err, unix.EXDEV) {
			err = ErrOutsideRoot
		}
		return nil, &os.PathError{Op: "open", Path: d.path + "/" + rel, Err: err}
	}
	return &handle{fd: fd, name: d.path + "/" + rel}, nil
}

func (d *rootDir) openat(rel string) (int, error) {
	id, err := statx(d.path, "", 0, unix.STATX_INO)
	if err != nil {
		return -1, errors.Unwrap(err)
	}
	d.mu.RLock()
	if d.fd < 0 || d.id.ino != id.ino || d.id.dev != id.dev {
		d.mu.RUnlock()
		if err := d.refresh(false); err != nil {
			return -1, err
		}
		d.mu.RLock()
	}
	defer d.mu.RUnlock()
	// O_NONBLOCK keeps a FIFO with a distribution file's name from
	// blocking the open; reads of regular files ignore it.
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		nfd, err := unix.Openat2(d.fd, rel, &how)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		return nfd, err
	}
}

// refresh opens the root by its path and holds it, unless the directory
// already held is that one and force (a stale handle) is not set.
func (d *rootDir) refresh(force bool) error {
	fd, err := unix.Open(d.path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	var st unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_INO, &st); err != nil {
		unix.Close(fd)
		return err
	}
	id := fromStatx(&st)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fd >= 0 && d.id.dev == id.dev && d.id.ino == id.ino && !force {
		unix.Close(fd)
		return nil
	}
	if d.fd >= 0 {
		unix.Close(d.fd)
	}
	d.fd, d.id = fd, id
	return nil
}
