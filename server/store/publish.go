package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/meta"
)

// Published says where an upload landed.
type Published struct {
	Rel      string // path below the first root
	Replaced bool   // an existing file of the same name was overwritten
}

// Publish makes the received bytes appear as filename in the project's
// directory: the data is flushed to stable storage, then linked under its
// name, which fails if a file of that name exists, so of two writers racing
// for one name, on any number of hosts sharing the file system, exactly one
// wins. With overwrite, the file replaces an existing one by rename
// instead, which readers also see as one change. The directory is flushed
// before Publish returns, so the file survives a crash of this host.
//
// A file of the same name elsewhere in the first root (a flat or nested
// layout) is the one replaced or refused, never duplicated; one in a later
// root cannot be replaced from here.
func (u *Upload) Publish(ctx context.Context, filename string, overwrite bool) (*Published, error) {
	if u.done {
		return nil, errors.New("upload already finished")
	}
	defer u.Abort()
	if err := u.Close(); err != nil {
		return nil, err
	}
	if err := u.tmp.Sync(); err != nil {
		return nil, fmt.Errorf("flushing upload: %w", err)
	}
	st, err := u.tmp.Stat()
	if err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	if err := u.tmp.Close(); err != nil {
		return nil, fmt.Errorf("closing upload: %w", err)
	}
	if err := mkdirSynced(u.dir); err != nil {
		return nil, err
	}
	target := filepath.Join(u.dir, filename)
	existing, err := u.s.findFile(ctx, u.project, filename)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		if !overwrite {
			return nil, fmt.Errorf("%s: %w", filename, ErrExists)
		}
		if existing.root != u.s.roots[0] {
			return nil, fmt.Errorf("%s is served from a root that uploads do not write to: %w", filename, ErrExists)
		}
		target = existing.Path()
	}
	replaced := false
	if existing == nil {
		if err := removeOrphanSidecars(target); err != nil {
			return nil, err
		}
	}
	err = os.Link(u.tmp.Name(), target)
	for tries := 0; errors.Is(err, fs.ErrNotExist) && tries < 3; tries++ {
		// The project's directory went between its making and the link:
		// another replica removed the project's last file and, in the
		// per-project layout, its empty directory. Make it again.
		if err := mkdirSynced(u.dir); err != nil {
			return nil, err
		}
		err = os.Link(u.tmp.Name(), target)
	}
	if err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("publishing %s: %w", filename, err)
		}
		if !overwrite {
			return nil, fmt.Errorf("%s: %w", filename, ErrExists)
		}
		if err := os.Rename(u.tmp.Name(), target); err != nil {
			return nil, fmt.Errorf("publishing %s: %w", filename, err)
		}
		replaced = true
	}
	if err := syncDir(filepath.Dir(target)); err != nil {
		return nil, err
	}
	rel, _ := filepath.Rel(u.s.roots[0].path, target)
	rel = filepath.ToSlash(rel)
	// The record is written after the file is published, so it can only
	// ever describe a published file; a reader that comes in between
	// computes the facts itself.
	// A reader finds the record under the project the file name says.
	project := u.project
	if df, err := dist.Parse(filename); err == nil {
		project = df.Normalized()
	}
	key := recordKey{path.Dir("/" + rel)[1:], project}
	if err := u.s.mergeRecord(key, map[string]recordedFacts{filename: u.record(st, filename)}); err != nil {
		u.s.opts.Log.Error(err, "recording the facts of an uploaded file", "file", rel)
	}
	return &Published{Rel: rel, Replaced: replaced}, nil
}

// record is the facts record of the published file, whose identity the
// temporary file's stat gave (a link keeps inode, size and mtime).
func (u *Upload) record(st os.FileInfo, filename string) recordedFacts {
	rec := recordedFacts{
		Ino: inodeOf(st), Size: st.Size(), MtimeNs: st.ModTime().UnixNano(),
		Digests: u.digests(),
	}
	if u.meta != nil {
		if fields, err := meta.Parse(u.meta); err == nil {
			rec.RequiresPython = fields.RequiresPython
		}
		// The read path serves a wheel's METADATA as its PEP 658 file.
		if df, err := dist.Parse(filename); err == nil && df.Kind == dist.Wheel {
			rec.Metadata = true
			rec.MetadataDigest = map[string]string{}
			for algo, h := range hashes {
				d := h()
				d.Write(u.meta)
				rec.MetadataDigest[algo] = hex.EncodeToString(d.Sum(nil))
			}
		}
	}
	return rec
}

// Exists reports whether a file of the project with the given name is
// listed now, in any root.
func (s *Store) Exists(ctx context.Context, project, filename string) (bool, error) {
	f, err := s.findFile(ctx, dist.Normalize(project), filename)
	return f != nil, err
}

// findFile looks for a listed file of the project with the given name, in
// the listing as it is now.
func (s *Store) findFile(ctx context.Context, project, filename string) (*File, error) {
	p, err := s.Project(ctx, project)
	if err != nil || p == nil {
		return nil, err
	}
	for _, f := range p.Files {
		if f.Filename() == filename {
			return f, nil
		}
	}
	return nil, nil
}
