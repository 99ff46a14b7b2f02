package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"pkgindex.dev/pkgindex/server/dist"
)

// CleanRel checks a path requested below /packages/: slash-separated
// segments, none empty, hidden, "." or "..", no NUL or backslash.
func CleanRel(rel string) error {
	if rel == "" || len(rel) > 4096 {
		return ErrBadPath
	}
	for seg := range strings.SplitSeq(rel, "/") {
		if seg == "" || seg[0] == '.' || len(seg) > 255 || strings.ContainsAny(seg, "\x00\\") {
			return ErrBadPath
		}
	}
	return nil
}

// Opened is a file opened for download. It reads, seeks (its end is known
// without asking the kernel), and hands its descriptor to sendfile.
type Opened struct {
	h       *handle
	Size    int64
	ModTime time.Time
	// ETag identifies this version of the file's contents across replicas
	// that share the file system.
	ETag string
	off  int64 // where the next Read starts
	kern int64 // the descriptor's offset in the kernel; -1 if unknown
	body io.LimitedReader
}

// Body reads the file from the current offset to the size it had when it
// was opened. Its length tells sendfile when to stop, sparing the call
// that would find the end.
func (o *Opened) Body() io.Reader {
	o.body = io.LimitedReader{R: o, N: o.Size - o.off}
	return &o.body
}

// Name returns the file's path.
func (o *Opened) Name() string { return o.h.name }

// Close closes the file.
func (o *Opened) Close() error { return o.h.Close() }

// ReadAt reads at off.
func (o *Opened) ReadAt(p []byte, off int64) (int, error) { return o.h.ReadAt(p, off) }

// Read reads from the current offset.
func (o *Opened) Read(p []byte) (int, error) {
	if err := o.sync(); err != nil {
		return 0, err
	}
	n, err := o.h.Read(p)
	o.off += int64(n)
	o.kern = o.off
	return n, err
}

// Seek sets the offset for the next Read; the kernel is told only when a
// read needs it, so the size probe of http.ServeContent costs no call.
func (o *Opened) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += o.off
	case io.SeekEnd:
		off += o.Size
	}
	if off < 0 {
		return 0, fmt.Errorf("seeking %s: negative offset", o.h.name)
	}
	o.off = off
	return off, nil
}

// SyscallConn lets sendfile read the descriptor from the current offset.
func (o *Opened) SyscallConn() (syscall.RawConn, error) {
	if err := o.sync(); err != nil {
		return nil, err
	}
	o.kern = -1 // sendfile moves it
	return o.h.SyscallConn()
}

func (o *Opened) sync() error {
	if o.kern == o.off {
		return nil
	}
	if _, err := o.h.Seek(o.off, io.SeekStart); err != nil {
		return err
	}
	o.kern = o.off
	return nil
}

// OpenContext is Open for a request: it gives up with ErrTimeout when the
// file system does not answer within the store's Timeout, or when ctx
// ends. Each open holds one of the store's I/O slots. While no call is
// known to hang it opens on the caller's goroutine, as fast as Open; once a
// request has given up on a call that has not returned, opens run on a
// goroutine of their own that the request can leave, so a file system that
// hangs holds at most as many goroutines as there are slots.
func (s *Store) OpenContext(ctx context.Context, rel string) (*Opened, error) {
	s.readStarted()
	defer s.readDone()
	select {
	case s.io <- struct{}{}:
	default:
		bounded, cancel := s.bound(ctx)
		defer cancel()
		select {
		case s.io <- struct{}{}:
		case <-bounded.Done():
			return nil, s.timedOut(bounded, "opening "+rel, bounded.Err())
		}
	}
	if s.stuck.Load() == 0 {
		defer func() { <-s.io }()
		return s.Open(rel)
	}
	bounded, cancel := s.bound(ctx)
	defer cancel()
	type result struct {
		f   *Opened
		err error
	}
	done := make(chan result, 1)
	var state atomic.Int32 // 0 running, 1 returned, 2 given up
	go func() {
		defer func() { <-s.io }()
		f, err := s.Open(rel)
		if !state.CompareAndSwap(0, 1) {
			s.stuck.Add(-1) // the request that gave up on it is gone
			if f != nil {
				f.Close()
			}
			return
		}
		done <- result{f, err}
	}()
	select {
	case r := <-done:
		return r.f, r.err
	case <-bounded.Done():
		if !state.CompareAndSwap(0, 2) {
			r := <-done // it returned as the time ran out
			return r.f, r.err
		}
		s.stuck.Add(1)
		return nil, s.timedOut(bounded, "opening "+rel, bounded.Err())
	}
}

// Open opens a distribution file, or a sidecar of one, by its path below a
// root, in the first root that holds it. It reads the directory as it is
// now, not a listing, so a file uploaded through another replica a moment
// ago is found. Paths that are not distribution files, hidden, or lead out
// of a root are refused.
func (s *Store) Open(rel string) (*Opened, error) {
	if err := CleanRel(rel); err != nil {
		return nil, err
	}
	base := rel[strings.LastIndexByte(rel, '/')+1:]
	if _, err := dist.Parse(base); err != nil {
		stem, ok := "", false
		for _, suf := range []string{ProvenanceSuffix, SignatureSuffix} {
			if stem, ok = strings.CutSuffix(base, suf); ok {
				break
			}
		}
		if !ok {
			return nil, ErrNotFound
		}
		if _, err := dist.Parse(stem); err != nil {
			return nil, ErrNotFound
		}
	}
	for _, r := range s.roots {
		fh, err := r.base.open(rel)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		o, id, err := opened(fh)
		if err != nil {
			return nil, err
		}
		if o == nil {
			if id.isDir() {
				continue
			}
			return nil, ErrNotFound
		}
		return o, nil
	}
	return nil, ErrNotFound
}

// opened makes a download of fh when it is a regular file; else (nil and
// what it is) it closes fh.
func opened(fh *handle) (*Opened, identity, error) {
	id, err := fileIdentity(fh)
	if err != nil {
		fh.Close()
		return nil, id, err
	}
	if !id.isRegular() {
		fh.Close()
		return nil, id, nil
	}
	return &Opened{h: fh, Size: id.size, ModTime: time.Unix(0, id.mtime), ETag: etag(id)}, id, nil
}

// OpenFile opens a regular file by its own path, outside the roots (the
// upstream cache's files), for download as Open opens a root's: without the
// calls an *os.File makes on every open, and with its size known, so that
// http.ServeContent asks the kernel only for the bytes. Anything but a
// regular file is ErrNotFound.
func OpenFile(path string) (*Opened, error) {
	fh, err := openPath(path)
	if err != nil {
		return nil, err
	}
	o, _, err := opened(fh)
	if err == nil && o == nil {
		err = ErrNotFound
	}
	return o, err
}

// etag is built from what changes with the contents and is the same on
// every client of a shared file system: inode, size and times.
func etag(id identity) string {
	b := make([]byte, 0, 64)
	b = append(b, '"')
	b = strconv.AppendUint(b, id.ino, 36)
	b = append(b, '-')
	b = strconv.AppendInt(b, id.size, 36)
	b = append(b, '-')
	b = strconv.AppendInt(b, id.mtime, 36)
	b = append(b, '-')
	b = strconv.AppendInt(b, id.ctime, 36)
	b = append(b, '"')
	return string(b)
}
