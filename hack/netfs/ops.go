//go:build linux

package netfs

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// op is one FUSE request type the rig counts.
type op int

const (
	opLookup op = iota
	opForget
	opGetattr
	opSetattr
	opMknod
	opMkdir
	opUnlink
	opRmdir
	opRename
	opLink
	opSymlink
	opReadlink
	opAccess
	opGetxattr
	opListxattr
	opSetxattr
	opRemovexattr
	opCreate
	opTmpfile
	opOpen
	opRead
	opLseek
	opGetlk
	opSetlk
	opSetlkw
	opRelease
	opWrite
	opCopyFileRange
	opIoctl
	opFlush
	opFsync
	opFallocate
	opOpendir
	opReaddir
	opReaddirplus
	opReleasedir
	opFsyncdir
	opStatfs
	opStatx
	numOps
)

// ops names each request as the FUSE protocol does and says whether an NFS
// client would wait for a round trip to the server to answer it.
//
// Charged: everything that asks the server about names or attributes
// (LOOKUP, GETATTR, STATX, ACCESS, READLINK, STATFS), changes the namespace
// or attributes (CREATE, MKDIR, UNLINK, RENAME, LINK, SETATTR, ...), opens a
// file (an NFSv4 OPEN), opens a directory (the close-to-open GETATTR an NFS
// client sends when a directory is opened), each READDIR batch, and READ and
// WRITE, which on NFS are READ and WRITE calls for data not in the page
// cache; the kernel sends them to FUSE only for data not in its page cache
// either, so charging them is the same model.
//
// Not charged: FORGET (local bookkeeping), FLUSH and RELEASE (an NFS close of
// a file opened for reading sends CLOSE without waiting for it, and data
// written is charged as WRITE), RELEASEDIR (NFS directories have no open
// state), LSEEK, locks and ioctl (not used by the server), and extended
// attributes (NFS 4.1 has none; the kernel asks FUSE for security labels).
var ops = [numOps]struct {
	name      string
	roundTrip bool
}{
	opLookup:        {"LOOKUP", true},
	opForget:        {"FORGET", false},
	opGetattr:       {"GETATTR", true},
	opSetattr:       {"SETATTR", true},
	opMknod:         {"MKNOD", true},
	opMkdir:         {"MKDIR", true},
	opUnlink:        {"UNLINK", true},
	opRmdir:         {"RMDIR", true},
	opRename:        {"RENAME", true},
	opLink:          {"LINK", true},
	opSymlink:       {"SYMLINK", true},
	opReadlink:      {"READLINK", true},
	opAccess:        {"ACCESS", true},
	opGetxattr:      {"GETXATTR", false},
	opListxattr:     {"LISTXATTR", false},
	opSetxattr:      {"SETXATTR", false},
	opRemovexattr:   {"REMOVEXATTR", false},
	opCreate:        {"CREATE", true},
	opTmpfile:       {"TMPFILE", true},
	opOpen:          {"OPEN", true},
	opRead:          {"READ", true},
	opLseek:         {"LSEEK", false},
	opGetlk:         {"GETLK", false},
	opSetlk:         {"SETLK", false},
	opSetlkw:        {"SETLKW", false},
	opRelease:       {"RELEASE", false},
	opWrite:         {"WRITE", true},
	opCopyFileRange: {"COPY_FILE_RANGE", true},
	opIoctl:         {"IOCTL", false},
	opFlush:         {"FLUSH", false},
	opFsync:         {"FSYNC", true},
	opFallocate:     {"FALLOCATE", true},
	opOpendir:       {"OPENDIR", true},
	opReaddir:       {"READDIR", true},
	opReaddirplus:   {"READDIRPLUS", true},
	opReleasedir:    {"RELEASEDIR", false},
	opFsyncdir:      {"FSYNCDIR", true},
	opStatfs:        {"STATFS", true},
	opStatx:         {"STATX", true},
}

// counters are one mount's tallies. They are atomics so that reading them
// never waits for a request in progress.
type counters struct {
	latency     atomic.Int64 // nanoseconds
	held        atomic.Pointer[chan struct{}]
	n           [numOps]atomic.Uint64
	roundTrips  atomic.Uint64
	waited      atomic.Int64 // nanoseconds slept for round trips
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
}

// enter counts a request and, if it is a round trip, waits out the latency.
// The wait ignores interrupts, as a hard NFS mount does: the Go runtime
// signals its threads all the time, and an EINTR from a statx would be an
// error no NFS client gives.
func (c *counters) enter(o op) {
	c.n[o].Add(1)
	n := c.inFlight.Add(1)
	for {
		m := c.maxInFlight.Load()
		if n <= m || c.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	if ops[o].roundTrip {
		c.roundTrips.Add(1)
		if h := c.held.Load(); h != nil {
			<-*h // a server that does not answer until released
		}
		if d := time.Duration(c.latency.Load()); d > 0 {
			start := time.Now()
			time.Sleep(d)
			c.waited.Add(int64(time.Since(start)))
		}
	}
}

// leave ends a request begun with enter.
func (c *counters) leave() { c.inFlight.Add(-1) }

// stats reads the counters.
func (c *counters) stats() Stats {
	s := Stats{Ops: map[string]uint64{}, RoundTrips: c.roundTrips.Load(), Waited: time.Duration(c.waited.Load()), MaxInFlight: c.maxInFlight.Load()}
	for o := range numOps {
		if v := c.n[o].Load(); v > 0 {
			s.Ops[ops[o].name] = v
		}
	}
	return s
}

// reset zeroes the counters; the peak in flight starts again from the
// requests in progress.
func (c *counters) reset() {
	for o := range numOps {
		c.n[o].Store(0)
	}
	c.roundTrips.Store(0)
	c.waited.Store(0)
	c.maxInFlight.Store(c.inFlight.Load())
}

// rawFS passes every request to the loopback file system beneath, counting
// it and charging its round trip first. It sits at the protocol level, not
// on the loopback's nodes, because only there every request the kernel sends
// is seen, once, under its own name: the node methods see neither the
// directory reads and file reads (they go to file handles) nor FORGET and
// RELEASE, and one node method can serve two opcodes (GETATTR and STATX
// fall back to each other).
type rawFS struct {
	fuse.RawFileSystem
	c *counters

	server *fuse.Server

	mu     sync.Mutex
	kernel map[uint64]version // by node id: the file as the kernel last heard of it
	// names holds, by directory node id, the names in it the kernel may
	// have cached: those it looked up or made.
	names map[uint64]map[string]struct{}
}

// version tells whether a file changed between two opens.
type version struct {
	mtime, ctime, size, ino uint64
	mtimeNsec, ctimeNsec    uint32
}

func (f *rawFS) Lookup(cancel <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	f.c.enter(opLookup)
	defer f.c.leave()
	st := f.RawFileSystem.Lookup(cancel, h, name, out)
	if st.Ok() && out.NodeId != 0 {
		f.named(h.NodeId, name)
		f.saw(out.NodeId, &out.Attr)
	}
	return st
}

func (f *rawFS) Forget(nodeid, nlookup uint64) {
	f.c.enter(opForget)
	defer f.c.leave()
	f.RawFileSystem.Forget(nodeid, nlookup)
}

func (f *rawFS) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	f.c.enter(opGetattr)
	defer f.c.leave()
	st := f.RawFileSystem.GetAttr(cancel, in, out)
	if st.Ok() {
		f.saw(in.NodeId, &out.Attr)
	}
	return st
}

func (f *rawFS) SetAttr(cancel <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	f.c.enter(opSetattr)
	defer f.c.leave()
	return f.RawFileSystem.SetAttr(cancel, in, out)
}

func (f *rawFS) Mknod(cancel <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	f.c.enter(opMknod)
	defer f.c.leave()
	st := f.RawFileSystem.Mknod(cancel, in, name, out)
	if st.Ok() {
		f.named(in.NodeId, name)
	}
	return st
}

func (f *rawFS) Mkdir(cancel <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	f.c.enter(opMkdir)
	defer f.c.leave()
	st := f.RawFileSystem.Mkdir(cancel, in, name, out)
	if st.Ok() {
		f.named(in.NodeId, name)
	}
	return st
}

func (f *rawFS) Unlink(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	f.c.enter(opUnlink)
	defer f.c.leave()
	return f.RawFileSystem.Unlink(cancel, h, name)
}

func (f *rawFS) Rmdir(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	f.c.enter(opRmdir)
	defer f.c.leave()
	return f.RawFileSystem.Rmdir(cancel, h, name)
}

func (f *rawFS) Rename(cancel <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	f.c.enter(opRename)
	defer f.c.leave()
	st := f.RawFileSystem.Rename(cancel, in, oldName, newName)
	if st.Ok() {
		f.named(in.Newdir, newName)
	}
	return st
}

func (f *rawFS) Link(cancel <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	f.c.enter(opLink)
	defer f.c.leave()
	st := f.RawFileSystem.Link(cancel, in, name, out)
	if st.Ok() {
		f.named(in.NodeId, name)
	}
	return st
}

func (f *rawFS) Symlink(cancel <-chan struct{}, h *fuse.InHeader, target, name string, out *fuse.EntryOut) fuse.Status {
	f.c.enter(opSymlink)
	defer f.c.leave()
	st := f.RawFileSystem.Symlink(cancel, h, target, name, out)
	if st.Ok() {
		f.named(h.NodeId, name)
	}
	return st
}

func (f *rawFS) Readlink(cancel <-chan struct{}, h *fuse.InHeader) ([]byte, fuse.Status) {
	f.c.enter(opReadlink)
	defer f.c.leave()
	return f.RawFileSystem.Readlink(cancel, h)
}

func (f *rawFS) Access(cancel <-chan struct{}, in *fuse.AccessIn) fuse.Status {
	f.c.enter(opAccess)
	defer f.c.leave()
	return f.RawFileSystem.Access(cancel, in)
}

func (f *rawFS) GetXAttr(cancel <-chan struct{}, h *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	f.c.enter(opGetxattr)
	defer f.c.leave()
	return f.RawFileSystem.GetXAttr(cancel, h, attr, dest)
}

func (f *rawFS) ListXAttr(cancel <-chan struct{}, h *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	f.c.enter(opListxattr)
	defer f.c.leave()
	return f.RawFileSystem.ListXAttr(cancel, h, dest)
}

func (f *rawFS) SetXAttr(cancel <-chan struct{}, in *fuse.SetXAttrIn, attr string, data []byte) fuse.Status {
	f.c.enter(opSetxattr)
	defer f.c.leave()
	return f.RawFileSystem.SetXAttr(cancel, in, attr, data)
}

func (f *rawFS) RemoveXAttr(cancel <-chan struct{}, h *fuse.InHeader, attr string) fuse.Status {
	f.c.enter(opRemovexattr)
	defer f.c.leave()
	return f.RawFileSystem.RemoveXAttr(cancel, h, attr)
}

func (f *rawFS) Create(cancel <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	f.c.enter(opCreate)
	defer f.c.leave()
	st := f.RawFileSystem.Create(cancel, in, name, out)
	if st.Ok() {
		f.named(in.NodeId, name)
		f.saw(out.NodeId, &out.Attr)
	}
	return st
}

func (f *rawFS) Tmpfile(cancel <-chan struct{}, in *fuse.CreateIn, out *fuse.CreateOut) fuse.Status {
	f.c.enter(opTmpfile)
	defer f.c.leave()
	return f.RawFileSystem.Tmpfile(cancel, in, out)
}

// Open keeps the kernel's cached pages and attributes of the file if the
// file is as the kernel last saw it, as an NFS client keeps them when the
// attributes its OPEN returns show no change (close-to-open). Otherwise the
// kernel drops the pages (no FOPEN_KEEP_CACHE) and is told its attributes
// are stale, so the size it reads up to is the file's. The attributes are
// read beside the open, not charged: on NFS they come in the OPEN's reply.
func (f *rawFS) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	f.c.enter(opOpen)
	defer f.c.leave()
	st := f.RawFileSystem.Open(cancel, in, out)
	if !st.Ok() {
		return st
	}
	var attr fuse.AttrOut
	get := fuse.GetAttrIn{InHeader: in.InHeader, Fh_: out.Fh, Flags_: fuse.FUSE_GETATTR_FH}
	if !f.RawFileSystem.GetAttr(cancel, &get, &attr).Ok() {
		return st
	}
	if f.saw(in.NodeId, &attr.Attr) {
		out.OpenFlags |= fuse.FOPEN_KEEP_CACHE
	} else if f.server != nil {
		// A negative offset invalidates the attributes only. The
		// opening process holds no lock this needs (no O_TRUNC here:
		// a truncating open changes the file anyway).
		f.server.InodeNotify(in.NodeId, -1, 0)
	}
	return st
}

// saw records the attributes the kernel now holds for a node and reports
// whether they are those it held before. A directory whose attributes
// changed has the names cached in it dropped.
func (f *rawFS) saw(node uint64, a *fuse.Attr) bool {
	v := version{a.Mtime, a.Ctime, a.Size, a.Ino, a.Mtimensec, a.Ctimensec}
	f.mu.Lock()
	same := f.kernel[node] == v
	f.kernel[node] = v
	var names map[string]struct{}
	if !same && a.IsDir() {
		names = f.names[node]
		delete(f.names, node)
	}
	f.mu.Unlock()
	f.drop(node, names)
	return same
}

// named records that the kernel may have cached name in the directory dir.
func (f *rawFS) named(dir uint64, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.names[dir] == nil {
		f.names[dir] = map[string]struct{}{}
	}
	f.names[dir][name] = struct{}{}
}

// drop makes the kernel forget the names cached in dir, as an NFS client
// does once it sees that a directory changed: each cached name carries the
// directory's change attribute of when it was looked up, and a name whose
// attribute is not the directory's any more is looked up again before it
// is used. FUSE trusts a name until its timeout, so the rig tells the
// kernel instead. Without this, a name another client replaced by a rename
// would lead, for the whole timeout, to the file that held it before.
//
// It is done before the request that saw the change is answered, so the
// next path lookup asks the server. The kernel takes the directory's lock
// to drop a name; should a request ever be sent with that lock held, the
// wait ends after a second rather than never, and the names go when the
// lock is free.
func (f *rawFS) drop(dir uint64, names map[string]struct{}) {
	if len(names) == 0 || f.server == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for name := range names {
			// ENOENT: the kernel no longer holds it; nothing to do.
			f.server.EntryNotify(dir, name)
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
}

// Init keeps the server, to tell the kernel when its attributes are stale.
func (f *rawFS) Init(s *fuse.Server) {
	f.server = s
	f.RawFileSystem.Init(s)
}

func (f *rawFS) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	f.c.enter(opRead)
	defer f.c.leave()
	return f.RawFileSystem.Read(cancel, in, buf)
}

func (f *rawFS) Lseek(cancel <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) fuse.Status {
	f.c.enter(opLseek)
	defer f.c.leave()
	return f.RawFileSystem.Lseek(cancel, in, out)
}

func (f *rawFS) GetLk(cancel <-chan struct{}, in *fuse.LkIn, out *fuse.LkOut) fuse.Status {
	f.c.enter(opGetlk)
	defer f.c.leave()
	return f.RawFileSystem.GetLk(cancel, in, out)
}

func (f *rawFS) SetLk(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	f.c.enter(opSetlk)
	defer f.c.leave()
	return f.RawFileSystem.SetLk(cancel, in)
}

func (f *rawFS) SetLkw(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	f.c.enter(opSetlkw)
	defer f.c.leave()
	return f.RawFileSystem.SetLkw(cancel, in)
}

func (f *rawFS) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	f.c.enter(opRelease)
	defer f.c.leave()
	f.RawFileSystem.Release(cancel, in)
}

func (f *rawFS) Write(cancel <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	f.c.enter(opWrite)
	defer f.c.leave()
	return f.RawFileSystem.Write(cancel, in, data)
}

// Writev serves WRITE when the file system beneath supports it (the
// loopback's files do); Write is then never called, so a WRITE is counted
// once.
func (f *rawFS) Writev(cancel <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	f.c.enter(opWrite)
	defer f.c.leave()
	return f.RawFileSystem.Writev(cancel, in, data)
}

func (f *rawFS) CopyFileRange(cancel <-chan struct{}, in *fuse.CopyFileRangeIn) (uint32, fuse.Status) {
	f.c.enter(opCopyFileRange)
	defer f.c.leave()
	return f.RawFileSystem.CopyFileRange(cancel, in)
}

func (f *rawFS) Ioctl(cancel <-chan struct{}, in *fuse.IoctlIn, inbuf []byte, out *fuse.IoctlOut, outbuf []byte) fuse.Status {
	f.c.enter(opIoctl)
	defer f.c.leave()
	return f.RawFileSystem.Ioctl(cancel, in, inbuf, out, outbuf)
}

func (f *rawFS) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	f.c.enter(opFlush)
	defer f.c.leave()
	return f.RawFileSystem.Flush(cancel, in)
}

func (f *rawFS) Fsync(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	f.c.enter(opFsync)
	defer f.c.leave()
	return f.RawFileSystem.Fsync(cancel, in)
}

func (f *rawFS) Fallocate(cancel <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	f.c.enter(opFallocate)
	defer f.c.leave()
	return f.RawFileSystem.Fallocate(cancel, in)
}

// OpenDir stands for the GETATTR an NFS client sends when a directory is
// opened, so the directory's attributes are read beside it (not charged
// again) and, if they changed, the names cached in it are dropped.
func (f *rawFS) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	f.c.enter(opOpendir)
	defer f.c.leave()
	st := f.RawFileSystem.OpenDir(cancel, in, out)
	if st.Ok() {
		var attr fuse.AttrOut
		if f.RawFileSystem.GetAttr(cancel, &fuse.GetAttrIn{InHeader: in.InHeader}, &attr).Ok() {
			f.saw(in.NodeId, &attr.Attr)
		}
	}
	return st
}

func (f *rawFS) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	f.c.enter(opReaddir)
	defer f.c.leave()
	return f.RawFileSystem.ReadDir(cancel, in, out)
}

func (f *rawFS) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	f.c.enter(opReaddirplus)
	defer f.c.leave()
	return f.RawFileSystem.ReadDirPlus(cancel, in, out)
}

func (f *rawFS) ReleaseDir(in *fuse.ReleaseIn) {
	f.c.enter(opReleasedir)
	defer f.c.leave()
	f.RawFileSystem.ReleaseDir(in)
}

func (f *rawFS) FsyncDir(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	f.c.enter(opFsyncdir)
	defer f.c.leave()
	return f.RawFileSystem.FsyncDir(cancel, in)
}

func (f *rawFS) StatFs(cancel <-chan struct{}, h *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	f.c.enter(opStatfs)
	defer f.c.leave()
	return f.RawFileSystem.StatFs(cancel, h, out)
}

func (f *rawFS) Statx(cancel <-chan struct{}, in *fuse.StatxIn, out *fuse.StatxOut) fuse.Status {
	f.c.enter(opStatx)
	defer f.c.leave()
	return f.RawFileSystem.Statx(cancel, in, out)
}
