// Package netfs mounts a directory through FUSE so that it behaves, for the
// questions pkgindex cares about, like a share on NFS 4.1 or EFS: every
// metadata operation is a request to a file server that costs a round trip,
// and each mount is a separate client with its own attribute and name
// caches that expire by timeout. Several mounts of one directory are several
// clients of one server. Every request is counted by type, so a test or a
// benchmark can say exactly how many round trips an HTTP request cost.
//
// What is modelled and what is not is written down in docs/consistency.md,
// "The NFS-like rig (hack/netfs)". The rig needs Linux: elsewhere Mount
// reports ErrUnavailable, and tools that offer it go on without it.
package netfs

import (
	"errors"
	"time"
)

// DefaultCacheTimeout is the attribute and name cache lifetime of a mount
// whose Options leave them unset: 30 s, the Linux NFS client's acdirmin.
const DefaultCacheTimeout = 30 * time.Second

// Options shape one mount, that is one NFS client.
type Options struct {
	// Latency is waited before answering every request that would be a
	// round trip to an NFS server (see ops.go for the list and why).
	// Requests are served concurrently, so waits overlap as calls on an
	// NFS connection do.
	Latency time.Duration

	// AttrTimeout is how long the kernel trusts attributes it was given
	// (NFS acregmin/acdirmin). Zero means DefaultCacheTimeout; a negative
	// value means not at all (as NFS's noac).
	AttrTimeout time.Duration

	// EntryTimeout is how long the kernel trusts a name it looked up,
	// as an NFS client trusts a cached name while its directory's
	// attributes are fresh. Zero means DefaultCacheTimeout; a negative
	// value means not at all.
	EntryTimeout time.Duration

	// NegativeTimeout is how long a name found missing is remembered.
	// Zero, the default, remembers nothing, which is an NFS mount with
	// lookupcache=positive. FUSE forgets a negative entry only when it
	// expires, whereas NFS also forgets it when the directory changes, so
	// a positive value models lookupcache=all only roughly.
	NegativeTimeout time.Duration

	// Debug logs every FUSE request and answer to standard error.
	Debug bool
}

// Stats are a mount's counters since it was mounted or last reset.
type Stats struct {
	// Ops counts the requests the kernel sent, by FUSE opcode name
	// (GETATTR, LOOKUP, OPENDIR, READDIR, OPEN, READ, ...); names never
	// sent are absent.
	Ops map[string]uint64 `json:"ops"`
	// RoundTrips counts the requests charged as round trips, whether or
	// not Latency is zero.
	RoundTrips uint64 `json:"roundTrips"`
	// Waited is the time slept for them. It exceeds RoundTrips × Latency
	// by the timer's overshoot (about a quarter of a millisecond per sleep
	// on a busy virtual machine), which figures quoted from the rig must
	// take into account.
	Waited time.Duration `json:"waitedNs"`
	// MaxInFlight is the most requests being answered at once.
	MaxInFlight int64 `json:"maxInFlight"`
}

// ErrUnavailable is wrapped by Mount's error when this machine cannot mount
// FUSE at all (no /dev/fuse, no right to mount, no fusermount), as opposed
// to a mount that failed for a reason of its own. Tests skip on it, except
// in CI (SkipIfUnavailable).
var ErrUnavailable = errors.New("FUSE is not available")

// Sum adds up several mounts' counters; its MaxInFlight is the largest of
// any one mount, since their peaks need not have been at the same time.
func Sum(stats ...Stats) Stats {
	t := Stats{Ops: map[string]uint64{}}
	for _, s := range stats {
		for k, v := range s.Ops {
			t.Ops[k] += v
		}
		t.RoundTrips += s.RoundTrips
		t.Waited += s.Waited
		t.MaxInFlight = max(t.MaxInFlight, s.MaxInFlight)
	}
	return t
}
