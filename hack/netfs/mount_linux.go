//go:build linux

package netfs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// timeout turns an Options duration into the kernel's: zero is the
// default, negative is none.
func timeout(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return DefaultCacheTimeout
	case d < 0:
		return 0
	}
	return d
}

// Client is one mount of a backing directory: one NFS client.
type Client struct {
	// Dir is the mount point.
	Dir string

	server *fuse.Server
	c      *counters
	once   sync.Once
	err    error
}

// Mount mounts backing at mountpoint (an existing directory) through a
// loopback FUSE file system with opts. It needs /dev/fuse and the right to
// mount: as root the mount(2) call is made directly, otherwise go-fuse runs
// the fusermount helper. The mount is readable by other users when the
// caller is root (allow_other), so a server dropped to another user can use
// it too.
func Mount(backing, mountpoint string, opts Options) (*Client, error) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	backing, err := filepath.Abs(backing)
	if err != nil {
		return nil, err
	}
	mountpoint, err = filepath.Abs(mountpoint)
	if err != nil {
		return nil, err
	}
	root, err := fs.NewLoopbackRoot(backing)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", backing, err)
	}
	attr, entry, negative := timeout(opts.AttrTimeout), timeout(opts.EntryTimeout), max(opts.NegativeTimeout, 0)
	c := &counters{}
	c.latency.Store(int64(opts.Latency))
	raw := &rawFS{
		RawFileSystem: fs.NewNodeFS(root, &fs.Options{
			AttrTimeout:     &attr,
			EntryTimeout:    &entry,
			NegativeTimeout: &negative,
		}),
		c:      c,
		kernel: map[uint64]version{},
		names:  map[uint64]map[string]struct{}{},
	}
	server, err := fuse.NewServer(raw, mountpoint, &fuse.MountOptions{
		FsName: backing,
		Name:   "netfs",
		// go-fuse answers READDIRPLUS with a LOOKUP of every entry, where
		// NFS brings a batch of names and attributes in one call; plain
		// READDIR is the batch.
		DisableReadDirPlus: true,
		// Passthrough would have the kernel read files directly from the
		// backing directory, so READs would never be seen or charged.
		DisabledCapabilities: fuse.CAP_PASSTHROUGH,
		// As root, mount(2) directly: no fusermount binary is needed.
		// Others go through fusermount.
		DirectMountStrict: os.Geteuid() == 0,
		AllowOther:        os.Geteuid() == 0,
		// An NFS client reads with rsize (1 MiB on EFS) per call.
		MaxWrite: 1 << 20,
		Debug:    opts.Debug,
	})
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) || errors.Is(err, exec.ErrNotFound) {
		return nil, fmt.Errorf("%w: mounting %s on %s: %w", ErrUnavailable, backing, mountpoint, err)
	}
	if err != nil {
		return nil, fmt.Errorf("mounting %s on %s: %w", backing, mountpoint, err)
	}
	go server.Serve()
	if err := server.WaitMount(); err != nil {
		// The serve loop ends by itself when the mount did not happen;
		// one that half happened must not stay behind.
		Cleanup(mountpoint)
		return nil, fmt.Errorf("mounting %s on %s: %w", backing, mountpoint, err)
	}
	return &Client{Dir: mountpoint, server: server, c: c}, nil
}

// Stats reads the mount's counters. It may be called at any time.
func (m *Client) Stats() Stats { return m.c.stats() }

// SetLatency changes the round-trip time of every request from now on: a
// file server that slows down, or recovers.
func (m *Client) SetLatency(d time.Duration) { m.c.latency.Store(int64(d)) }

// Hang makes every round trip wait until Release: a file server that stops
// answering, as a hard NFS mount then waits for it.
func (m *Client) Hang() {
	ch := make(chan struct{})
	m.c.held.CompareAndSwap(nil, &ch)
}

// Release answers every request Hang held, and those after it.
func (m *Client) Release() {
	if h := m.c.held.Swap(nil); h != nil {
		close(*h)
	}
}

// Reset zeroes the mount's counters.
func (m *Client) Reset() { m.c.reset() }

// Unmount unmounts and waits for the file system's requests to end. If the
// mount is busy (a process has a file or its working directory in it), it
// is detached lazily instead, so no mount stays visible, and the error says
// so. Calling it again returns the first result.
func (m *Client) Unmount() error {
	m.once.Do(func() {
		if err := m.server.Unmount(); err != nil {
			if derr := Cleanup(m.Dir); derr != nil {
				m.err = fmt.Errorf("unmounting %s: %w; detaching: %w", m.Dir, err, derr)
				return
			}
			m.err = fmt.Errorf("unmounting %s: %w (detached lazily; it goes when its last user does)", m.Dir, err)
			return
		}
		m.server.Wait()
	})
	return m.err
}

// Cleanup detaches whatever is mounted at mountpoint (umount2 with
// MNT_DETACH), such as a FUSE mount whose process died and which now
// answers every access with ENOTCONN. Nothing mounted there is not an
// error.
func Cleanup(mountpoint string) error {
	err := unix.Unmount(mountpoint, unix.MNT_DETACH)
	if err == nil || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT) {
		return nil
	}
	return fmt.Errorf("detaching %s: %w", mountpoint, err)
}
