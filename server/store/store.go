package store

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/blake2s"
)

// Hashes returns the digest algorithms the index can put in its links, by
// the names hashlib gives them (and so the Simple API uses), in a map of
// the caller's own.
func Hashes() map[string]func() hash.Hash {
	m := make(map[string]func() hash.Hash, len(hashes))
	for name, h := range hashes {
		m[name] = h
	}
	return m
}

var hashes = map[string]func() hash.Hash{
	"md5":    md5.New,
	"sha1":   sha1.New,
	"sha224": sha256.New224,
	"sha256": sha256.New,
	"sha384": sha512.New384,
	"sha512": sha512.New,
	// hashlib's blake2b and blake2s at their default digest sizes, 64
	// and 32 bytes.
	"blake2b":  func() hash.Hash { h, _ := blake2b.New512(nil); return h },
	"blake2s":  func() hash.Hash { h, _ := blake2s.New256(nil); return h },
	"sha3_224": func() hash.Hash { return sha3.New224() },
	"sha3_256": func() hash.Hash { return sha3.New256() },
	"sha3_384": func() hash.Hash { return sha3.New384() },
	"sha3_512": func() hash.Hash { return sha3.New512() },
}

// Options configure a Store.
type Options struct {
	// Roots are the directories served, in order: where two roots hold the
	// same relative path, the first wins.
	Roots []string
	// HashAlgo names the digest published for each file, a key of Hashes,
	// or "none".
	HashAlgo string
	// Guard is how long after its last change a directory or file must be
	// before its timestamps are trusted to reveal the next change. It covers
	// the file system's timestamp granularity and the clock skew between
	// this host and a file server.
	Guard time.Duration
	// Layout says where a project's files may lie, and so what a request
	// must check.
	Layout Layout
	// Timeout bounds how long a request waits for a directory check or for
	// a file to open (ErrTimeout after it); 0 for no bound. A call into a
	// file system that hangs cannot be taken back: it keeps its goroutine,
	// one per directory or per I/O slot, and the requests go.
	Timeout time.Duration
	// Log receives one line per skipped entry and per rescan.
	Log logr.Logger
}

// DefaultGuard is the default Options.Guard: well above the one-second
// timestamp granularity of the coarsest file servers and the clock skew of
// NTP-synchronized hosts.
const DefaultGuard = 2 * time.Second

// Stats count the store's work, for metrics.
type Stats struct {
	Checks    atomic.Uint64 // rounds checking every directory
	DirChecks atomic.Uint64 // directories asked for fresh attributes
	// DirCheckTime is how long each directory check took, from the moment
	// it had its I/O slot: the file system's answer, and the directory's
	// listing when it changed.
	DirCheckTime Histogram
	DirReads     atomic.Uint64 // directories read (listed) from disk
	Rebuilds     atomic.Uint64 // snapshots rebuilt after a change
	FactsHits    atomic.Uint64 // file facts answered from the cache
	FactsMisses  atomic.Uint64 // file facts not in the cache
	// FactsRecorded counts misses answered from the record an upload left
	// beside its file, with no hashing.
	FactsRecorded atomic.Uint64
	// FactsRecordWrites counts the project records written with facts
	// this replica computed.
	FactsRecordWrites atomic.Uint64
	HashedBytes       atomic.Uint64 // bytes read to compute digests
	SkippedFiles      atomic.Uint64 // files left out of a page (unreadable, vanished)
}

// Store is the index's view of its roots. It is safe for concurrent use.
type Store struct {
	opts  Options
	roots []*root
	// round coalesces the checks of every directory that snapshots need.
	round group[*Snapshot]
	ready group[struct{}]
	// hashing coalesces the reads of one file's facts.
	hashing keyedGroup[*File, *Facts]
	cur     atomic.Pointer[Snapshot]
	gen     atomic.Uint64 // of snapshots and name lists
	// io holds a token for every file system call in flight on behalf of
	// requests: a project page checks its files in parallel, and on a
	// network file system each check is a round trip, but a server with
	// thousands of blocked threads is not faster, only larger.
	io chan struct{}
	// stuck counts the calls into the file system a request gave up on
	// that have not returned yet: while there are any, the file system may
	// hang, and a download's open runs where its request can leave it.
	stuck atomic.Int64
	// workers holds a token for every goroutine parallel runs besides its
	// caller's.
	workers chan struct{}
	// hashSlots holds a token for every file being read whole for its facts.
	hashSlots chan struct{}
	// names and projects are what the per-project layout last assembled,
	// with the views they were assembled from.
	records  records
	names    atomic.Pointer[namesFrom]
	projMu   sync.Mutex
	projects map[string]*projectFrom
	// A stage of an upload holds a token of turn, or of spare, while it
	// works on a chunk. Turns are one fewer than the processors; the spare
	// one is taken only when no read is in progress (reads counts them)
	// nor started within readQuiet, so uploads use every processor when
	// nobody reads, and reads always find one.
	turn, spare chan struct{}
	reads       atomic.Int64
	lastRead    atomic.Int64 // time the last read started, in ns
	// chunks holds a token for every chunk an upload processes beyond its
	// first.
	chunks chan struct{}
	// Stats count the work done; read them at any time.
	Stats Stats
}

type root struct {
	index int
	path  string
	top   *dir
	base  *rootDir // for opening files beneath the root
}

// New validates opts and returns a Store. It does not read the roots; the
// first Snapshot does.
func New(opts Options) (*Store, error) {
	if len(opts.Roots) == 0 {
		return nil, errors.New("no root directory")
	}
	if opts.HashAlgo == "" {
		opts.HashAlgo = "sha256"
	}
	if _, ok := hashes[opts.HashAlgo]; !ok && opts.HashAlgo != "none" {
		return nil, fmt.Errorf("unknown hash algorithm %q", opts.HashAlgo)
	}
	if opts.Guard < 0 {
		return nil, fmt.Errorf("negative timestamp guard %s", opts.Guard)
	}
	s := &Store{opts: opts, chunks: make(chan struct{}, sharedChunks), io: make(chan struct{}, ioSlots),
		hashSlots: make(chan struct{}, hashSlots), workers: make(chan struct{}, ioSlots),
		projects: map[string]*projectFrom{}}
	s.turn = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)-1))
	if runtime.GOMAXPROCS(0) > 1 {
		s.spare = make(chan struct{}, 1)
	}
	for i, p := range opts.Roots {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("root %s: %w", p, err)
		}
		r := &root{index: i, path: abs, base: newRootDir(abs)}
		r.top = &dir{root: r, abs: abs}
		s.roots = append(s.roots, r)
	}
	return s, nil
}

// Close waits for the records of facts being written, and lets go of the
// root directories the store holds open for lookups, so that a file system
// the server stops serving can be unmounted. A store used after Close
// takes them again.
func (s *Store) Close() error {
	s.records.writer.Wait()
	for _, r := range s.roots {
		r.base.close()
	}
	return nil
}

// Roots returns the absolute root directories, in order.
func (s *Store) Roots() []string {
	out := make([]string, len(s.roots))
	for i, r := range s.roots {
		out[i] = r.path
	}
	return out
}

// HashAlgo returns the configured digest algorithm, or "none".
func (s *Store) HashAlgo() string { return s.opts.HashAlgo }

// Ready reports whether every root is a readable directory now, within
// the store's Timeout. Concurrent callers share one check, so a root that
// hangs holds one goroutine however often readiness is asked.
func (s *Store) Ready(ctx context.Context) error {
	_, err := s.ready.doDetached(ctx, s.opts.Timeout, func() (struct{}, error) { return struct{}{}, s.checkRoots() })
	return s.gaveUp("checking the roots", err)
}

// gaveUp turns doDetached's timeout into ErrTimeout; the caller's own
// cancellation passes through.
func (s *Store) gaveUp(what string, err error) error {
	if errors.Is(err, errGaveUp) {
		return s.timeoutError(what)
	}
	return err
}

// timeoutError says that what did not finish within the store's Timeout.
func (s *Store) timeoutError(what string) error {
	return fmt.Errorf("%s: %w after %s", what, ErrTimeout, s.opts.Timeout)
}

// bound gives ctx the store's Timeout.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.opts.Timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.opts.Timeout)
}

// timedOut turns the end of a context that bound set into ErrTimeout; the
// caller's own cancellation passes through.
func (s *Store) timedOut(bounded context.Context, what string, err error) error {
	if err != nil && errors.Is(err, context.DeadlineExceeded) && bounded.Err() != nil {
		return s.timeoutError(what)
	}
	return err
}

// checkRoots reports whether every root is a readable directory now.
func (s *Store) checkRoots() error {
	for _, r := range s.roots {
		fd, err := os.Open(r.path)
		if err != nil {
			return fmt.Errorf("root %s: %w", r.path, err)
		}
		st, err := fd.Stat()
		fd.Close()
		if err != nil {
			return fmt.Errorf("root %s: %w", r.path, err)
		}
		if !st.IsDir() {
			return fmt.Errorf("root %s: not a directory", r.path)
		}
	}
	return nil
}

// Snapshot returns the listing of every root as it is now: the directories
// are checked by a round that starts after this call, so nothing added,
// removed or replaced before the call is missing from the answer. It
// checks every directory; a request about one project asks Project.
func (s *Store) Snapshot(ctx context.Context) (*Snapshot, error) {
	s.readStarted()
	defer s.readDone()
	return s.round.do(ctx, s.revalidate)
}

// revalidate checks every directory, level by level, each level's
// directories in parallel, and makes the snapshot of what it found.
func (s *Store) revalidate() (*Snapshot, error) {
	s.Stats.Checks.Add(1)
	views := map[*dir]*dirView{}
	level := make([]*dir, len(s.roots))
	for i, r := range s.roots {
		level[i] = r.top
	}
	for len(level) > 0 {
		got, err := s.checkAll(context.Background(), level)
		if err != nil {
			return nil, err
		}
		var next []*dir
		for i, d := range level {
			views[d] = got[i]
			next = append(next, got[i].subdirs...)
		}
		level = next
	}
	prev := s.cur.Load()
	snap := s.build(prev, views)
	if snap != prev {
		s.Stats.Rebuilds.Add(1)
		s.cur.Store(snap)
	}
	return snap, nil
}

// checkAll checks dirs in parallel. Only a root's check can fail.
func (s *Store) checkAll(ctx context.Context, dirs []*dir) ([]*dirView, error) {
	out := make([]*dirView, len(dirs))
	errs := make([]error, len(dirs))
	s.parallel(len(dirs), func(i int) {
		out[i], errs[i] = s.checkDir(ctx, dirs[i])
		if errs[i] != nil && dirs[i].depth == 0 {
			errs[i] = fmt.Errorf("checking root %s: %w", dirs[i].abs, errs[i])
		}
	})
	return out, errors.Join(errs...)
}

// Index returns the names of every project as the roots are now.
//
// In the per-project layout that is what the roots' own listings say, so
// it checks the roots and nothing else; otherwise it checks everything.
func (s *Store) Index(ctx context.Context) (*Names, error) {
	s.readStarted()
	defer s.readDone()
	if s.opts.Layout != LayoutPerProject {
		snap, err := s.Snapshot(ctx)
		if err != nil {
			return nil, err
		}
		return snap.names, nil
	}
	roots := make([]*dir, len(s.roots))
	for i, r := range s.roots {
		roots[i] = r.top
	}
	views, err := s.checkAll(ctx, roots)
	if err != nil {
		return nil, err
	}
	if n := s.names.Load(); n != nil && slices.Equal(n.views, views) {
		return n.names, nil
	}
	var names []string
	for _, v := range views {
		for p := range v.projects {
			names = append(names, p)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	n := &namesFrom{views: views, names: &Names{Gen: s.gen.Add(1), Names: names}}
	s.names.Store(n)
	return n.names, nil
}

// namesFrom are names assembled from the views of the roots.
type namesFrom struct {
	views []*dirView
	names *Names
}

// projectFrom is a project assembled from the views of the directories
// that list it, in the order they are read.
type projectFrom struct {
	views   []*dirView
	project *Project
}

// Project returns the project with the given normalized name as the roots
// are now, or nil when no root holds it.
//
// In the per-project layout it checks the roots and the directories named
// after the project, at once where the directory is already known: on a
// network file system that is one round trip deep, whatever the number of
// projects. Otherwise it checks everything.
func (s *Store) Project(ctx context.Context, name string) (*Project, error) {
	s.readStarted()
	defer s.readDone()
	if s.opts.Layout != LayoutPerProject {
		snap, err := s.Snapshot(ctx)
		if err != nil {
			return nil, err
		}
		return snap.Project(name), nil
	}
	var one [1]projectPart
	parts := one[:]
	var err error
	if len(s.roots) == 1 {
		// One root, the common case, needs no goroutines or slices.
		parts[0], err = s.projectPart(ctx, s.roots[0].top, name)
	} else {
		parts = make([]projectPart, len(s.roots))
		errs := make([]error, len(s.roots))
		s.parallel(len(s.roots), func(i int) {
			parts[i], errs[i] = s.projectPart(ctx, s.roots[i].top, name)
		})
		err = errors.Join(errs...)
	}
	if err != nil {
		return nil, err
	}
	s.projMu.Lock()
	defer s.projMu.Unlock()
	if !slices.ContainsFunc(parts, func(pt projectPart) bool { return pt.root != nil }) {
		delete(s.projects, name)
		return nil, nil
	}
	if pf := s.projects[name]; pf != nil && sameViews(pf.views, parts) {
		return pf.project, nil
	}
	var views []*dirView
	for _, pt := range parts {
		if pt.root != nil {
			views = append(views, pt.root)
			views = append(views, pt.dirs...)
		}
	}
	c := s.newCollector(map[string]struct{}{name: {}})
	for _, pt := range parts {
		if pt.root == nil {
			continue
		}
		e := pt.root.projects[name]
		c.addFiles(e.files)
		for j, d := range e.dirs {
			if pt.dirs[j].present {
				c.addDir(d, pt.dirs[j])
			}
		}
		c.endRoot()
	}
	p := c.done()[name]
	if p == nil {
		// The root lists the directory, which vanished since: no project.
		delete(s.projects, name)
		return nil, nil
	}
	s.projects[name] = &projectFrom{views: views, project: p}
	return p, nil
}

// sameViews reports whether views are those of parts, in order: the
// project assembled from them then still stands.
func sameViews(views []*dirView, parts []projectPart) bool {
	i := 0
	for _, pt := range parts {
		if pt.root == nil {
			continue
		}
		if i+1+len(pt.dirs) > len(views) || views[i] != pt.root || !slices.Equal(views[i+1:i+1+len(pt.dirs)], pt.dirs) {
			return false
		}
		i += 1 + len(pt.dirs)
	}
	return i == len(views)
}

// projectPart is what one root holds of a project: the root's view and
// the views of the root's directories that list the project.
type projectPart struct {
	root *dirView
	dirs []*dirView // of root.projects[name].dirs
}

// projectPart checks the root top and the directories in it that list the
// project name.
func (s *Store) projectPart(ctx context.Context, top *dir, name string) (projectPart, error) {
	// The check of the project's directory starts with the root's: both
	// start after the request arrived, so either answer may be used.
	type result struct {
		v   *dirView
		err error
	}
	var early chan result
	guess := top.known(name)
	if guess != nil {
		early = make(chan result, 1)
		go func() {
			v, err := s.checkDir(ctx, guess)
			early <- result{v, err}
		}()
	}
	rv, err := s.checkDir(ctx, top)
	if err != nil {
		return projectPart{}, fmt.Errorf("checking root %s: %w", top.abs, err)
	}
	e := rv.projects[name]
	if e == nil {
		return projectPart{}, nil
	}
	pt := projectPart{root: rv, dirs: make([]*dirView, len(e.dirs))}
	for j, d := range e.dirs {
		if d == guess {
			r := <-early
			pt.dirs[j], err = r.v, r.err
		} else {
			pt.dirs[j], err = s.checkDir(ctx, d)
		}
		if err != nil {
			return projectPart{}, err
		}
	}
	return pt, nil
}

// ioSlots bounds the file system calls in flight at once for requests;
// hashSlots the files read whole at once for their facts.
const (
	ioSlots   = 64
	hashSlots = 32
)

// parallel calls fn(i) for every i below n: on the caller's goroutine,
// and, once the calls have taken spawnAfter without finishing, on as many
// more as the store's worker tokens allow, up to ioSlots in all. On a local
// disk, where a call takes a microsecond, a page's files are done before
// any goroutine would have started; on a network file system, where a
// call is a round trip, the rest go at once. A token is taken only if one
// is free, so the goroutines of every request together stay within
// ioSlots, however many requests come at once: a page of 500 files on an
// idle server takes 64 workers, 32 pages at once share them.
func (s *Store) parallel(n int, fn func(i int)) {
	var next atomic.Int64
	work := func() {
		for {
			i := int(next.Add(1)) - 1
			if i >= n {
				return
			}
			fn(i)
		}
	}
	if n == 1 {
		work()
		return
	}
	var wg sync.WaitGroup
	spawned := make(chan struct{})
	spawn := time.AfterFunc(spawnAfter, func() {
		defer close(spawned)
		for range min(n, ioSlots) - 1 {
			if next.Load() >= int64(n) {
				return
			}
			select {
			case s.workers <- struct{}{}:
			default:
				return
			}
			wg.Add(1)
			go func() {
				defer func() { <-s.workers; wg.Done() }()
				work()
			}()
		}
	})
	work()
	if !spawn.Stop() {
		<-spawned // the helpers it started are counted before the wait
	}
	wg.Wait()
}

// spawnAfter is how long parallel works alone before it asks for help:
// far above a local disk's call, far below a network file system's.
const spawnAfter = 50 * time.Microsecond
