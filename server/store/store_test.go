package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/go-logr/logr"

	"pkgindex.dev/pkgindex/server/pkgtest"
)

func newStore(t testing.TB, guard time.Duration, roots ...string) *Store {
	t.Helper()
	return newStoreIn(t, LayoutAny, guard, roots...)
}

func newStoreIn(t testing.TB, layout Layout, guard time.Duration, roots ...string) *Store {
	t.Helper()
	s, err := New(Options{Roots: roots, HashAlgo: "sha256", Guard: guard, Layout: layout, Log: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	// Before the roots' temporary directories go: the store may still be
	// writing a facts record into them.
	t.Cleanup(func() { s.Close() })
	return s
}

// served is what a client sees through the calls requests make: /simple/
// (Index), then each project's page (Project), with every file's digest.
func served(t testing.TB, s *Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	names, err := s.Index(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, name := range names.Names {
		p, err := s.Project(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if p == nil {
			t.Fatalf("project %s is listed but not found", name)
		}
		for i, fa := range s.FactsAll(ctx, p.Files) {
			if fa != nil {
				out[p.Files[i].Rel] = hex.EncodeToString(fa.Digest())
			}
		}
	}
	return out
}

func files(t testing.TB, s *Store) map[string]string {
	t.Helper()
	snap, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range snap.Projects() {
		for _, f := range p.Files {
			fa, err := s.Facts(context.Background(), f)
			if err != nil {
				continue
			}
			out[f.Rel] = hex.EncodeToString(fa.Digest())
		}
	}
	return out
}

// TestEveryChangeIsSeenAtOnce changes a directory many times in quick
// succession, each change well inside one timestamp tick of coarse file
// systems, and checks two independent stores (as two replicas would be)
// see each change on the very next request, in both layouts.
func TestEveryChangeIsSeenAtOnce(t *testing.T) {
	for _, tc := range []struct {
		layout string
		store  Layout
	}{
		{"flat", LayoutAny}, {"per-project", LayoutAny}, {"many projects", LayoutAny},
		{"flat", LayoutPerProject}, {"per-project", LayoutPerProject}, {"many projects", LayoutPerProject},
	} {
		layout := tc.layout
		t.Run(layout+"/"+tc.store.String(), func(t *testing.T) {
			root := t.TempDir()
			a, b := newStoreIn(t, tc.store, DefaultGuard, root), newStoreIn(t, tc.store, DefaultGuard, root)
			dir := root
			want := map[string]string{}
			if layout != "flat" {
				dir = filepath.Join(root, "demo")
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if layout == "many projects" {
				// Enough project directories to be checked in parallel.
				for i := range 50 {
					name := fmt.Sprintf("p%d", i)
					must(t, os.Mkdir(filepath.Join(root, name), 0o755))
					body := []byte(name)
					must(t, os.WriteFile(filepath.Join(root, name, name+"-1.0.tar.gz"), body, 0o644))
					want[name+"/"+name+"-1.0.tar.gz"] = sha(body)
				}
			}
			prefix := strings.TrimPrefix(strings.TrimPrefix(dir, root), "/")
			if prefix != "" {
				prefix += "/"
			}
			for i := range 60 {
				name := fmt.Sprintf("demo-1.%d.tar.gz", i%7)
				path := filepath.Join(dir, name)
				switch i % 3 {
				case 0, 1: // add or replace in place with new contents
					body := []byte(fmt.Sprintf("contents %d", i))
					if err := os.WriteFile(path, body, 0o644); err != nil {
						t.Fatal(err)
					}
					want[prefix+name] = sha(body)
				case 2:
					os.Remove(path)
					delete(want, prefix+name)
				}
				for j, s := range []*Store{a, b} {
					// One store answers as pages do first, the other as a
					// snapshot does, then the other way round.
					got, got2 := served(t, s), files(t, s)
					if (i+j)%2 == 1 {
						got2, got = files(t, s), served(t, s)
					}
					if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(got2) != fmt.Sprint(want) {
						t.Fatalf("after change %d: listing\n%v\nthen\n%v\nwant\n%v", i, got, got2, want)
					}
				}
			}
		})
	}
}

func sha(b []byte) string {
	h := hashes["sha256"]()
	h.Write(b)
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestSettledDirectoryIsNotReread checks the cheap path is taken once a
// directory has settled, and that a change still shows after it.
func TestSettledDirectoryIsNotReread(t *testing.T) {
	root := t.TempDir()
	pkgtest.Sdist(t, root, pkgtest.Spec{Name: "demo", Version: "1.0"})
	s := newStore(t, 50*time.Millisecond, root)
	files(t, s)
	time.Sleep(100 * time.Millisecond)
	files(t, s) // re-read once: the first read was too close to the change
	// Hashing a settled file records its facts in the root's state
	// directory, whose making changes the root once.
	waitRecords(t, s)
	time.Sleep(100 * time.Millisecond)
	files(t, s)
	reads := s.Stats.DirReads.Load()
	for range 10 {
		files(t, s)
	}
	if got := s.Stats.DirReads.Load(); got != reads {
		t.Errorf("settled directory re-read %d times", got-reads)
	}
	pkgtest.Sdist(t, root, pkgtest.Spec{Name: "demo", Version: "2.0"})
	if got := files(t, s); len(got) != 2 {
		t.Errorf("after adding a file: %v", got)
	}
	hits := s.Stats.FactsHits.Load()
	time.Sleep(100 * time.Millisecond)
	files(t, s)
	files(t, s)
	if s.Stats.FactsHits.Load() == hits {
		t.Error("digests of settled files were not served from the cache")
	}
}

func TestSymlinksAndShadowing(t *testing.T) {
	root, outside, second := t.TempDir(), t.TempDir(), t.TempDir()
	pkgtest.Sdist(t, outside, pkgtest.Spec{Name: "evil", Version: "1.0"})
	pkgtest.Sdist(t, root, pkgtest.Spec{Name: "good", Version: "1.0"})
	must(t, os.Symlink(filepath.Join(outside, "evil-1.0.tar.gz"), filepath.Join(root, "evil-1.0.tar.gz")))
	must(t, os.Symlink("good-1.0.tar.gz", filepath.Join(root, "alias-1.0.tar.gz")))
	must(t, os.Symlink(outside, filepath.Join(root, "linkdir")))
	must(t, os.WriteFile(filepath.Join(second, "good-1.0.tar.gz"), []byte("shadowed"), 0o644))
	pkgtest.Sdist(t, second, pkgtest.Spec{Name: "extra", Version: "1.0"})
	s := newStore(t, DefaultGuard, root, second)
	got := files(t, s)
	if _, ok := got["evil-1.0.tar.gz"]; ok {
		t.Error("a symbolic link leaving the root is listed")
	}
	if _, ok := got["alias-1.0.tar.gz"]; !ok {
		t.Error("a symbolic link inside the root is not listed")
	}
	if len(got) != 3 {
		t.Errorf("listing %v, want good, alias and extra", got)
	}
	if _, err := s.Open("evil-1.0.tar.gz"); !errors.Is(err, ErrOutsideRoot) {
		t.Errorf("opening a link out of the root: %v", err)
	}
	if _, err := s.Open("linkdir/evil-1.0.tar.gz"); !errors.Is(err, ErrOutsideRoot) {
		t.Errorf("opening through a directory link out of the root: %v", err)
	}
	f, err := s.Open("good-1.0.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Size == int64(len("shadowed")) {
		t.Error("the second root's file won over the first's")
	}
}

func TestUnreadableFileIsSkipped(t *testing.T) {
	if os.Geteuid() == 0 {
		// root reads everything; exercise a vanished file instead.
		root := t.TempDir()
		pkgtest.Sdist(t, root, pkgtest.Spec{Name: "a", Version: "1.0"})
		s := newStore(t, DefaultGuard, root)
		snap, err := s.Snapshot(context.Background())
		must(t, err)
		os.Remove(filepath.Join(root, "a-1.0.tar.gz"))
		if _, err := s.Facts(context.Background(), snap.Project("a").Files[0]); err == nil {
			t.Error("facts of a vanished file")
		}
		return
	}
	root := t.TempDir()
	p := pkgtest.Sdist(t, root, pkgtest.Spec{Name: "a", Version: "1.0"})
	pkgtest.Sdist(t, root, pkgtest.Spec{Name: "a", Version: "2.0"})
	must(t, os.Chmod(p, 0))
	if got := files(t, newStore(t, DefaultGuard, root)); len(got) != 1 {
		t.Errorf("listing %v, want the readable file only", got)
	}
}

func TestConcurrentRequestsShareChecks(t *testing.T) {
	root := t.TempDir()
	for i := range 50 {
		must(t, os.MkdirAll(filepath.Join(root, fmt.Sprint("p", i)), 0o755))
	}
	s := newStore(t, DefaultGuard, root)
	first, err := s.Snapshot(context.Background())
	must(t, err)
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			snap, err := s.Snapshot(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			if snap != first {
				t.Error("an unchanged tree gave a new snapshot")
			}
		}()
	}
	wg.Wait()
	t.Logf("%d checks for 201 requests", s.Stats.Checks.Load())
}

func TestCleanRel(t *testing.T) {
	for rel, ok := range map[string]bool{
		"a-1.0.tar.gz": true, "dir/a-1.0.tar.gz": true,
		"": false, "../a": false, "a/../b": false, "./a": false, ".a": false, "a//b": false, "/a": false,
		"a/": false, "a\\b": false, "a\x00b": false, strings.Repeat("a", 256): false,
	} {
		if err := CleanRel(rel); (err == nil) != ok {
			t.Errorf("CleanRel(%q) = %v", rel, err)
		}
	}
}

func FuzzCleanRel(f *testing.F) {
	for _, s := range []string{"a/b-1.0.tar.gz", "../x", "a/./b", ".git/config"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rel string) {
		if CleanRel(rel) != nil {
			return
		}
		for _, seg := range strings.Split(rel, "/") {
			if seg == "" || seg == "." || seg == ".." || seg[0] == '.' {
				t.Fatalf("CleanRel accepted %q", rel)
			}
		}
		if filepath.IsAbs(rel) || strings.HasPrefix(filepath.Clean(rel), "..") {
			t.Fatalf("CleanRel accepted %q", rel)
		}
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A root directory that is removed and made again (a volume remounted, a
// restore) is found again: the open root kept for downloads is not trusted
// past a failed lookup.
func TestReplacedRootIsReopened(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	must(t, os.Mkdir(root, 0o755))
	pkgtest.Sdist(t, root, pkgtest.Spec{Name: "a", Version: "1.0"})
	s := newStore(t, DefaultGuard, root)
	f, err := s.Open("a-1.0.tar.gz")
	must(t, err)
	f.Close()
	must(t, os.Rename(root, filepath.Join(parent, "old")))
	must(t, os.Mkdir(root, 0o755))
	if _, err := s.Open("a-1.0.tar.gz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a file of the replaced root is still served: %v", err)
	}
	pkgtest.Sdist(t, root, pkgtest.Spec{Name: "b", Version: "2.0"})
	f, err = s.Open("b-2.0.tar.gz")
	if err != nil {
		t.Fatalf("a file of the new root: %v", err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	must(t, err)
	if int64(len(b)) != f.Size {
		t.Errorf("read %d bytes of %d", len(b), f.Size)
	}
}

// Seeking is answered from the known size, and reads after any seek start
// where the seek said.
func TestOpenedSeekAndRead(t *testing.T) {
	root := t.TempDir()
	body := []byte("0123456789abcdef")
	must(t, os.WriteFile(filepath.Join(root, "a-1.0.tar.gz"), body, 0o644))
	s := newStore(t, DefaultGuard, root)
	f, err := s.Open("a-1.0.tar.gz")
	must(t, err)
	defer f.Close()
	for _, tc := range []struct {
		off    int64
		whence int
		want   string
	}{
		{0, io.SeekEnd, ""},
		{-4, io.SeekEnd, "cdef"},
		{3, io.SeekStart, "3456"},
		{2, io.SeekCurrent, "9abc"},
		{0, io.SeekStart, "0123"},
	} {
		if _, err := f.Seek(tc.off, tc.whence); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		n, _ := io.ReadFull(f, buf)
		if got := string(buf[:n]); got != tc.want {
			t.Errorf("seek(%d, %d) then read: %q, want %q", tc.off, tc.whence, got, tc.want)
		}
	}
}

// Of many writers publishing one name at once, exactly one wins and the
// file is one writer's bytes whole; with overwrite, every writer succeeds
// and the file is still one writer's bytes whole.
func TestPublishRace(t *testing.T) {
	for _, overwrite := range []bool{false, true} {
		root := t.TempDir()
		s := newStore(t, DefaultGuard, root)
		const writers = 8
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				u, err := s.Begin("Race")
				if err != nil {
					errs[i] = err
					return
				}
				u.Write(bytes.Repeat([]byte{byte('a' + i)}, 1<<16))
				_, errs[i] = u.Publish(context.Background(), "race-1.0.tar.gz", overwrite)
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ErrExists):
				t.Fatalf("overwrite=%v: %v", overwrite, err)
			}
		}
		if want := map[bool]int{false: 1, true: writers}[overwrite]; won != want {
			t.Errorf("overwrite=%v: %d writers won, want %d", overwrite, won, want)
		}
		b, err := os.ReadFile(filepath.Join(root, "race", "race-1.0.tar.gz"))
		must(t, err)
		if len(b) != 1<<16 || bytes.Count(b, b[:1]) != len(b) {
			t.Errorf("overwrite=%v: the file mixes writers' bytes", overwrite)
		}
		for _, dir := range []string{filepath.Join(root, "race"), filepath.Join(root, StateDir, "tmp")} {
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if e.Name() != "race-1.0.tar.gz" {
					t.Errorf("overwrite=%v: left in %s: %s", overwrite, dir, e.Name())
				}
			}
		}
	}
}

// Temporary files of crashed writers are removed once old enough; young
// ones, which may be uploads in progress elsewhere, are kept.
func TestCleanTemp(t *testing.T) {
	root := t.TempDir()
	s := newStore(t, DefaultGuard, root)
	tmp := filepath.Join(root, StateDir, "tmp")
	must(t, os.MkdirAll(tmp, 0o755))
	old := filepath.Join(tmp, TempPrefix+"old")
	young := filepath.Join(tmp, TempPrefix+"young")
	keep := filepath.Join(root, "p-1.0.tar.gz")
	for _, f := range []string{old, young, keep} {
		must(t, os.WriteFile(f, []byte("x"), 0o644))
	}
	past := time.Now().Add(-2 * time.Hour)
	must(t, os.Chtimes(old, past, past))
	must(t, os.Chtimes(keep, past, past))
	n, err := s.CleanTemp(time.Hour)
	must(t, err)
	if n != 1 {
		t.Errorf("removed %d files, want 1", n)
	}
	for f, want := range map[string]bool{old: false, young: true, keep: true} {
		if _, err := os.Stat(f); (err == nil) != want {
			t.Errorf("%s: exists=%v, want %v", filepath.Base(f), err == nil, want)
		}
	}
}

// Another replica reads an uploaded file's facts from the record the
// upload left, without hashing; a file changed since is hashed again.
func TestRecordedFacts(t *testing.T) {
	root := t.TempDir()
	writer := newStore(t, DefaultGuard, root)
	spec := pkgtest.Spec{Name: "rec", Version: "1.0", RequiresPython: ">=3.9"}
	body := spec.WheelBytes()
	u, err := writer.Begin("rec")
	must(t, err)
	u.Write(body)
	u.SetMetadata(spec.Metadata())
	_, err = u.Publish(context.Background(), spec.WheelName(), false)
	must(t, err)

	reader := newStore(t, DefaultGuard, root)
	snap, err := reader.Snapshot(context.Background())
	must(t, err)
	fa, err := reader.Facts(context.Background(), snap.Project("rec").Files[0])
	must(t, err)
	if reader.Stats.FactsRecorded.Load() != 1 || reader.Stats.HashedBytes.Load() != 0 {
		t.Errorf("recorded %d, hashed %d bytes: the record was not used", reader.Stats.FactsRecorded.Load(), reader.Stats.HashedBytes.Load())
	}
	if got, want := hex.EncodeToString(fa.Digest()), sha(body); got != want {
		t.Errorf("recorded digest %s, want %s", got, want)
	}
	md := sha256.Sum256(spec.Metadata())
	if !fa.Metadata() || !bytes.Equal(fa.MetadataDigest(), md[:]) || fa.RequiresPython() != ">=3.9" {
		t.Errorf("recorded metadata: %v %x %q", fa.Metadata(), fa.MetadataDigest(), fa.RequiresPython())
	}

	// Rewritten in place, same size: the record no longer describes it.
	path := filepath.Join(root, "rec", spec.WheelName())
	other := bytes.Clone(body)
	other[len(other)-1] ^= 1
	time.Sleep(10 * time.Millisecond)
	must(t, os.WriteFile(path, other, 0o644))
	third := newStore(t, DefaultGuard, root)
	snap, err = third.Snapshot(context.Background())
	must(t, err)
	fa, err = third.Facts(context.Background(), snap.Project("rec").Files[0])
	must(t, err)
	if third.Stats.FactsRecorded.Load() != 0 || hex.EncodeToString(fa.Digest()) != sha(other) {
		t.Errorf("a changed file was answered from a stale record")
	}
}

func TestStatFreshJoin(t *testing.T) {
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "a"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "a", "f-1.0.tar.gz"), []byte("x"), 0o644))
	want, err := statFresh(filepath.Join(root, "a", "f-1.0.tar.gz"), true)
	must(t, err)
	got, err := statFreshJoin(root, "a/f-1.0.tar.gz")
	if err != nil || got != want {
		t.Errorf("statFreshJoin: %+v, %v; want %+v", got, err, want)
	}
	if _, err := statFreshJoin(root, "a/missing-1.0.tar.gz"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// Facts stay one small object per file, and digests longer than 32 bytes
// (sha384, sha512) keep both digests whole.
func TestFactsLayout(t *testing.T) {
	if size := unsafe.Sizeof(Facts{}); size > 128 {
		t.Errorf("Facts is %d bytes, want at most 128", size)
	}
	for _, algo := range []string{"md5", "sha256", "sha512", "none"} {
		root := t.TempDir()
		spec := pkgtest.Spec{Name: "w", Version: "1.0", RequiresPython: ">=3.10"}
		pkgtest.Wheel(t, root, spec)
		s, err := New(Options{Roots: []string{root}, HashAlgo: algo, Guard: DefaultGuard, Log: logr.Discard()})
		must(t, err)
		snap, err := s.Snapshot(context.Background())
		must(t, err)
		fa, err := s.Facts(context.Background(), snap.Project("w").Files[0])
		must(t, err)
		var want, wantMD []byte
		if h := hashes[algo]; h != nil {
			d := h()
			d.Write(spec.WheelBytes())
			want = d.Sum(nil)
			d = h()
			d.Write(spec.Metadata())
			wantMD = d.Sum(nil)
		}
		if !bytes.Equal(fa.Digest(), want) || !bytes.Equal(fa.MetadataDigest(), wantMD) || fa.RequiresPython() != ">=3.10" || !fa.Metadata() {
			t.Errorf("%s: digest %x metadata %x %q, want %x %x", algo, fa.Digest(), fa.MetadataDigest(), fa.RequiresPython(), want, wantMD)
		}
	}
}

// Uploads use every processor while nobody reads, and leave one to reads
// while somebody does.
func TestTurns(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	s := newStore(t, DefaultGuard, t.TempDir())
	taken := func() chan chan struct{} {
		c := make(chan chan struct{}, 1)
		go func() { c <- s.takeTurn() }()
		return c
	}
	first := s.takeTurn()
	select {
	case second := <-taken():
		<-second
	case <-time.After(5 * time.Second):
		t.Fatal("a lone upload got one processor of two while nobody read")
	}
	<-first

	s.readStarted()
	first = s.takeTurn()
	waiting := taken()
	select {
	case <-waiting:
		t.Fatal("an upload took the last processor from a read in progress")
	case <-time.After(50 * time.Millisecond):
	}
	s.readDone()
	<-first
	<-<-waiting
}

func TestFileIndex(t *testing.T) {
	var x fileIndex
	for _, n := range []int{0, 1, 7, 1000} {
		var files []*File
		for i := range n {
			files = append(files, &File{Rel: fmt.Sprintf("sub/p%d-1.0.tar.gz", i)})
		}
		x.reset(files)
		for _, f := range files {
			if got := x.find([]byte(f.Filename())); got != f {
				t.Fatalf("%d files: find(%s) = %v", n, f.Filename(), got)
			}
		}
		for _, missing := range []string{"", "p-1.0.tar.gz", fmt.Sprintf("p%d-1.0.tar.gz", n)} {
			if got := x.find([]byte(missing)); got != nil {
				t.Fatalf("%d files: find(%q) = %v, want nil", n, missing, got.Rel)
			}
		}
	}
}

// Uploads whose clients stall between writes hold no chunk: as many as
// like may wait at once, and another upload still goes through.
func TestStalledUploadsHoldNoChunks(t *testing.T) {
	s := newStore(t, DefaultGuard, t.TempDir())
	data := bytes.Repeat([]byte("x"), chunksInFlight*UploadChunk)
	finished := make(chan error, 1)
	go func() {
		var stalled []*Upload
		defer func() {
			for _, u := range stalled {
				u.Abort()
			}
		}()
		for range 2 * sharedChunks / chunksInFlight {
			u, err := s.Begin("stalled")
			if err != nil {
				finished <- err
				return
			}
			stalled = append(stalled, u)
			if _, err := u.Write(data); err != nil {
				finished <- err
				return
			}
		}
		u, err := s.Begin("moving")
		if err == nil {
			_, err = u.Write(data)
		}
		if err == nil {
			err = u.Close()
			u.Abort()
		}
		finished <- err
	}()
	select {
	case err := <-finished:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("uploads waiting for their clients kept others from being written")
	}
}

// A directory is rebuilt from what a read finds: what changed in it shows,
// and a change its timestamps did not show is found by the hash of the
// listing, then rebuilt by a second read.
func TestRereadDirectory(t *testing.T) {
	const files = 26
	root := t.TempDir()
	for i := range files {
		must(t, os.WriteFile(filepath.Join(root, fmt.Sprintf("p%d-1.0.tar.gz", i)), nil, 0o644))
	}
	s := newStore(t, 0, root)
	count := func() int {
		t.Helper()
		snap, err := s.Snapshot(context.Background())
		must(t, err)
		return snap.FileCount()
	}
	if n := count(); n != files {
		t.Fatalf("listed %d files, want %d", n, files)
	}
	must(t, os.WriteFile(filepath.Join(root, "zz-1.0.tar.gz"), nil, 0o644))
	if n := count(); n != files+1 {
		t.Fatalf("after an add: %d files, want %d", n, files+1)
	}
	must(t, os.Remove(filepath.Join(root, "p7-1.0.tar.gz")))
	snap, err := s.Snapshot(context.Background())
	must(t, err)
	if snap.FileCount() != files || snap.Project("p7") != nil || snap.Project("zz") == nil {
		t.Fatalf("after a removal: %d files, p7 %v, zz %v", snap.FileCount(), snap.Project("p7") != nil, snap.Project("zz") != nil)
	}
	// A change the timestamps did not show (within one tick): the first
	// read, which only hashes the listing, finds it, and a second rebuilds.
	must(t, os.Remove(filepath.Join(root, "p8-1.0.tar.gz")))
	top := s.roots[0].top
	old := top.view.Load()
	v, err := s.reread(top, old, false)
	must(t, err)
	if v == old || len(v.files) != files-1 {
		t.Fatalf("re-read without a timestamp change: a new view %v, %d files, want %d", v != old, len(v.files), files-1)
	}
	for _, f := range v.files {
		if f.Filename() == "p8-1.0.tar.gz" {
			t.Fatal("the removed file is still listed")
		}
	}
}

// A listing that fills the read buffer several times is read whole, its
// records parsed up to the buffer's last byte.
func TestReadDirFillsBuffers(t *testing.T) {
	dir := t.TempDir()
	// On tmpfs, when there is one, the files are made in milliseconds.
	if shm, err := os.MkdirTemp("/dev/shm", "readdir"); err == nil {
		dir = shm
		t.Cleanup(func() { os.RemoveAll(shm) })
	}
	want := map[string]bool{}
	for i := range 5000 {
		name := fmt.Sprintf("f%d", i)
		if i%7 == 0 {
			name += strings.Repeat("x", 200+i%50)
		}
		must(t, os.WriteFile(filepath.Join(dir, name), nil, 0o644))
		want[name] = true
	}
	got := map[string]bool{}
	must(t, readDir(dir, func(name []byte, ino uint64, typ uint8) error {
		if ino == 0 && runtime.GOOS != "windows" || typ != typeRegular && typ != typeUnknown {
			t.Errorf("%s: inode %d, type %d", name, ino, typ)
		}
		got[string(name)] = true
		return nil
	}))
	if len(got) != len(want) {
		t.Fatalf("read %d names, want %d", len(got), len(want))
	}
	for name := range want {
		if !got[name] {
			t.Fatalf("%s not read", name)
		}
	}
}

// Requires-Python texts numbered by concurrent readers read back as they
// were, each numbered once.
func TestRequiresPythonNumbers(t *testing.T) {
	texts := []string{">=3.8", ">=3.8,<4.0", "", ">=3.10", ">=2.7, !=3.0.*, !=3.1.*"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				rp := texts[(g+i)%len(texts)] + strconv.Itoa(i%7)
				fa := newFacts(identity{ino: uint64(i)}, true, make([]byte, 32), make([]byte, 32), rp)
				if got := fa.RequiresPython(); got != rp {
					t.Errorf("read back %q, want %q", got, rp)
					return
				}
			}
		})
	}
	wg.Wait()
	if a, b := requiresPythonID(">=3.8,<4.0"+"1"), requiresPythonID(">=3.8,<4.0"+"1"); a != b || a == 0 {
		t.Errorf("one text numbered %d and %d", a, b)
	}
	if requiresPythonID("") != 0 {
		t.Error(`"" is numbered`)
	}
}

// Facts have no pointers, so the collector need not look inside them;
// what does not fit in them goes to an extension, and reads back the same.
func TestFactsWithoutPointers(t *testing.T) {
	// One is kept per file: 112 bytes is a size class of its own, 128 the
	// next one up.
	if size := reflect.TypeFor[Facts]().Size(); size > 112 {
		t.Errorf("Facts take %d bytes, more than 112", size)
	}
	ft := reflect.TypeFor[Facts]()
	for i := range ft.NumField() {
		switch k := ft.Field(i).Type.Kind(); k {
		case reflect.Pointer, reflect.String, reflect.Slice, reflect.Map, reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
			t.Errorf("Facts.%s is a %s: the collector would scan every Facts", ft.Field(i).Name, k)
		}
	}
	long := ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*, !=3.4.*"
	for _, tc := range []struct {
		name     string
		n        int // digest length; 0 for none
		metadata bool
		rp       string
		ext      bool
	}{
		{"sha256", 32, true, ">=3.9", false},
		{"no metadata", 32, false, "", false},
		{"long rp", 32, true, long, false},
		{"the same rp again", 32, true, ">=3.9", false},
		{"sha512", 64, true, ">=3.9", true},
		{"sha512, long rp", 64, true, long, true},
		{"sha512 without metadata", 64, false, "", false},
		{"sha384", 48, true, "", true},
		{"no hashing", 0, true, long, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, md := make([]byte, tc.n), make([]byte, tc.n)
			for i := range d {
				d[i], md[i] = byte(i+1), byte(200-i)
			}
			if !tc.metadata {
				md = nil
			}
			if tc.n == 0 {
				d, md = nil, nil
			}
			id := identity{dev: 1, ino: 2, size: 3, mtime: 4, ctime: 5}
			fa := newFacts(id, tc.metadata, d, md, tc.rp)
			if fa.ext != tc.ext {
				t.Errorf("extension %v, want %v", fa.ext, tc.ext)
			}
			if !bytes.Equal(fa.Digest(), d) || !bytes.Equal(fa.MetadataDigest(), md) || fa.RequiresPython() != tc.rp ||
				fa.Metadata() != tc.metadata || fa.key != keyOf(id) {
				t.Errorf("read back %x %x %q %v %+v", fa.Digest(), fa.MetadataDigest(), fa.RequiresPython(), fa.Metadata(), fa.key)
			}
		})
	}
}
