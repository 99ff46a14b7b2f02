//go:build unix

package store

import (
	"context"
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

// A FIFO with a distribution file's name is neither listed nor served, and
// asking for it does not wait for a writer that never comes.
func TestFIFOIsNotServed(t *testing.T) {
	root := t.TempDir()
	must(t, syscall.Mkfifo(filepath.Join(root, "a-1.0.tar.gz"), 0o644))
	s, err := New(Options{Roots: []string{root}, Timeout: 10 * time.Second, Log: logr.Discard()})
	must(t, err)
	if got := files(t, s); len(got) != 0 {
		t.Errorf("listing %v, want nothing", got)
	}
	_, err = s.OpenContext(context.Background(), "a-1.0.tar.gz")
	if errors.Is(err, ErrTimeout) {
		t.Fatal("opening a FIFO waited for a writer")
	}
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("opening a FIFO: %v, want ErrNotFound", err)
	}
}
