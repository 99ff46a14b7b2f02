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
// ordering need (64 bytes): the project's normalized name, shared by all
// its files, and where the version is in the path. The rest of what the
// name says is parsed again when asked for.
type File struct {
	root    *root
	Rel     string // slash-separated path below its root: the URL path under /packages/
	project string // normalized
	ino     uint64
	facts   atomic.Pointer[Facts]
	verAt   uint16 // the version as spelled in the file name is Rel[verAt:verAt+verLen]
	verLen  uint8  // (paths are shorter than PATH_MAX, names than NAME_MAX)
	kind    dist.Kind
	marks   uint8
}

func newFile(r *root, rel string, df dist.File, ino uint64, marks uint8) *File {
	return &File{root: r, Rel: rel, project: unique.Make(df.Normalized()).Value(),
		verAt: uint16(len(rel) - len(df.Filename) + df.VersionAt()), verLen: uint8(len(df.Version)),
		ino: ino, kind: df.Kind, marks: marks}
}

// withMarks returns a copy of f with other marks; it keeps f's facts.
func (f *File) withMarks(marks uint8) *File {
	g := &File{root: f.root, Rel: f.Rel, project: f.project, verAt: f.verAt, verLen: f.verLen,
		ino: f.ino, kind: f.kind, marks: marks}
	g.facts.Store(f.facts.Load())
	return g
}

// Filename is the file's base name.
func (f *File) Filename() string { return f.Rel[strings.LastIndexByte(f.Rel, '/')+1:] }

// Project is the normalized name of the file's project.
func (f *File) Project() string { return f.project }

// Version is the version as the file name spells it.
func (f *File) Version() string { return f.Rel[f.verAt : int(f.verAt)+int(f.verLen)] }

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
	Name  string  // normalized
	Files []*File // ordered by version, then file name
	// firsts has bit i set where Files[i] is the first file of a version.
	firsts []uint64
	// statusFiles are the StatusFile markers in directories named after
	// the project, in root order.
	statusFiles []string
}

// AppendVersions appends the project's distinct versions, as spelled in
// file names, in order.
func (p *Project) AppendVersions(dst []string) []string {
	for i, f := range p.Files {
		if p.firsts[i/64]&(1<<(i%64)) != 0 {
			dst = append(dst, f.Version())
		}
	}
	return dst
}

// LatestVersion is the project's highest version as spelled in the file
// name.
func (p *Project) LatestVersion() string { return p.Files[len(p.Files)-1].Version() }

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

// build assembles the snapshot that follows prev (nil for the first) once
// the projects in touched changed. Every other project is prev's, shared:
// a change to one project costs a walk over the files and the sorting of
// that project, not a new listing of every project. Many changes at once,
// or a first snapshot, list every project anew. It runs inside the check,
// so no other goroutine touches the dirs.
func (s *Store) build(gen uint64, prev *Snapshot, touched map[string]struct{}) *Snapshot {
	if prev == nil || len(touched) > len(prev.order)/2 {
		touched = nil
	}
	fresh := s.collect(touched)
	snap := &Snapshot{Gen: gen, projects: fresh}
	if touched != nil {
		snap.projects = make(map[string]*Project, len(prev.projects)+len(fresh))
		for name, p := range prev.projects {
			if _, t := touched[name]; !t {
				snap.projects[name] = p
			}
		}
		for name, p := range fresh {
			snap.projects[name] = p
		}
	}
	for _, p := range fresh {
		sortFiles(p)
	}
	snap.order = make([]*Project, 0, len(snap.projects))
	for _, p := range snap.projects {
		snap.order = append(snap.order, p)
		snap.files += len(p.Files)
	}
	slices.SortFunc(snap.order, func(a, b *Project) int { return strings.Compare(a.Name, b.Name) })
	return snap
}

// collect groups the files of the given projects (of every project when
// only is nil) found in the directory states, unsorted, with their status
// markers.
func (s *Store) collect(only map[string]struct{}) map[string]*Project {
	projects := map[string]*Project{}
	wanted := func(name string) bool {
		_, ok := only[name]
		return only == nil || ok
	}
	// Where two roots hold the same file name, at the same path or not,
	// the first wins: a page listing one name twice, with two digests,
	// leaves the installer to pick. A file name names its project, so
	// only the wanted projects' names matter.
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
			if !wanted(f.project) {
				continue
			}
			if seen != nil {
				if _, dup := seen[f.Filename()]; dup {
					continue // shadowed by an earlier root
				}
				seen[f.Filename()] = struct{}{}
			}
			p := projects[f.project]
			if p == nil {
				p = &Project{Name: f.project}
				projects[f.project] = p
			}
			p.Files = append(p.Files, f)
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
			if p := projects[name]; p != nil && dist.IsNormalized(name) {
				p.statusFiles = append(p.statusFiles, sd.abs+"/"+StatusFile)
			}
		}
	}
	return projects
}

// sortFiles orders a project's files by PEP 440 version, then by path, so
// every replica renders the same bytes whatever order its directory
// listings came in; it also marks where each version starts.
func sortFiles(p *Project) {
	if cap(p.Files) > len(p.Files) {
		p.Files = slices.Clone(p.Files) // a project's list lives as long as it does
	}
	type keyed struct {
		v dist.Version
		f *File
	}
	ks := make([]keyed, len(p.Files))
	for i, f := range p.Files {
		ks[i] = keyed{dist.ParseVersion(f.Version()), f}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if c := dist.Compare(a.v, b.v); c != 0 {
			return c
		}
		return strings.Compare(a.f.Rel, b.f.Rel)
	})
	p.firsts = make([]uint64, (len(ks)+63)/64)
	for i, k := range ks {
		p.Files[i] = k.f
		if i == 0 || dist.Compare(ks[i-1].v, k.v) != 0 {
			p.firsts[i/64] |= 1 << (i % 64)
		}
	}
}
