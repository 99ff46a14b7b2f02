package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"pkgindex.dev/pkgindex/server/dist"
)

// WriteSidecarRel stores data beside the file at rel in the first root,
// as WriteSidecar does; it is for the file an upload just published.
func (s *Store) WriteSidecarRel(rel, suffix string, data []byte) error {
	if err := CleanRel(rel); err != nil {
		return err
	}
	return s.writeAtomic(filepath.Join(s.roots[0].path, filepath.FromSlash(rel))+suffix, data)
}

// WriteSidecar stores data beside a file of the first root (a yank reason,
// a provenance object), replacing what was there in one step.
//
// f comes from a listing that may be a moment old: another replica may
// have removed the file since. The sidecar is written first and the file
// checked after, so a sidecar is never left beside no file: where the file
// is gone (or, by inode, is another one) the sidecar is taken back and the
// answer is ErrNotFound. A file published again under the same name in
// that moment may keep the sidecar (inode numbers are reused at once); a
// yank names a release, not a file, so that is the yank taking effect
// after the upload.
func (s *Store) WriteSidecar(f *File, suffix string, data []byte) error {
	if err := s.writable(f); err != nil {
		return err
	}
	if err := s.writeAtomic(f.Path()+suffix, data); err != nil {
		return err
	}
	if id, err := statFresh(f.Path(), false); err != nil || id.ino != f.ino {
		if rerr := os.Remove(f.Path() + suffix); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return fmt.Errorf("taking back %s%s: %w", f.Rel, suffix, rerr)
		}
		return fmt.Errorf("%s: %w", f.Rel, ErrNotFound)
	}
	return nil
}

// writable refuses changes to files of roots other than the first, which
// the index reads but never writes.
func (s *Store) writable(f *File) error {
	if f.root != s.roots[0] {
		return fmt.Errorf("%s is served from a root that is not written to: %w", f.Rel, ErrReadOnly)
	}
	return nil
}

// removeOrphanSidecars deletes sidecars lying beside a name that holds no
// file, before a new file takes the name: a yank that raced a removal on
// another replica must not mark the next upload of that name.
func removeOrphanSidecars(target string) error {
	for _, suf := range sidecarSuffixes {
		if err := os.Remove(target + suf); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing stale %s: %w", filepath.Base(target+suf), err)
		}
	}
	return nil
}

// RemoveSidecar deletes a sidecar of a file of the first root; a missing
// one is not an error.
func (s *Store) RemoveSidecar(f *File, suffix string) error {
	if err := s.writable(f); err != nil {
		return err
	}
	if err := os.Remove(f.Path() + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing %s%s: %w", f.Rel, suffix, err)
	}
	return syncDir(filepath.Dir(f.Path()))
}

// Remove deletes a file of the first root and its sidecars. The file goes
// first: from then on it is no longer listed, whatever happens to the rest.
func (s *Store) Remove(f *File) error {
	if err := s.writable(f); err != nil {
		return err
	}
	if err := os.Remove(f.Path()); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %w", f.Rel, ErrNotFound)
		}
		return fmt.Errorf("removing %s: %w", f.Rel, err)
	}
	if err := s.forgetRecorded(f); err != nil {
		s.opts.Log.Error(err, "removing the facts of a removed file", "path", f.Path())
	}
	var leftovers []string
	for _, suf := range sidecarSuffixes {
		leftovers = append(leftovers, f.Path()+suf)
	}
	for _, p := range leftovers {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.opts.Log.Error(err, "removing sidecar of a removed file", "path", p)
		}
	}
	dir := filepath.Dir(f.Path())
	if s.opts.Layout == LayoutPerProject && strings.Count(f.Rel, "/") == 1 {
		// In the per-project layout a project exists while its directory
		// does: the last file's removal removes the project, as it does in
		// pypiserver. A directory still holding anything (a status marker,
		// a file uploaded a moment ago) stays.
		if err := os.Remove(dir); err == nil {
			return syncDir(f.root.path)
		}
	}
	return syncDir(dir)
}

// SetProjectStatus writes the project's status marker in its directory of
// the first root, where ProjectStatus reads it first.
func (s *Store) SetProjectStatus(project string, st Status) error {
	if !dist.ValidProject(project) {
		return fmt.Errorf("project name %q: %w", project, ErrBadPath)
	}
	switch st.Status {
	case StatusActive, StatusArchived, StatusQuarantined, StatusDeprecated:
	default:
		return fmt.Errorf("unknown project status %q: %w", st.Status, ErrBadPath)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	dir := filepath.Join(s.roots[0].path, dist.Normalize(project))
	if err := mkdirSynced(dir); err != nil {
		return err
	}
	return s.writeAtomic(filepath.Join(dir, StatusFile), b)
}
