package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSidecarOfAReplacedFile replays the race the consistency checker
// found between replicas: a yank works from a listing that is a moment
// old, while another replica removes the file. The yank must not leave a
// marker behind, and a new upload never inherits one left beside its name.
func TestSidecarOfAReplacedFile(t *testing.T) {
	publish := func(t *testing.T, s *Store, body string) {
		t.Helper()
		u, err := s.Begin("side")
		must(t, err)
		u.Write([]byte(body))
		_, err = u.Publish(context.Background(), "side-1.0.tar.gz", false)
		must(t, err)
	}
	listed := func(t *testing.T, s *Store) *File {
		t.Helper()
		snap, err := s.Snapshot(context.Background())
		must(t, err)
		p := snap.Project("side")
		if p == nil || len(p.Files) != 1 {
			t.Fatalf("listing: %+v", p)
		}
		return p.Files[0]
	}
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, s *Store, f *File) // between the yank's listing and its write
	}{
		{"removed", func(t *testing.T, s *Store, f *File) { must(t, s.Remove(f)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			s := newStore(t, time.Duration(0), root)
			publish(t, s, "first")
			old := listed(t, s)
			tc.change(t, s, old)
			if err := s.WriteSidecar(old, YankedSuffix, []byte("stale\n")); !errors.Is(err, ErrNotFound) {
				t.Errorf("yank of a file no longer there: %v, want ErrNotFound", err)
			}
			if _, err := os.Stat(filepath.Join(root, "side", "side-1.0.tar.gz"+YankedSuffix)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the refused yank left its marker: %v", err)
			}
		})
	}

	t.Run("orphan marker", func(t *testing.T) {
		root := t.TempDir()
		s := newStore(t, time.Duration(0), root)
		must(t, os.MkdirAll(filepath.Join(root, "side"), 0o755))
		for _, suf := range sidecarSuffixes {
			must(t, os.WriteFile(filepath.Join(root, "side", "side-1.0.tar.gz"+suf), []byte("left over\n"), 0o644))
		}
		publish(t, s, "new")
		f := listed(t, s)
		if f.Yanked() || f.HasProvenance() || f.HasSignature() {
			t.Errorf("a new upload inherited sidecars left beside its name: yanked %v, provenance %v, signature %v",
				f.Yanked(), f.HasProvenance(), f.HasSignature())
		}
	})
}
