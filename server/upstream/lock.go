package upstream

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"pkgindex.dev/pkgindex/server/store"
)

// lock takes the volume's lock on fetching final: a file created
// exclusively beside it, which every replica on the volume sees. While the
// lock is held its modification time is renewed; a replica that finds the
// lock held waits for the file to be published, and takes the lock over
// when it stops changing for lockStale, as a replica killed mid-fetch
// leaves it. Staleness is judged by change seen here, never by comparing
// another host's clock with this one's, from fresh stats of the whole
// identity: an NFS client's attribute cache could show a renewed lock
// unchanged, and a lock released and taken again within one timestamp tick
// has the old modification time but another inode. A live fetch that has not
// published the file within lockWait is left to go on, and this replica
// fetches the file too, without the lock. It reports published when the
// file appeared while waiting.
func (u *Upstream) lock(final string) (unlock func(), published bool, err error) {
	path := filepath.Join(filepath.Dir(final), "."+filepath.Base(final)+".lock")
	return u.lockPath(path, filepath.Base(final), func() bool {
		_, err := store.StatFresh(final)
		return err == nil
	})
}

// lockPath takes the lock at path as lock describes, for what, which the
// log names; published reports whether the work the lock guards was done
// by another replica meanwhile.
func (u *Upstream) lockPath(path, what string, published func() bool) (unlock func(), done bool, err error) {
	var seen store.FileStat
	var seenAt time.Time
	start := time.Now()
	for {
		fh, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			fh.Close()
			return u.holdLock(path), false, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, false, fmt.Errorf("locking an upstream file: %w", err)
		}
		if published() {
			return nil, true, nil
		}
		st, err := store.StatFresh(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // released in between
		case err != nil:
			return nil, false, fmt.Errorf("locking an upstream file: %w", err)
		case st != seen:
			seen, seenAt = st, time.Now()
		case time.Since(seenAt) > lockStale:
			u.opts.Log.Info("taking over the fetch of a replica that stopped", "file", what)
			os.Remove(path)
			continue
		case time.Since(start) > lockWait:
			u.opts.Log.Info("another replica's fetch is slow to publish; fetching beside it", "file", what)
			return func() {}, false, nil
		}
		select {
		case <-u.ctx.Done():
			return nil, false, u.ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}

// holdLock renews the lock until the returned function releases it.
func (u *Upstream) holdLock(path string) func() {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(lockHeartbeat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				os.Chtimes(path, now, now)
			}
		}
	}()
	return func() {
		close(done)
		os.Remove(path)
	}
}
