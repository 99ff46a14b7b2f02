package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// In the per-project layout a request checks the roots and, for a project
// page, the directories named after the project: as many checks for an
// index of 2,000 projects as for one of 20. In pypiserver's layout every
// request checks every directory.
func TestChecksPerRequest(t *testing.T) {
	for _, projects := range []int{20, 200, 2000} {
		root := t.TempDir()
		for i := range projects {
			name := fmt.Sprintf("p%d", i)
			must(t, os.Mkdir(filepath.Join(root, name), 0o755))
			must(t, os.WriteFile(filepath.Join(root, name, name+"-1.0.tar.gz"), nil, 0o644))
		}
		must(t, os.WriteFile(filepath.Join(root, "flat-1.0.tar.gz"), nil, 0o644))
		for _, tc := range []struct {
			layout             Layout
			index, page, files int
		}{
			{LayoutPerProject, 1, 2, 1},
			{LayoutAny, projects + 1, projects + 1, 1},
		} {
			t.Run(fmt.Sprintf("%d/%s", projects, tc.layout), func(t *testing.T) {
				ctx := context.Background()
				s := newStoreIn(t, tc.layout, DefaultGuard, root)
				_, err := s.Snapshot(ctx) // the first scan a server does at start
				must(t, err)
				before := s.Stats.DirChecks.Load()
				names, err := s.Index(ctx)
				must(t, err)
				if len(names.Names) != projects+1 {
					t.Fatalf("/simple/ lists %d projects, want %d", len(names.Names), projects+1)
				}
				if n := s.Stats.DirChecks.Load() - before; n != uint64(tc.index) {
					t.Errorf("/simple/ checked %d directories, want %d", n, tc.index)
				}
				before = s.Stats.DirChecks.Load()
				p, err := s.Project(ctx, "p7")
				must(t, err)
				if p == nil || len(p.Files) != tc.files {
					t.Fatalf("project p7: %v", p)
				}
				if n := s.Stats.DirChecks.Load() - before; n != uint64(tc.page) {
					t.Errorf("a project page checked %d directories, want %d", n, tc.page)
				}
				// Every check is timed, for the storage-slow alert.
				if timed, _, _ := s.Stats.DirCheckTime.Read(); timed != s.Stats.DirChecks.Load() {
					t.Errorf("%d checks timed of %d", timed, s.Stats.DirChecks.Load())
				}
			})
		}
	}
}

// What the per-project layout serves: files in the root and in directories
// named after their project, under any spelling of the name; a project
// whose directory is empty exists with no files; files of another project,
// and anything deeper, are not served.
func TestPerProjectLayout(t *testing.T) {
	root, second := t.TempDir(), t.TempDir()
	write := func(path string) {
		t.Helper()
		must(t, os.MkdirAll(filepath.Dir(path), 0o755))
		must(t, os.WriteFile(path, []byte(path), 0o644))
	}
	write(filepath.Join(root, "alpha-1.0.tar.gz"))
	write(filepath.Join(root, "alpha", "alpha-2.0.tar.gz"))
	write(filepath.Join(root, "Alpha_Two", "alpha_two-1.0.tar.gz"))
	write(filepath.Join(root, "alpha", "beta-1.0.tar.gz"))         // another project's file
	write(filepath.Join(root, "alpha", "old", "alpha-0.1.tar.gz")) // too deep
	write(filepath.Join(second, "alpha", "alpha-2.0.tar.gz"))      // shadowed by the first root
	write(filepath.Join(second, "alpha", "alpha-3.0.tar.gz"))
	must(t, os.Mkdir(filepath.Join(root, "empty"), 0o755))
	must(t, os.Mkdir(filepath.Join(root, "not a name"), 0o755))

	s := newStoreIn(t, LayoutPerProject, DefaultGuard, root, second)
	ctx := context.Background()
	names, err := s.Index(ctx)
	must(t, err)
	if want := []string{"alpha", "alpha-two", "empty"}; !slices.Equal(names.Names, want) {
		t.Errorf("/simple/ lists %v, want %v", names.Names, want)
	}
	for name, want := range map[string][]string{
		"alpha":     {root + "/alpha-1.0.tar.gz", root + "/alpha/alpha-2.0.tar.gz", second + "/alpha/alpha-3.0.tar.gz"},
		"alpha-two": {root + "/Alpha_Two/alpha_two-1.0.tar.gz"},
		"empty":     nil,
		"beta":      nil,
	} {
		p, err := s.Project(ctx, name)
		must(t, err)
		if name == "beta" {
			if p != nil {
				t.Errorf("beta, whose file lies in alpha's directory, is served: %v", p.Files)
			}
			continue
		}
		if p == nil {
			t.Fatalf("project %s not found", name)
		}
		var got []string
		for _, f := range p.Files {
			got = append(got, f.Path())
		}
		if !slices.Equal(got, want) {
			t.Errorf("project %s lists %v, want %v", name, got, want)
		}
	}
	snap, err := s.Snapshot(ctx)
	must(t, err)
	if snap.FileCount() != 4 || snap.Project("empty") == nil || snap.Project("beta") != nil {
		t.Errorf("the snapshot lists %d files, empty %v, beta %v", snap.FileCount(), snap.Project("empty") != nil, snap.Project("beta") != nil)
	}
	if sh := newStoreShape(t, root); sh.FitsPerProject {
		t.Error("a tree with a nested directory and a misplaced file is taken for the per-project layout")
	}
}

func newStoreShape(t *testing.T, root string) Shape {
	t.Helper()
	s := newStore(t, DefaultGuard, root)
	snap, err := s.Snapshot(context.Background())
	must(t, err)
	return s.Shape(snap)
}

// Removing a project's last file removes its directory, and so the
// project, in the per-project layout; a directory holding a status marker
// stays. An upload after that makes the directory again.
func TestRemoveLastFileRemovesProject(t *testing.T) {
	root := t.TempDir()
	s := newStoreIn(t, LayoutPerProject, DefaultGuard, root)
	ctx := context.Background()
	publish := func(project, name string) {
		t.Helper()
		u, err := s.Begin(project)
		must(t, err)
		u.Write([]byte(name))
		_, err = u.Publish(ctx, name, false)
		must(t, err)
	}
	removeAll := func(project string) {
		t.Helper()
		p, err := s.Project(ctx, project)
		must(t, err)
		for _, f := range p.Files {
			must(t, s.Remove(f))
		}
	}
	publish("demo", "demo-1.0.tar.gz")
	publish("demo", "demo-2.0.tar.gz")
	if sh := newStoreShape(t, root); !sh.FitsPerProject || sh.Dirs != 2 {
		t.Errorf("uploads wrote a tree of shape %+v, want the per-project layout in 2 directories", sh)
	}
	removeAll("demo")
	if _, err := os.Stat(filepath.Join(root, "demo")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the empty project directory stays: %v", err)
	}
	if p, err := s.Project(ctx, "demo"); err != nil || p != nil {
		t.Fatalf("a project with no directory is still served: %v %v", p, err)
	}
	publish("demo", "demo-3.0.tar.gz")
	must(t, s.SetProjectStatus("demo", Status{Status: StatusArchived}))
	removeAll("demo")
	p, err := s.Project(ctx, "demo")
	must(t, err)
	if p == nil || len(p.Files) != 0 {
		t.Fatalf("an archived project with no files: %v, want it listed with no files", p)
	}
}

// waitRecords waits until s has written every project record it queued.
func waitRecords(t *testing.T, s *Store) {
	t.Helper()
	for range 500 {
		s.records.mu.Lock()
		busy := s.records.writing
		s.records.mu.Unlock()
		if !busy {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("project records not written after 5s")
}

// A replica that hashed files records their facts, so the next replica
// hashes none of them; a record that is corrupt, or that describes a file
// since replaced, is never served.
func TestProjectRecords(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	var files []string
	for i := range 30 {
		dir := filepath.Join(root, fmt.Sprintf("p%d", i%3))
		must(t, os.MkdirAll(dir, 0o755))
		path := filepath.Join(dir, fmt.Sprintf("p%d-1.%d.tar.gz", i%3, i))
		must(t, os.WriteFile(path, []byte(path), 0o644))
		files = append(files, path)
	}
	must(t, os.WriteFile(filepath.Join(root, "flat-1.0.tar.gz"), []byte("flat"), 0o644))
	digests := func(s *Store) map[string]string {
		t.Helper()
		snap, err := s.Snapshot(ctx)
		must(t, err)
		out := map[string]string{}
		for _, p := range snap.Projects() {
			for i, fa := range s.FactsAll(ctx, p.Files) {
				if fa == nil {
					t.Fatalf("no facts for %s", p.Files[i].Rel)
				}
				out[p.Files[i].Rel] = hex.EncodeToString(fa.Digest())
			}
		}
		return out
	}
	// A guard of 0: the files count as settled at once, as files copied in
	// long before a replica starts do.
	first := newStoreIn(t, LayoutPerProject, 0, root)
	want := digests(first)
	waitRecords(t, first)
	if n := first.Stats.FactsRecordWrites.Load(); n < 4 {
		t.Fatalf("%d project records written, want one per project directory and one for the root", n)
	}
	second := newStoreIn(t, LayoutPerProject, 0, root)
	if got := digests(second); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("from the records:\n%v\nhashed:\n%v", got, want)
	}
	if n := second.Stats.HashedBytes.Load(); n != 0 {
		t.Errorf("the second replica hashed %d bytes, want none", n)
	}
	if n := second.Stats.FactsRecorded.Load(); n != uint64(len(want)) {
		t.Errorf("%d facts from records, want %d", n, len(want))
	}

	// A file replaced in place, and a record made unreadable: both are
	// hashed again, and the digests are the files' own.
	must(t, os.WriteFile(files[0], []byte("new contents"), 0o644))
	want["p0/p0-1.0.tar.gz"] = sha([]byte("new contents"))
	must(t, os.WriteFile(filepath.Join(root, StateDir, "facts", "p1", ".p1.facts"), []byte(`{"files": {"p1-1.1.tar.gz": `), 0o644))
	third := newStoreIn(t, LayoutPerProject, 0, root)
	if got := digests(third); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after a change:\n%v\nwant:\n%v", got, want)
	}
	if n, want := third.Stats.FactsRecorded.Load(), uint64(len(want)-11); n != want {
		t.Errorf("%d facts from records, want %d (all but p1's ten and the replaced file)", n, want)
	}
	waitRecords(t, third)
}
