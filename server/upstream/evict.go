package upstream

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// evict removes the least recently used cached files until the cache is
// at most nine tenths of its limit. Only files under <cache>/files are
// considered, never anything uploaded, which lives outside the cache. A
// file's modification time is its last use (a download renews it), which
// every replica sees alike; two replicas sweeping at once remove no more
// than one would, since both sort the same files the same way. A file
// removed while a client downloads it stays readable through its open
// handle, and its next download fetches it again.
func (u *Upstream) evict() {
	if !u.evictM.TryLock() {
		return
	}
	defer u.evictM.Unlock()
	u.used.Store(0)
	type file struct {
		path string
		size int64
		used time.Time
	}
	var files []file
	var total int64
	root := filepath.Join(u.opts.Dir, "files")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		files = append(files, file{p, info.Size(), info.ModTime()})
		total += info.Size()
		return nil
	})
	limit := u.opts.CacheSize - u.opts.CacheSize/10
	if total <= u.opts.CacheSize {
		return
	}
	slices.SortFunc(files, func(a, b file) int { return a.used.Compare(b.used) })
	for _, f := range files {
		if total <= limit {
			break
		}
		if err := os.Remove(f.path); err == nil {
			total -= f.size
			u.Stats.Evicted.Add(1)
		}
	}
	u.opts.Log.Info("evicted cached upstream files", "bytes", total, "limit", u.opts.CacheSize)
}

// Sweep evicts now when the cache is over its limit; the server calls it
// at start and periodically, since replicas add to one cache.
func (u *Upstream) Sweep() {
	if u.opts.CacheSize > 0 {
		u.evict()
	}
}
