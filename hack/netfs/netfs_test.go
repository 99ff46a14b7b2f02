//go:build linux

package netfs

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// mountClients mounts a fresh backing directory n times with opts. Without
// /dev/fuse or the right to mount, the test skips, but fails in CI.
func mountClients(t *testing.T, n int, opts Options) (string, []*Client) {
	t.Helper()
	backing := t.TempDir()
	var clients []*Client
	for i := range n {
		mp := t.TempDir()
		c, err := Mount(backing, mp, opts)
		if err != nil {
			SkipIfUnavailable(t, err)
			t.Fatalf("mounting client %d: %v", i, err)
		}
		// Registered after TempDir's cleanup, so it runs before it.
		t.Cleanup(func() {
			if err := c.Unmount(); err != nil {
				t.Error(err)
			}
		})
		clients = append(clients, c)
	}
	return backing, clients
}

// forcedStatx asks for attributes the way the store does: the basic ones,
// fresh from the server.
func forcedStatx(path string) (unix.Statx_t, error) {
	var st unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, path, unix.AT_STATX_FORCE_SYNC,
		unix.STATX_TYPE|unix.STATX_MODE|unix.STATX_NLINK|unix.STATX_INO|unix.STATX_SIZE|unix.STATX_MTIME|unix.STATX_CTIME, &st)
	return st, err
}

// counted resets c's counters, runs f, and returns what f cost.
func counted(t *testing.T, c *Client, f func() error) Stats {
	t.Helper()
	c.Reset()
	if err := f(); err != nil {
		t.Fatal(err)
	}
	return c.Stats()
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBackingFileShowsThroughEveryClient(t *testing.T) {
	backing, clients := mountClients(t, 2, Options{})
	writeFile(t, filepath.Join(backing, "a.whl"), "wheel")
	for i, c := range clients {
		b, err := os.ReadFile(filepath.Join(c.Dir, "a.whl"))
		if err != nil || string(b) != "wheel" {
			t.Errorf("client %d: read %q, %v; want %q", i, b, err, "wheel")
		}
	}
}

func TestAttributeCache(t *testing.T) {
	backing, clients := mountClients(t, 1, Options{})
	c := clients[0]
	if err := os.Mkdir(filepath.Join(backing, "project"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(backing, "project", "a.whl"), "wheel")
	for _, name := range []string{"project", "project/a.whl"} {
		path := filepath.Join(c.Dir, name)
		// The first look caches the names and attributes.
		if _, err := os.Stat(path); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name           string
			do             func() error
			getattr, statx uint64
		}{
			{"stat within the attribute timeout", func() error { _, err := os.Stat(path); return err }, 0, 0},
			{"statx forced fresh", func() error { _, err := forcedStatx(path); return err }, 1, 0},
			{"statx forced fresh, again", func() error { _, err := forcedStatx(path); return err }, 1, 0},
			{"statx forced fresh, with the birth time", func() error {
				var st unix.Statx_t
				return unix.Statx(unix.AT_FDCWD, path, unix.AT_STATX_FORCE_SYNC, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &st)
			}, 0, 1},
		}
		for _, tc := range tests {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				s := counted(t, c, tc.do)
				if s.Ops["GETATTR"] != tc.getattr || s.Ops["STATX"] != tc.statx || s.Ops["LOOKUP"] != 0 {
					t.Errorf("ops %v; want GETATTR %d, STATX %d and no LOOKUP", s.Ops, tc.getattr, tc.statx)
				}
			})
		}
	}
}

func TestMissingName(t *testing.T) {
	tests := []struct {
		name     string
		negative time.Duration
		lookups  uint64
	}{
		{"lookupcache=positive: every look reaches the server", 0, 3},
		{"negative entries cached: only the first does", time.Minute, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, clients := mountClients(t, 1, Options{NegativeTimeout: tc.negative})
			c := clients[0]
			s := counted(t, c, func() error {
				for range 3 {
					if _, err := os.Stat(filepath.Join(c.Dir, "missing.whl")); !errors.Is(err, os.ErrNotExist) {
						return err
					}
				}
				return nil
			})
			if s.Ops["LOOKUP"] != tc.lookups {
				t.Errorf("ops %v; want LOOKUP %d", s.Ops, tc.lookups)
			}
		})
	}
}

func TestDirectoryReadsReachTheServer(t *testing.T) {
	backing, clients := mountClients(t, 1, Options{})
	c := clients[0]
	for i := range 500 {
		writeFile(t, filepath.Join(backing, "project-"+string(rune('a'+i%26))+string(rune('a'+i/26))+".whl"), "")
	}
	if _, err := os.Stat(c.Dir); err != nil {
		t.Fatal(err)
	}
	var fd int
	s := counted(t, c, func() error {
		var err error
		fd, err = unix.Open(c.Dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		return err
	})
	if s.Ops["OPENDIR"] != 1 {
		t.Errorf("open(O_DIRECTORY): ops %v; want OPENDIR 1", s.Ops)
	}
	names := 0
	s = counted(t, c, func() error {
		buf := make([]byte, 32<<10)
		for {
			n, err := unix.Getdents(fd, buf)
			if err != nil || n == 0 {
				return err
			}
			_, _, got := unix.ParseDirent(buf[:n], -1, nil)
			names += len(got)
		}
	})
	unix.Close(fd)
	if names != 500 {
		t.Errorf("getdents read %d names, want 500", names)
	}
	if s.Ops["READDIR"] < 2 || s.Ops["READDIRPLUS"] != 0 || s.Ops["LOOKUP"] != 0 {
		t.Errorf("getdents: ops %v; want several READDIR batches, no READDIRPLUS and no LOOKUP", s.Ops)
	}
	t.Logf("500 names in %d READDIR batches", s.Ops["READDIR"])
}

// TestChangesThroughAnotherClient pins the consistency model: what client B
// sees of changes made through client A, with and without asking the server.
func TestChangesThroughAnotherClient(t *testing.T) {
	_, clients := mountClients(t, 2, Options{})
	a, b := clients[0], clients[1]
	writeFile(t, filepath.Join(a.Dir, "old.whl"), "old")
	writeFile(t, filepath.Join(a.Dir, "gone.whl"), "gone")
	list := func() ([]string, error) {
		f, err := os.Open(b.Dir)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		names, err := f.Readdirnames(-1)
		slices.Sort(names)
		return names, err
	}
	// B caches the directory, its names and their attributes.
	if names, err := list(); err != nil || !slices.Equal(names, []string{"gone.whl", "old.whl"}) {
		t.Fatalf("B lists %v, %v", names, err)
	}
	dirBefore, err := os.Stat(b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"old.whl", "gone.whl"} {
		if _, err := os.Stat(filepath.Join(b.Dir, n)); err != nil {
			t.Fatal(err)
		}
	}

	if err := os.Rename(filepath.Join(a.Dir, "old.whl"), filepath.Join(a.Dir, "new.whl")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(a.Dir, "gone.whl")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(a.Dir, "created.whl"), "created")

	// Not seen: what B answers from its caches within their timeouts.
	if _, err := os.Stat(filepath.Join(b.Dir, "gone.whl")); err != nil {
		t.Errorf("a cached name removed elsewhere: stat says %v, want the cached attributes", err)
	}
	if st, err := os.Stat(b.Dir); err != nil || !st.ModTime().Equal(dirBefore.ModTime()) {
		t.Errorf("the directory's cached attributes: stat says %v, %v; want the mtime cached before, %v", st.ModTime(), err, dirBefore.ModTime())
	}

	// Seen: everything that asks the server.
	if names, err := list(); err != nil || !slices.Equal(names, []string{"created.whl", "new.whl"}) {
		t.Errorf("after open(dir): B lists %v, %v; want created.whl new.whl", names, err)
	}
	if b, err := os.ReadFile(filepath.Join(b.Dir, "created.whl")); err != nil || string(b) != "created" {
		t.Errorf("a name B never looked up: read %q, %v", b, err)
	}
	if _, err := os.ReadFile(filepath.Join(b.Dir, "gone.whl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("open of a cached name removed elsewhere: %v, want not found", err)
	}
	if st, err := forcedStatx(b.Dir); err != nil || st.Mtime == (unix.StatxTimestamp{Sec: dirBefore.ModTime().Unix(), Nsec: uint32(dirBefore.ModTime().Nanosecond())}) {
		t.Errorf("forced statx of the directory: mtime %v, %v; want a new one", st.Mtime, err)
	}
	if _, err := forcedStatx(filepath.Join(b.Dir, "gone.whl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("forced statx of a cached name removed elsewhere: %v, want not found", err)
	}
}

func TestLatencyIsCharged(t *testing.T) {
	const latency, n = 5 * time.Millisecond, 20
	backing, clients := mountClients(t, 1, Options{Latency: latency})
	c := clients[0]
	writeFile(t, filepath.Join(backing, "a.whl"), "wheel")
	path := filepath.Join(c.Dir, "a.whl")
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s := counted(t, c, func() error {
		for range n {
			if _, err := forcedStatx(path); err != nil {
				return err
			}
		}
		return nil
	})
	took := time.Since(start)
	if s.Ops["GETATTR"] != n || s.RoundTrips != n {
		t.Errorf("stats %+v; want %d GETATTR, all charged", s, n)
	}
	// Only a lower bound: the waits are there; how much longer the machine
	// took is not this test's business.
	if took < n*latency || s.Waited < n*latency {
		t.Errorf("%d round trips took %v and waited %v, less than %v", n, took, s.Waited, n*latency)
	}
}

// TestFileDataCache pins close-to-open for file data: a reopened file's
// cached pages are kept while it is unchanged and dropped when it changed.
func TestFileDataCache(t *testing.T) {
	backing, clients := mountClients(t, 1, Options{})
	c := clients[0]
	path := filepath.Join(c.Dir, "a.whl")
	writeFile(t, filepath.Join(backing, "a.whl"), "first")
	read := func(want string) func() error {
		return func() error {
			b, err := os.ReadFile(path)
			if err == nil && string(b) != want {
				t.Errorf("read %q, want %q", b, want)
			}
			return err
		}
	}
	tests := []struct {
		name   string
		change string // written to the backing file before reading, if not empty
		want   string
		reads  uint64
	}{
		{"first read", "", "first", 1},
		{"unchanged: from the page cache", "", "first", 0},
		{"rewritten elsewhere: read again", "second, longer", "second, longer", 1},
		{"unchanged again", "", "second, longer", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.change != "" {
				writeFile(t, filepath.Join(backing, "a.whl"), tc.change)
			}
			s := counted(t, c, read(tc.want))
			if s.Ops["OPEN"] != 1 || s.Ops["READ"] != tc.reads {
				t.Errorf("ops %v; want OPEN 1, READ %d", s.Ops, tc.reads)
			}
		})
	}
}

// TestNameReplacedThroughAnotherClient pins what a client sees of a name
// another client moved away and then filled by renaming another file over
// it: the cached name leads to the old file until the client sees the
// directory change, and to the new file from then on, as an NFS client's
// names are checked against their directory's change attribute.
func TestNameReplacedThroughAnotherClient(t *testing.T) {
	backing, clients := mountClients(t, 1, Options{})
	c := clients[0]
	writeFile(t, filepath.Join(backing, "a.whl"), "old bytes")
	writeFile(t, filepath.Join(backing, "next.whl"), "new bytes")
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(c.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// The client caches a.whl, its attributes and its pages.
	if got := read("a.whl"); got != "old bytes" {
		t.Fatalf("read %q", got)
	}
	if err := os.Rename(filepath.Join(backing, "a.whl"), filepath.Join(backing, "moved.whl")); err != nil {
		t.Fatal(err)
	}
	// The old file, found under its new name, is the same node to the kernel.
	if got := read("moved.whl"); got != "old bytes" {
		t.Fatalf("moved.whl: read %q, want the old bytes", got)
	}
	if err := os.Rename(filepath.Join(backing, "next.whl"), filepath.Join(backing, "a.whl")); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(c.Dir, "a.whl")); err != nil || st.Size() != int64(len("old bytes")) {
		t.Errorf("before the directory is seen to change: stat %v, %v; want the cached attributes", st, err)
	}
	if _, err := forcedStatx(c.Dir); err != nil {
		t.Fatal(err)
	}
	var want unix.Stat_t
	if err := unix.Stat(filepath.Join(backing, "a.whl"), &want); err != nil {
		t.Fatal(err)
	}
	if st, err := forcedStatx(filepath.Join(c.Dir, "a.whl")); err != nil || st.Ino != want.Ino {
		t.Errorf("forced statx of a.whl after the directory's: inode %d, %v; want the new file's, %d", st.Ino, err, want.Ino)
	}
	if got := read("a.whl"); got != "new bytes" {
		t.Errorf("a.whl after the directory's forced statx: read %q, want the new bytes", got)
	}
}
