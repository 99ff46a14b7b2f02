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
	names    *Names
	// built are the directory views the snapshot was made of, to tell
	// what changed when the next one is made.
	built map[*dir]*dirView
}

// Projects returns every project, ordered by normalized name.
func (s *Snapshot) Projects() []*Project { return s.order }

// Project returns the project with the given normalized name, or nil.
func (s *Snapshot) Project(name string) *Project { return s.projects[name] }

// FileCount returns how many distribution files the snapshot lists.
func (s *Snapshot) FileCount() int { return s.files }

// Shape is what a snapshot says of the tree's layout.
type Shape struct {
	// Dirs counts the directories checked for a snapshot, roots included.
	Dirs int
	// FitsPerProject is true when every file lies in a root or in a
	// directory of a root named after its project, and no directory lies
	// deeper: the per-project layout would serve the same files.
	FitsPerProject bool
}

// Shape tells the layout of the tree snap was made of.
func (s *Store) Shape(snap *Snapshot) Shape {
	sh := Shape{Dirs: len(snap.built), FitsPerProject: true}
	for d, v := range snap.built {
		switch {
		case d.depth > 1:
			sh.FitsPerProject = false
		case d.depth == 1:
			own := dist.Normalize(d.name())
			sh.FitsPerProject = sh.FitsPerProject && dist.ValidProject(d.name())
			for _, f := range v.files {
				if f.project != own {
					sh.FitsPerProject = false
				}
			}
		}
	}
	return sh
}

// Names are the normalized names of every project, in order, as /simple/
// lists them. Equal generations list the same names.
type Names struct {
	Gen   uint64
	Names []string
}

// build makes the snapshot of the directory views of one check round,
// from prev, the one before (nil for the first). Only the projects with
// files in directories whose views changed are listed anew; every other
// project is prev's, shared: a change to one project costs a walk over the
// views and the sorting of that project, not a new listing of every
// project. With nothing changed it returns prev itself.
func (s *Store) build(prev *Snapshot, views map[*dir]*dirView) *Snapshot {
	var touched map[string]struct{}
	if prev != nil {
		touched = map[string]struct{}{}
		for d, v := range views {
			if ov := prev.built[d]; ov != v {
				s.noteProjects(touched, d, ov)
				s.noteProjects(touched, d, v)
			}
		}
		for d, ov := range prev.built {
			if _, ok := views[d]; !ok {
				s.noteProjects(touched, d, ov)
			}
		}
		if len(touched) == 0 {
			return prev
		}
		if len(touched) > len(prev.order)/2 {
			touched = nil // as cheap to list everything
		}
	}
	c := s.newCollector(touched)
	for _, r := range s.roots {
		c.walk(r.top, views)
		c.endRoot()
	}
	fresh := c.done()
	snap := &Snapshot{Gen: s.gen.Add(1), projects: fresh, built: views}
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
	snap.order = make([]*Project, 0, len(snap.projects))
	for _, p := range snap.projects {
		snap.order = append(snap.order, p)
		snap.files += len(p.Files)
	}
	slices.SortFunc(snap.order, func(a, b *Project) int { return strings.Compare(a.Name, b.Name) })
	snap.names = &Names{Gen: snap.Gen, Names: make([]string, len(snap.order))}
	for i, p := range snap.order {
		snap.names.Names[i] = p.Name
	}
	return snap
}

// noteProjects adds to touched every project whose listing depends on view
// v of d.
func (s *Store) noteProjects(touched map[string]struct{}, d *dir, v *dirView) {
	if v == nil {
		return
	}
	for _, f := range v.files {
		touched[f.project] = struct{}{}
	}
	if d.depth == 1 {
		if v.status || s.opts.Layout == LayoutPerProject {
			touched[dist.Normalize(d.name())] = struct{}{}
		}
	}
}

// collector groups files into projects, for a snapshot or for one project
// page: both must list a project alike.
type collector struct {
	s    *Store
	only map[string]struct{} // the projects wanted; nil for all
	// seen are the file names listed by earlier roots, listed the names of
	// this root: where two roots hold the same file name, at the same path
	// or not, the first wins, since a page listing one name twice, with two
	// digests, leaves the installer to pick. A file name names its project,
	// so only the wanted projects' names are kept. Nil with one root.
	seen, listed map[string]struct{}
	projects     map[string]*Project
	status       []*dir // directories of a root holding a status marker
}

func (s *Store) newCollector(only map[string]struct{}) *collector {
	c := &collector{s: s, only: only, projects: map[string]*Project{}}
	if len(s.roots) > 1 {
		c.seen, c.listed = map[string]struct{}{}, map[string]struct{}{}
	}
	return c
}

// endRoot marks the end of one root's files: their names now shadow the
// next roots'.
func (c *collector) endRoot() {
	for name := range c.listed {
		c.seen[name] = struct{}{}
	}
	clear(c.listed)
}

func (c *collector) wanted(name string) bool {
	_, ok := c.only[name]
	return c.only == nil || ok
}

func (c *collector) project(name string) *Project {
	p := c.projects[name]
	if p == nil {
		p = &Project{Name: name}
		c.projects[name] = p
	}
	return p
}

// addFiles lists the wanted files among files.
func (c *collector) addFiles(files []*File) {
	for _, f := range files {
		if !c.wanted(f.project) {
			continue
		}
		if c.seen != nil {
			if _, dup := c.seen[f.Filename()]; dup {
				continue // shadowed by an earlier root
			}
			c.listed[f.Filename()] = struct{}{}
		}
		p := c.project(f.project)
		p.Files = append(p.Files, f)
	}
}

// addDir lists what a directory of a root, present with view v, says of
// the project it is named after: in the per-project layout its directory
// makes a project exist, and in every layout its status marker is read.
func (c *collector) addDir(d *dir, v *dirView) {
	name := d.name()
	if c.s.opts.Layout == LayoutPerProject {
		if p := unique.Make(dist.Normalize(name)).Value(); c.wanted(p) {
			c.project(p)
		}
	}
	if v.status && dist.IsNormalized(name) && c.wanted(name) {
		c.status = append(c.status, d)
	}
	c.addFiles(v.files)
}

// walk lists d and everything below it, from views.
func (c *collector) walk(d *dir, views map[*dir]*dirView) {
	v := views[d]
	if v == nil || !v.present {
		return
	}
	if d.depth == 1 {
		c.addDir(d, v)
	} else {
		c.addFiles(v.files)
	}
	for _, sd := range v.subdirs {
		c.walk(sd, views)
	}
}

// done sorts the projects collected and attaches their status markers, in
// root order.
func (c *collector) done() map[string]*Project {
	for _, d := range c.status {
		if p := c.projects[d.rel]; p != nil {
			p.statusFiles = append(p.statusFiles, d.abs+"/"+StatusFile)
		}
	}
	for _, p := range c.projects {
		sortFiles(p)
	}
	return c.projects
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
