package upstream

import (
	"encoding/json"
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
// file's modification time is its last use (openCached renews it), which
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

// Sweep evicts now when the cache is over its limit, and drops the records
// of names no upstream had that nobody asked for since notFoundKept; the
// server calls it at start and periodically, since replicas add to one
// cache.
func (u *Upstream) Sweep() {
	if u.opts.CacheSize > 0 {
		u.evict()
	}
	u.dropNotFound(time.Now().Add(-notFoundKept))
}

// notFoundKept is how long the record of a name no upstream had stays on
// the volume after it was last refreshed: a name asked again within
// NotFoundTTL is answered from it, and one asked now and then keeps it
// fresh, but every name a client ever tried, typos and scans included,
// must not stay there for good.
const notFoundKept = time.Hour

// maxNotFoundSize is more than the record of a name no upstream had takes
// (its name and a time): larger records are pages, which Sweep never
// reads.
const maxNotFoundSize = 512

// dropNotFound removes the not-found records last written before cutoff.
// A record another replica replaces meanwhile may go too, which costs the
// next request for it one fetch, never a wrong answer.
func (u *Upstream) dropNotFound(cutoff time.Time) {
	dir := filepath.Join(u.opts.Dir, "pages")
	ents, err := os.ReadDir(dir)
	if err != nil {
		u.opts.Log.Error(err, "sweeping the upstream cache's not-found records")
		return
	}
	dropped := 0
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || info.Size() > maxNotFoundSize || !info.ModTime().Before(cutoff) {
			continue
		}
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		var rec record
		if err != nil || json.Unmarshal(b, &rec) != nil || rec.Found || !rec.Fetched.Before(cutoff) {
			continue
		}
		if os.Remove(p) == nil {
			dropped++
		}
	}
	if dropped > 0 {
		u.opts.Log.V(1).Info("dropped upstream not-found records", "count", dropped)
	}
}
