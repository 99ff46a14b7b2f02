package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"pkgindex.dev/pkgindex/server/pkgtest"
)

// BenchmarkMemoryPerFile reports what the store keeps per file served: the
// listing, and the facts once every file has been hashed. Both live as
// long as the files, so they set the server's memory (go test -bench
// MemoryPerFile ./server/store).
func BenchmarkMemoryPerFile(b *testing.B) {
	const files, projects = 10000, 400
	root := b.TempDir()
	wheel := pkgtest.Spec{Name: "p", Version: "1"}.WheelBytes()
	for i := range files {
		name := fmt.Sprintf("project_%04d-%d.%d.0-py3-none-any.whl", i%projects, i/projects, i%7)
		if err := os.WriteFile(filepath.Join(root, name), wheel, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		var m0, m1, m2 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		s := newStore(b, DefaultGuard, root)
		snap, err := s.Snapshot(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		for _, p := range snap.Projects() {
			for _, f := range p.Files {
				s.Facts(context.Background(), f)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&m2)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/files, "listing-B/file")
		b.ReportMetric(float64(m2.HeapAlloc-m1.HeapAlloc)/files, "facts-B/file")
		runtime.KeepAlive(snap)
	}
}

// The read path's work per request on a local disk, where a file system
// call costs a microsecond and what the store adds around it is what shows.
func BenchmarkReadPath(b *testing.B) {
	for _, layout := range []Layout{LayoutAny, LayoutPerProject} {
		root := b.TempDir()
		for p := range 20 {
			dir := filepath.Join(root, fmt.Sprintf("p%d", p))
			if err := os.Mkdir(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			for v := range 25 {
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("p%d-1.%d.tar.gz", p, v)), []byte("x"), 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
		s := newStoreIn(b, layout, 0, root)
		ctx := context.Background()
		p, err := s.Project(ctx, "p7")
		if err != nil || p == nil {
			b.Fatal(p, err)
		}
		s.FactsAll(ctx, p.Files)
		b.Run(layout.String()+"/index", func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Index(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(layout.String()+"/page", func(b *testing.B) {
			for b.Loop() {
				p, err := s.Project(ctx, "p7")
				if err != nil {
					b.Fatal(err)
				}
				s.FactsAll(ctx, p.Files)
			}
		})
		b.Run(layout.String()+"/open", func(b *testing.B) {
			for b.Loop() {
				f, err := s.OpenContext(ctx, p.Files[0].Rel)
				if err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}
