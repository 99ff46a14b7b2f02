package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"
)

// describe spells out everything a snapshot lists, in order.
func describe(snap *Snapshot) string {
	var b strings.Builder
	for _, p := range snap.Projects() {
		b.WriteString(describeProject(p))
	}
	fmt.Fprintf(&b, "%d files\n", snap.FileCount())
	return b.String()
}

// describeProject spells out what a project lists, in order.
func describeProject(p *Project) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s status=%v versions=%v\n", p.Name, p.statusFiles, p.AppendVersions(nil))
	for _, f := range p.Files {
		fmt.Fprintf(&b, "  %s/%s marks=%d ino=%d\n", f.root.path, f.Rel, f.marks, f.ino)
	}
	return b.String()
}

// A store that follows changes builds each snapshot from the last one and
// the projects that changed. After every step of a random sequence of
// changes (files added, replaced and removed, sidecars, status markers,
// directories appearing and vanishing, in two roots and both layouts) it
// must list exactly what a new store reading everything lists.
func TestIncrementalBuildMatchesFull(t *testing.T) {
	for _, layout := range []Layout{LayoutAny, LayoutPerProject} {
		t.Run(layout.String(), func(t *testing.T) { testIncrementalBuild(t, layout) })
	}
}

func testIncrementalBuild(t *testing.T, layout Layout) {
	roots := []string{t.TempDir(), t.TempDir()}
	rng := rand.New(rand.NewPCG(1, 2))
	projects := []string{"alpha", "beta", "gamma", "delta-x", "eps"}
	dirs := func(root string) []string {
		out := []string{root, filepath.Join(root, "nested", "deep")}
		for _, p := range projects[:3] {
			out = append(out, filepath.Join(root, p))
		}
		return out
	}
	var present []string // files made, some since removed
	steps := []func(){
		func() { // add or replace a distribution file
			root := roots[rng.IntN(len(roots))]
			ds := dirs(root)
			d := ds[rng.IntN(len(ds))]
			must(t, os.MkdirAll(d, 0o755))
			p := projects[rng.IntN(len(projects))]
			name := fmt.Sprintf("%s-%d.%d.tar.gz", p, rng.IntN(3), rng.IntN(3))
			if rng.IntN(2) == 0 {
				name = fmt.Sprintf("%s-%d.0-py3-none-any.whl", strings.ReplaceAll(p, "-", "_"), rng.IntN(3))
			}
			path := filepath.Join(d, name)
			os.Remove(path) // a replacement is a new inode
			must(t, os.WriteFile(path, []byte(name), 0o644))
			present = append(present, path)
		},
		func() { // remove a file
			if len(present) > 0 {
				os.Remove(present[rng.IntN(len(present))])
			}
		},
		func() { // yank or unyank a file
			if len(present) > 0 {
				f := present[rng.IntN(len(present))]
				y := f + YankedSuffix
				if _, err := os.Stat(f); err == nil && os.Remove(y) != nil {
					must(t, os.WriteFile(y, []byte("bad"), 0o644))
				}
			}
		},
		func() { // set or clear a project's status
			root := roots[rng.IntN(len(roots))]
			d := filepath.Join(root, projects[rng.IntN(3)])
			must(t, os.MkdirAll(d, 0o755))
			marker := filepath.Join(d, StatusFile)
			if os.Remove(marker) != nil {
				must(t, os.WriteFile(marker, []byte(`{"status": "archived"}`), 0o644))
			}
		},
		func() { // remove a whole directory
			root := roots[rng.IntN(len(roots))]
			ds := dirs(root)[1:]
			os.RemoveAll(ds[rng.IntN(len(ds))])
		},
		func() { // a file that is no distribution
			root := roots[rng.IntN(len(roots))]
			must(t, os.WriteFile(filepath.Join(root, fmt.Sprintf("README-%d.txt", rng.IntN(3))), nil, 0o644))
		},
	}
	s := newStoreIn(t, layout, DefaultGuard, roots...)
	for i := range 400 {
		for range 1 + rng.IntN(3) {
			steps[rng.IntN(len(steps))]()
		}
		got, err := s.Snapshot(context.Background())
		must(t, err)
		fresh := newStoreIn(t, layout, DefaultGuard, roots...)
		want, err := fresh.Snapshot(context.Background())
		must(t, err)
		if g, w := describe(got), describe(want); g != w {
			t.Fatalf("step %d: the store that followed the changes lists\n%s\na new store lists\n%s", i, g, w)
		}
		// What requests see of one project, or of the names, is what the
		// snapshot lists, in the store that followed and in a new one.
		for _, st := range []*Store{s, fresh} {
			names, err := st.Index(context.Background())
			must(t, err)
			var want []string
			for _, p := range got.Projects() {
				want = append(want, p.Name)
			}
			if fmt.Sprint(names.Names) != fmt.Sprint(want) {
				t.Fatalf("step %d: /simple/ lists %v, the snapshot %v", i, names.Names, want)
			}
			for _, p := range got.Projects() {
				q, err := st.Project(context.Background(), p.Name)
				must(t, err)
				if q == nil {
					t.Fatalf("step %d: project %s not found", i, p.Name)
				}
				if g, w := describeProject(q), describeProject(p); g != w {
					t.Fatalf("step %d: the page lists\n%s\nthe snapshot\n%s", i, g, w)
				}
			}
		}
	}
	if s.Stats.Rebuilds.Load() < 100 {
		t.Fatalf("only %d rebuilds in 400 steps: the changes were not seen", s.Stats.Rebuilds.Load())
	}
}

// One File is kept per file served: it must stay within the 64-byte size
// class.
func TestFileSize(t *testing.T) {
	if n := unsafe.Sizeof(File{}); n > 64 {
		t.Errorf("File is %d bytes, want at most 64", n)
	}
}
