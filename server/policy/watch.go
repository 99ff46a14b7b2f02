package policy

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
)

// settleGuard is how long after its last change a file's size and times
// are trusted to show the next change: a rewrite in place within one tick
// of a coarse clock can leave them equal, so until then the file is read on
// every look (unchanged content costs a digest, not a parse).
const settleGuard = 2 * time.Second

// Watcher holds the policy of a file and reads the file again when it
// changes. It is safe for concurrent use.
type Watcher struct {
	path string
	log  logr.Logger
	mu   sync.Mutex // one reader of a changed file at a time
	cur  atomic.Pointer[loaded]
	now  func() time.Time
	// Reloads and ReloadErrors count new policies put in force and
	// changed files refused.
	Reloads, ReloadErrors atomic.Uint64
}

type loaded struct {
	pol     *Policy
	info    os.FileInfo // of the file last read, used or refused
	sum     [sha256.Size]byte
	settled bool
}

// Load reads the policy file at path; an unreadable or invalid file is an
// error here, at start, where it is seen at once.
func Load(path string, log logr.Logger) (*Watcher, error) {
	w := &Watcher{path: path, log: log.WithName("policy"), now: time.Now}
	next, err := w.read(&loaded{})
	if err != nil {
		return nil, err
	}
	w.cur.Store(next)
	return w, nil
}

// Path is the file the policy comes from.
func (w *Watcher) Path() string { return w.path }

// Current returns the policy in force for a decision made now, reading the
// file first if it changed since it was last read.
func (w *Watcher) Current() *Policy {
	cur := w.cur.Load()
	if w.fresh(cur) {
		return cur.pol
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	cur = w.cur.Load()
	if w.fresh(cur) {
		return cur.pol
	}
	next, err := w.read(cur)
	if err != nil {
		w.ReloadErrors.Add(1)
		w.log.Error(err, "policy file not reloaded; the previous policy stays in force", "path", w.path)
	}
	w.cur.Store(next)
	return next.pol
}

func (w *Watcher) fresh(cur *loaded) bool {
	info, err := os.Stat(w.path)
	if err != nil || cur.info == nil {
		// A file gone missing keeps the policy (an error was logged
		// when it was last tried) and costs a stat per decision.
		return err != nil && cur.info == nil
	}
	return cur.settled && os.SameFile(info, cur.info) && info.Size() == cur.info.Size() && info.ModTime().Equal(cur.info.ModTime())
}

// read reads the file and returns the state that follows prev: its policy
// if the content is new and valid, prev's otherwise.
func (w *Watcher) read(prev *loaded) (*loaded, error) {
	next := *prev
	f, err := os.Open(w.path)
	if err != nil {
		next.info = nil
		return &next, fmt.Errorf("--policy: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return &next, fmt.Errorf("--policy: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return &next, fmt.Errorf("--policy: reading %s: %w", w.path, err)
	}
	next.info = info
	next.settled = info.ModTime().Before(w.now().Add(-settleGuard))
	sum := sha256.Sum256(data)
	if prev.pol != nil && sum == prev.sum {
		return &next, nil
	}
	next.sum = sum
	pol, err := Parse(data)
	if err != nil {
		return &next, fmt.Errorf("--policy %s: %w", w.path, err)
	}
	next.pol = pol
	w.Reloads.Add(1)
	w.log.Info("policy loaded", "path", w.path, "grants", len(pol.grants), "publishers", len(pol.publishers))
	return &next, nil
}
