package store

import (
	"slices"
	"strings"
	"sync/atomic"
	"unique"

	"pkgindex.dev/pkgindex/server/dist"
)

const (
	markYanked uint8 = 1 << iota
	markProvenance
	markSignature
)

func markFor(suffix string) uint8 {
	switch suffix {
	case YankedSuffix:
		return markYanked
	case ProvenanceSuffix:
		return markProvenance
	case SignatureSuffix:
		return markSignature
	}
	return 0
}

// File is one distribution file found under a root. Its fields never
// change; what may change on disk is checked through Store.Facts.
//
// One File is kept per file served, so it holds only what listing and
// ordering need (80 bytes): the project's normalized name, shared by all
// its files, and the version, a substring of the path. The rest of what
// the name says is parsed again when asked for.
type File struct {
	root    *root
	Rel     string // slash-separated path below its root: the URL path under /packages/
	project string // normalized
	version string // as spelled in the file name
	ino     uint64
	facts   atomic.Pointer[Facts]
	kind    dist.Kind
	marks   uint8
}

func newFile(r *root, rel string, df dist.File, ino uint64, marks uint8) *File {
	return &File{root: r, Rel: rel, project: unique.Make(df.Normalized()).Value(), version: df.Version,
		ino: ino, kind: df.Kind, marks: marks}
}

// Filename is the file's base name.
func (f *File) Filename() string { return f.Rel[strings.LastIndexByte(f.Rel, '/')+1:] }

// Project is the normalized name of the file's project.
func (f *File) Project() string { return f.project }

// Version is the version as the file name spells it.
func (f *File) Version() string { return f.version }

// Kind is the kind of distribution.
func (f *File) Kind() dist.Kind { return f.kind }

// Dist is what the file name says, parsed again.
func (f *File) Dist() dist.File {
	df, _ := dist.Parse(f.Filename())
	return df
}

// Path returns the file's absolute path.
func (f *File) Path() string { return f.root.path + "/" + f.Rel }

// Yanked reports whether a yank marker lies beside the file; its reason is
// read with Store.YankReason.
func (f *File) Yanked() bool { return f.marks&markYanked != 0 }

// HasProvenance reports whether a PEP 740 provenance file lies beside it.
func (f *File) HasProvenance() bool { return f.marks&markProvenance != 0 }

// HasSignature reports whether a detached GPG signature lies beside it.
func (f *File) HasSignature() bool { return f.marks&markSignature != 0 }

// Project is one project's files across all roots.
type Project struct {
	Name     string   // normalized
	Files    []*File  // ordered by version, then file name
	Versions []string // distinct versions as spelled in file names, in order
	// raw is Files in discovery order; a rebuild that discovers the same
	// files in the same order reuses the sorted project.
	raw []*File
	// statusFiles are the StatusFile markers in directories named after
	// the project, in root order.
	statusFiles []string
}

// Snapshot is an immutable listing of every root at one moment.
type Snapshot struct {
	// Gen increases with every change of the listing; equal generations
	// list the same files.
	Gen      uint64
	projects map[string]*Project
	order    []*Project
	files    int
}

// Projects returns every project, ordered by normalized name.
func (s *Snapshot) Projects() []*Project { return s.order }

// Project returns the project with the given normalized name, or nil.
func (s *Snapshot) Project(name string) *Project { return s.projects[name] }

// FileCount returns how many distribution files the snapshot lists.
func (s *Snapshot) FileCount() int { return s.files }

// build assembles a snapshot from the directory states. It runs inside the
// check, so no other goroutine touches the dirs.
func (s *Store) build(gen uint64) *Snapshot {
	snap := &Snapshot{Gen: gen, projects: map[string]*Project{}}
	var seen map[string]struct{}
	if len(s.roots) > 1 {
		seen = map[string]struct{}{}
	}
	var walk func(d *dir)
	walk = func(d *dir) {
		if !d.present {
			return
		}
		for _, f := range d.files {
			if seen != nil {
				if _, dup := seen[f.Rel]; dup {
					continue // shadowed by an earlier root
				}
				seen[f.Rel] = struct{}{}
			}
			name := f.project
			p := snap.projects[name]
			if p == nil {
				p = &Project{Name: name}
				snap.projects[name] = p
			}
			p.raw = append(p.raw, f)
			snap.files++
		}
		for _, sd := range d.subdirs {
			walk(sd)
		}
	}
	for _, r := range s.roots {
		walk(r.top)
		// Per-project directories may hold the project's status marker.
		for _, sd := range r.top.subdirs {
			if !sd.status || !sd.present {
				continue
			}
			name := sd.rel
			if p := snap.projects[name]; p != nil && dist.IsNormalized(name) {
				p.statusFiles = append(p.statusFiles, sd.abs+"/"+StatusFile)
			}
		}
	}
	var prev map[string]*Project
	if cur := s.cur.Load(); cur != nil {
		prev = cur.projects
	}
	snap.order = make([]*Project, 0, len(snap.projects))
	for name, p := range snap.projects {
		if old := prev[name]; old != nil && slices.Equal(old.raw, p.raw) && slices.Equal(old.statusFiles, p.statusFiles) {
			p = old
			snap.projects[name] = old
		} else {
			p.Files = slices.Clone(p.raw)
			sortFiles(p)
		}
		snap.order = append(snap.order, p)
	}
	slices.SortFunc(snap.order, func(a, b *Project) int { return strings.Compare(a.Name, b.Name) })
	return snap
}

// sortFiles orders a project's files by PEP 440 version, then by path, so
// every replica renders the same bytes whatever order its directory
// listings came in; it also fills Versions.
func sortFiles(p *Project) {
	type keyed struct {
		v dist.Version
		f *File
	}
	ks := make([]keyed, len(p.Files))
	for i, f := range p.Files {
		ks[i] = keyed{dist.ParseVersion(f.version), f}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if c := dist.Compare(a.v, b.v); c != 0 {
			return c
		}
		return strings.Compare(a.f.Rel, b.f.Rel)
	})
	for i, k := range ks {
		p.Files[i] = k.f
		if i == 0 || dist.Compare(ks[i-1].v, k.v) != 0 {
			p.Versions = append(p.Versions, k.f.version)
		}
	}
}
