package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"pkgindex.dev/pkgindex/hack/netfs"
)

// rig gives each replica its own mount of the root through hack/netfs:
// one NFS-like client per replica, with its own attribute and name caches,
// over the one root the outsiders write directly.
type rig struct {
	backing string
	opts    netfs.Options

	mu      sync.Mutex
	clients []*netfs.Client
	gone    []netfs.Stats // counters of mounts replaced by remount
}

// mountRig mounts backing n times, at base/0, base/1, ...; on an error,
// whatever it mounted is unmounted again.
func mountRig(backing, base string, n int, opts netfs.Options) (*rig, error) {
	r := &rig{backing: backing, opts: opts}
	for i := range n {
		dir := filepath.Join(base, strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			r.unmount()
			return nil, err
		}
		c, err := netfs.Mount(backing, dir, opts)
		if err != nil {
			r.unmount()
			return nil, err
		}
		r.clients = append(r.clients, c)
	}
	return r, nil
}

// dir is the mount point replica i serves.
func (r *rig) dir(i int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.clients[i].Dir
}

// remount replaces replica i's mount by a new one at the same place: a
// client with cold caches, as a pod rescheduled onto another node has.
// The replica must be down.
func (r *rig) remount(i int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.clients[i]
	r.gone = append(r.gone, old.Stats())
	if err := old.Unmount(); err != nil {
		return err
	}
	c, err := netfs.Mount(r.backing, old.Dir, r.opts)
	if err != nil {
		return err
	}
	r.clients[i] = c
	return nil
}

// unmount unmounts every mount; the replicas must be down, or their
// mounts are only detached.
func (r *rig) unmount() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, c := range r.clients {
		errs = append(errs, c.Unmount())
	}
	return errors.Join(errs...)
}

// report writes the round trips each mount was asked for, and the total
// by request type.
func (r *rig) report(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	all := slices.Clone(r.gone)
	for i, c := range r.clients {
		s := c.Stats()
		all = append(all, s)
		fmt.Fprintf(w, "mount %d: %d round trips, at most %d in flight\n", i, s.RoundTrips, s.MaxInFlight)
	}
	t := netfs.Sum(all...)
	ops := make([]string, 0, len(t.Ops))
	for op, n := range t.Ops {
		ops = append(ops, fmt.Sprintf("%s %d", op, n))
	}
	sort.Strings(ops)
	fmt.Fprintf(w, "all mounts, remounted ones too: %d round trips (%s)\n", t.RoundTrips, strings.Join(ops, ", "))
}
