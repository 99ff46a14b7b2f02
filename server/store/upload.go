package store

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/blake2b"
	"pkgindex.dev/pkgindex/server/dist"
)

// Upload is a distribution file being received into the first root. Bytes
// go to a hidden temporary file in the store's directory while their
// digests are computed; Publish then makes the file appear under its name
// at once, or not at all.
type Upload struct {
	s       *Store
	project string
	dir     string // absolute directory that will hold the file
	tmp     *os.File
	size    int64
	sums    []digest // computed as the bytes arrive, the store's first
	meta    []byte   // core metadata found by the caller's checks
	done    bool

	// Received bytes flow through a pipeline: each digest, and the file,
	// is a stage with its own goroutine, fed chunks in order. A chunk is
	// given back once every stage is done with it; with a few in flight,
	// the caller receives the next while earlier ones are hashed and
	// written, and no stage waits for the slowest before starting on the
	// next.
	stages   []chan *chunk
	finished chan struct{} // one token for each chunk every stage is done with
	inFlight int
	wg       sync.WaitGroup
	mu       sync.Mutex
	err      error // the first failure to store a chunk
	closed   bool
}

// chunk is a piece of an upload on its way through the stages.
type chunk struct {
	b      []byte
	left   atomic.Int32 // stages still to process it
	shared bool         // holds one of the store's chunk tokens
}

type digest struct {
	algo string
	h    hash.Hash
}

// UploadDigests returns the digests an upload can compute, by the names
// the upload form gives them (its fields are "<name>_digest"), besides the
// store's own algorithm, in a slice of the caller's own.
func UploadDigests() []string { return append([]string(nil), uploadDigests...) }

var uploadDigests = []string{"md5", "sha256", "blake2_256"}

// NewDigest returns a new hash for one of UploadDigests or Hashes; nil for
// any other name.
func NewDigest(algo string) hash.Hash {
	if algo == "blake2_256" {
		h, _ := blake2b.New256(nil)
		return h
	}
	if f := hashes[algo]; f != nil {
		return f()
	}
	return nil
}

// Begin starts an upload for the project (any spelling; its normalized
// name is the directory) into the first root. The digests named (see
// UploadDigests) are computed while the bytes arrive, with SHA-256 and the
// store's own algorithm, which the log and the read path need; any other
// is computed when asked for, from the received file. A client names the
// digests it will send before the file, so asking only for those spares
// an upload the cost of the others.
func (s *Store) Begin(project string, digests ...string) (*Upload, error) {
	if !dist.ValidProject(project) {
		return nil, fmt.Errorf("project name %q: %w", project, ErrBadPath)
	}
	name := dist.Normalize(project)
	dir := filepath.Join(s.roots[0].path, name)
	tmp, err := s.createTemp()
	if err != nil {
		return nil, err
	}
	u := &Upload{s: s, project: name, dir: dir, tmp: tmp, finished: make(chan struct{}, chunksInFlight)}
	for _, algo := range append([]string{s.opts.HashAlgo, "sha256"}, digests...) {
		if h := NewDigest(algo); h != nil && !u.has(algo) {
			u.sums = append(u.sums, digest{algo, h})
		}
	}
	for _, d := range u.sums {
		u.stage(func(b []byte) error { d.h.Write(b); return nil })
	}
	var written, flushed int64
	u.stage(func(b []byte) error {
		if _, err := u.tmp.Write(b); err != nil {
			return fmt.Errorf("writing upload: %w", err)
		}
		// The file is flushed before it is published. Starting the disk
		// writes as the bytes arrive leaves that flush only the last few.
		if written += int64(len(b)); written-flushed >= writebackEvery {
			startWriteback(u.tmp, flushed, written-flushed)
			flushed = written
		}
		return nil
	})
	return u, nil
}

// writebackEvery is how many bytes of an upload are written before the
// disk is asked to start writing them.
const writebackEvery = 4 << 20

// Every upload may have one chunk in its pipeline, and up to
// chunksInFlight while the store has room: sharedChunks more in all, for
// all uploads. Chunks are taken only for the time they are processed, so
// a client that stalls holds none.
const (
	chunksInFlight = 16
	sharedChunks   = 64 // 4 MiB
)

// nextChunk returns a chunk to fill once the pipeline has room for it.
func (u *Upload) nextChunk() *chunk {
	for {
		for u.inFlight > 0 && len(u.finished) > 0 {
			<-u.finished
			u.inFlight--
		}
		if u.inFlight == 0 {
			break
		}
		if u.inFlight < chunksInFlight {
			select {
			case u.s.chunks <- struct{}{}:
				c := chunkPool.Get().(*chunk)
				c.shared = true
				u.inFlight++
				return c
			default:
			}
		}
		<-u.finished
		u.inFlight--
	}
	c := chunkPool.Get().(*chunk)
	c.shared = false
	u.inFlight++
	return c
}

// release gives back a chunk every stage has processed.
func (u *Upload) release(c *chunk) {
	if c.shared {
		<-u.s.chunks
	}
	chunkPool.Put(c)
	u.finished <- struct{}{}
}

// stage starts a goroutine that applies work to every chunk in turn. It
// holds one of the store's turns while it works: uploads are CPU work, and
// ten of them at once would fill the run queue ahead of every page read.
// Turns leave reads a processor and a wait of one chunk's work at most.
func (u *Upload) stage(work func([]byte) error) {
	in := make(chan *chunk, chunksInFlight)
	u.stages = append(u.stages, in)
	u.wg.Go(func() {
		for c := range in {
			if u.failed() == nil {
				turn := u.s.takeTurn()
				err := work(c.b)
				<-turn
				if err != nil {
					u.fail(err)
				}
			}
			if c.left.Add(-1) == 0 {
				u.release(c)
			}
		}
	})
}

func (u *Upload) fail(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err == nil {
		u.err = err
	}
}

func (u *Upload) failed() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

func (u *Upload) has(algo string) bool {
	return slices.ContainsFunc(u.sums, func(d digest) bool { return d.algo == algo })
}

// Write appends p to the file being received. It returns once p is copied
// into the pipeline; a failure to store an earlier chunk is returned by a
// later call, or by Close.
func (u *Upload) Write(p []byte) (int, error) {
	n, err := u.ReadFrom(bytes.NewReader(p))
	return int(n), err
}

// ReadFrom reads r to its end into the upload, straight into the chunks of
// the pipeline. A failure to read r is returned as a *ReadError; a failure
// to store what was read, as is.
func (u *Upload) ReadFrom(r io.Reader) (int64, error) {
	if u.closed {
		return 0, errors.New("upload already closed")
	}
	var total int64
	for {
		if err := u.failed(); err != nil {
			return total, err
		}
		c := u.nextChunk()
		// Unlike io.ReadFull, this passes r's own error on: a body cut
		// short must stay distinct from a part that ended.
		b := c.b[:UploadChunk]
		n := 0
		var err error
		for n < len(b) && err == nil {
			var m int
			m, err = r.Read(b[n:])
			n += m
		}
		if n == 0 {
			u.release(c)
		} else {
			c.b = b[:n]
			u.dispatch(c)
			total += int64(n)
		}
		switch {
		case err == io.EOF:
			return total, nil
		case err != nil:
			return total, &ReadError{err}
		}
	}
}

// ReadError is a failure to read what an upload reads from.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// dispatch hands a filled chunk to every stage. The chunk belongs to the
// stages from then on: the last one gives it back, maybe to another upload.
func (u *Upload) dispatch(c *chunk) {
	u.size += int64(len(c.b))
	c.left.Store(int32(len(u.stages)))
	for _, in := range u.stages {
		in <- c
	}
}

// UploadChunk is the size of the pieces an upload is processed in.
const UploadChunk = 64 << 10

// Close waits until every byte written is stored and hashed, and reports
// any failure. The upload can then be checked and published.
func (u *Upload) Close() error {
	if !u.closed {
		u.closed = true
		for _, in := range u.stages {
			close(in)
		}
		u.wg.Wait()
		u.inFlight = 0
	}
	return u.failed()
}

var chunkPool = sync.Pool{New: func() any { return &chunk{b: make([]byte, 0, UploadChunk)} }}

// SetMetadata gives the core metadata read from the file (a wheel's
// METADATA, an sdist's PKG-INFO), recorded with the published file.
func (u *Upload) SetMetadata(md []byte) { u.meta = md }

// Size is the number of bytes received so far.
func (u *Upload) Size() int64 { return u.size }

// Digest returns the hex digest of what was received in the named
// algorithm (one of UploadDigests or Hashes). One not computed while the
// bytes arrived is computed now, from the file.
func (u *Upload) Digest(algo string) (string, error) {
	if err := u.Close(); err != nil {
		return "", err
	}
	for _, d := range u.sums {
		if d.algo == algo {
			return hex.EncodeToString(d.h.Sum(nil)), nil
		}
	}
	h := NewDigest(algo)
	if h == nil {
		return "", fmt.Errorf("unknown digest %q", algo)
	}
	bp := copyBufs.Get().(*[]byte)
	_, err := io.CopyBuffer(h, io.NewSectionReader(u.tmp, 0, u.size), *bp)
	copyBufs.Put(bp)
	if err != nil {
		return "", fmt.Errorf("hashing upload: %w", err)
	}
	u.sums = append(u.sums, digest{algo, h})
	return hex.EncodeToString(h.Sum(nil)), nil
}

// digests are every digest computed, by algorithm, for the record.
func (u *Upload) digests() map[string]string {
	m := make(map[string]string, len(u.sums))
	for _, d := range u.sums {
		m[d.algo] = hex.EncodeToString(d.h.Sum(nil))
	}
	return m
}

// File returns the received bytes for checking before they are published,
// once Close has returned.
func (u *Upload) File() io.ReaderAt { return u.tmp }

// Abort discards the upload. It is safe to call after Publish.
func (u *Upload) Abort() {
	if u.done {
		return
	}
	u.Close()
	u.done = true
	u.tmp.Close()
	os.Remove(u.tmp.Name())
}
