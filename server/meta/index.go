package meta

import (
	"errors"
	"io"
	"runtime"
	"sync"

	"pkgindex.dev/pkgindex/server/dist"
)

// extractions bounds how many archive scans and metadata reads run at
// once, whoever asks (pages, PEP 658 requests, uploads): each holds a
// buffer and a decompressor, and a metadata file up to MaxSize.
var extractions = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

func acquire() (release func()) {
	extractions <- struct{}{}
	return func() { <-extractions }
}

// Index remembers where the METADATA lies in wheels already scanned, by
// the identity of the file (an ETag-like string that changes with its
// contents), so a PEP 658 request reads the local header and the member,
// not the central directory. Scans of one identity that overlap are done
// once. It holds at most Size entries of a few dozen bytes.
type Index struct {
	mu      sync.Mutex
	entries map[string]indexed
	ring    []string // keys in insertion order, for eviction
	next    int
	flight  map[string]*scan
}

type indexed struct {
	m   *Member
	err error // a wheel refused once is refused again without a scan
}

type scan struct {
	done chan struct{}
	res  indexed
}

// IndexSize is how many wheels an Index remembers.
const IndexSize = 8192

// NewIndex returns an empty Index.
func NewIndex() *Index {
	return &Index{entries: map[string]indexed{}, ring: make([]string, IndexSize), flight: map[string]*scan{}}
}

// Metadata returns the wheel's METADATA as Wheel does, finding it through
// the index when the file with identity id was scanned before.
func (x *Index) Metadata(r io.ReaderAt, size int64, id string, f dist.File) ([]byte, error) {
	res := x.locate(r, size, id, f)
	if res.err != nil {
		return nil, res.err
	}
	return ReadMember(r, size, f, res.m)
}

func (x *Index) locate(r io.ReaderAt, size int64, id string, f dist.File) indexed {
	x.mu.Lock()
	if e, ok := x.entries[id]; ok {
		x.mu.Unlock()
		return e
	}
	if sc := x.flight[id]; sc != nil {
		x.mu.Unlock()
		<-sc.done
		return sc.res
	}
	sc := &scan{done: make(chan struct{})}
	x.flight[id] = sc
	x.mu.Unlock()

	m, err := WheelMetadata(r, size, f)
	sc.res = indexed{m, err}
	x.mu.Lock()
	delete(x.flight, id)
	if err != nil && !errors.Is(err, ErrLimit) && !errors.Is(err, ErrNoMetadata) && !errors.Is(err, errFormat) {
		// A read error may pass; the next request tries again.
		x.mu.Unlock()
		close(sc.done)
		return sc.res
	}
	if old := x.ring[x.next]; old != "" {
		delete(x.entries, old)
	}
	x.ring[x.next], x.next = id, (x.next+1)%len(x.ring)
	x.entries[id] = sc.res
	x.mu.Unlock()
	close(sc.done)
	return sc.res
}
