//go:build stalecache

package store

import (
	"sync/atomic"
	"time"
)

// This file is compiled only with the stalecache build tag, into a binary
// the consistency checker's own test runs to prove that the checker catches
// a stale replica. It turns on exactly the cache the design forbids: a
// listing reused for a while without asking the directories whether it is
// still true. Never build a release with this tag.

// staleFor is how long a listing is reused without revalidation.
const staleFor = 500 * time.Millisecond

// staleChecked is when the last revalidation was let through, in Unix ns.
var staleChecked atomic.Int64

// staleReuse returns the current snapshot unchecked while it is younger
// than staleFor, and nil (revalidate) otherwise.
func (s *Store) staleReuse() *Snapshot {
	now := time.Now().UnixNano()
	last := staleChecked.Load()
	if cur := s.cur.Load(); cur != nil && now-last < int64(staleFor) {
		return cur
	}
	staleChecked.Store(now)
	return nil
}
