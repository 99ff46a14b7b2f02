//go:build !linux

package netfs

import (
	"fmt"
	"runtime"
	"time"
)

// Client is one mount of a backing directory. There are none here: the rig
// is made of Linux's FUSE and of the NFS client behaviour it imitates, so
// Mount gives no Client and its methods are never reached.
type Client struct {
	// Dir is the mount point.
	Dir string
}

// Mount reports the rig unavailable: it needs Linux.
func Mount(backing, mountpoint string, opts Options) (*Client, error) {
	return nil, fmt.Errorf("%w on %s: the rig needs Linux", ErrUnavailable, runtime.GOOS)
}

// Cleanup has nothing to detach: nothing is ever mounted here.
func Cleanup(mountpoint string) error { return nil }

// Stats returns no counts.
func (m *Client) Stats() Stats { return Stats{} }

// SetLatency does nothing.
func (m *Client) SetLatency(time.Duration) {}

// Hang does nothing.
func (m *Client) Hang() {}

// Release does nothing.
func (m *Client) Release() {}

// Reset does nothing.
func (m *Client) Reset() {}

// Unmount has nothing to unmount.
func (m *Client) Unmount() error { return nil }
