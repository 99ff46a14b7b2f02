//go:build stalecache

package store

import (
	"sync"
	"time"
)

// This file is compiled only with the stalecache build tag, into a binary
// the consistency checker's own test runs to prove that the checker catches
// a stale replica. It turns on exactly the cache the design forbids: a
// directory's listing reused for a while without asking the directory
// whether it is still true. Never build a release with this tag.

// staleFor is how long a listing is reused without revalidation.
const staleFor = 500 * time.Millisecond

// staleChecked is when each directory's last check was let through.
var staleChecked sync.Map // *dir -> time.Time

// staleView returns d's last view unchecked while it is younger than
// staleFor, and nil (check) otherwise.
func (s *Store) staleView(d *dir) *dirView {
	v := d.view.Load()
	if last, ok := staleChecked.Load(d); ok && v != nil && time.Since(last.(time.Time)) < staleFor {
		return v
	}
	staleChecked.Store(d, time.Now())
	return nil
}
