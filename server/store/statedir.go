package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The store keeps its own files in a hidden directory of the first root,
// which listings never enter: temporary files being written (there, not
// beside their destination, so a project's directory changes once per
// upload, when the file appears) and the facts records of uploaded files.
// It is on the same file system as the files it publishes, as link and
// rename need.
const (
	// StateDir is the store's directory, below the first root.
	StateDir = ".pkgindex"
	// TempPrefix starts the name of every temporary file in StateDir/tmp.
	TempPrefix = "tmp-"
)

// tempDir is where files being written live; it is made on first use.
func (s *Store) tempDir() (string, error) {
	dir := s.tempPath()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("making %s: %w", dir, err)
	}
	return dir, nil
}

func (s *Store) tempPath() string { return filepath.Join(s.roots[0].path, StateDir, "tmp") }

// CleanTemp removes temporary files older than maxAge that writers left in
// the store's temporary directory (a crash, a killed pod). Younger ones may
// belong to an upload still running on another replica.
//
// It only looks: a root that never had an upload (or is read-only) has no
// temporary directory and nothing to clean.
func (s *Store) CleanTemp(maxAge time.Duration) (removed int, err error) {
	dir := s.tempPath()
	cutoff := time.Now().Add(-maxAge)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cleaning %s: %w", dir, err)
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), TempPrefix) {
			continue
		}
		info, err := e.Info()
		if err != nil || info.ModTime().After(cutoff) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err == nil {
			removed++
			s.opts.Log.Info("removed an abandoned temporary file", "path", p, "age", time.Since(info.ModTime()).Round(time.Second).String())
		}
	}
	return removed, nil
}

func (s *Store) createTemp() (*os.File, error) {
	dir, err := s.tempDir()
	if err != nil {
		return nil, err
	}
	var b [12]byte
	rand.Read(b[:])
	name := filepath.Join(dir, TempPrefix+hex.EncodeToString(b[:]))
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating temporary file in %s: %w", dir, err)
	}
	return f, nil
}

// writeAtomic replaces path with data: a reader sees the old contents or
// the new, never a part.
func (s *Store) writeAtomic(path string, data []byte) error {
	return s.replaceFile(path, data, true)
}

// replaceFile writes data to path through a temporary file renamed into
// place, so no reader sees part of it; with durable, flushed to disk first.
func (s *Store) replaceFile(path string, data []byte, durable bool) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("making %s: %w", dir, err)
	}
	f, err := s.createTemp()
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if durable {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("flushing %s: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	if !durable {
		return nil
	}
	return syncDir(dir)
}

// SyncDir flushes directory dir to disk, so that a file just renamed or
// linked into it survives a crash. Where a system cannot flush a
// directory (Windows), it does nothing.
func SyncDir(dir string) error { return syncDir(dir) }

// mkdirSynced makes dir (one level below an existing root) and flushes its
// parent, so a crash cannot lose the directory a published file is in.
func mkdirSynced(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if err == nil {
		return syncDir(filepath.Dir(dir))
	}
	if errors.Is(err, fs.ErrExist) {
		st, serr := os.Lstat(dir)
		if serr == nil && st.IsDir() {
			return nil
		}
		return fmt.Errorf("%s exists and is not a directory: %w", dir, ErrBadPath)
	}
	return fmt.Errorf("making %s: %w", dir, err)
}
