package store

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
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
	// Log receives one line per skipped entry and per rescan.
	Log logr.Logger
}

// DefaultGuard is the default Options.Guard: well above the one-second
// timestamp granularity of the coarsest file servers and the clock skew of
// NTP-synchronized hosts.
const DefaultGuard = 2 * time.Second

// Stats count the store's work, for metrics.
type Stats struct {
	Checks      atomic.Uint64 // revalidation rounds
	DirReads    atomic.Uint64 // directories read (listed) from disk
	Rebuilds    atomic.Uint64 // snapshots rebuilt after a change
	FactsHits   atomic.Uint64 // file facts answered from the cache
	FactsMisses atomic.Uint64 // file facts not in the cache
	// FactsRecorded counts misses answered from the record an upload left
	// beside its file, with no hashing.
	FactsRecorded atomic.Uint64
	HashedBytes   atomic.Uint64 // bytes read to compute digests
	SkippedFiles  atomic.Uint64 // files left out of a page (unreadable, vanished)
}

// Store is the index's view of its roots. It is safe for concurrent use.
type Store struct {
	opts  Options
	roots []*root
	check group[*Snapshot]
	// hashing coalesces the reads of one file's facts.
	hashing keyedGroup[*File, *Facts]
	cur     atomic.Pointer[Snapshot]
	gen     uint64 // only touched by the running check
	changes changes
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
	s := &Store{opts: opts, chunks: make(chan struct{}, sharedChunks)}
	s.turn = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)-1))
	if runtime.GOMAXPROCS(0) > 1 {
		s.spare = make(chan struct{}, 1)
	}
	for i, p := range opts.Roots {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("root %s: %w", p, err)
		}
		s.roots = append(s.roots, &root{index: i, path: abs, top: &dir{abs: abs}, base: newRootDir(abs)})
	}
	return s, nil
}

// ReadStarted marks a read in progress until ReadDone: uploads then leave
// a processor to reads.
func (s *Store) ReadStarted() {
	s.reads.Add(1)
	s.lastRead.Store(time.Now().UnixNano())
}

// readQuiet is how long after a read starts uploads still leave reads a
// processor: a busy client's next request follows its last within it, and
// the time a request waits before its handler starts is not counted.
const readQuiet = 100 * time.Millisecond

// ReadDone ends what ReadStarted began.
func (s *Store) ReadDone() { s.reads.Add(-1) }

// takeTurn waits for a turn to process a chunk of an upload and returns
// the channel to give it back to.
func (s *Store) takeTurn() chan struct{} {
	if s.spare != nil && s.reads.Load() == 0 && time.Now().UnixNano()-s.lastRead.Load() > int64(readQuiet) {
		select {
		case s.turn <- struct{}{}:
			return s.turn
		case s.spare <- struct{}{}:
			return s.spare
		}
	}
	s.turn <- struct{}{}
	return s.turn
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

// CheckRoots reports whether every root is a readable directory now.
func (s *Store) CheckRoots() error {
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
// removed or replaced before the call is missing from the answer.
func (s *Store) Snapshot(ctx context.Context) (*Snapshot, error) {
	if snap := s.staleReuse(); snap != nil {
		return snap, nil
	}
	return s.check.do(ctx, s.revalidate)
}

func (s *Store) revalidate() (*Snapshot, error) {
	s.Stats.Checks.Add(1)
	for _, r := range s.roots {
		if err := s.checkDir(r, r.top, 0); err != nil {
			return nil, fmt.Errorf("checking root %s: %w", r.path, err)
		}
	}
	cur := s.cur.Load()
	touched := s.changes.take()
	if cur != nil && len(touched) == 0 {
		return cur, nil
	}
	s.gen++
	snap := s.build(s.gen, cur, touched)
	s.Stats.Rebuilds.Add(1)
	s.cur.Store(snap)
	return snap, nil
}
