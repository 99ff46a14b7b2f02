package store

import "fmt"

// Layout says where under a root the store looks for a project's files,
// and so how much a request must check to know it answers from the
// directories as they are now.
type Layout uint8

const (
	// LayoutAny is pypiserver's: every distribution file under a root, at
	// any depth, belongs to the project its name says. A file of any
	// project may appear in any directory, so every answer checks every
	// directory: one round trip each on a network file system.
	LayoutAny Layout = iota
	// LayoutPerProject is the layout uploads write: a project's files lie
	// in the root itself and in a directory of the root named after the
	// project (any spelling that normalizes to it). A project page checks
	// the root and that directory, /simple/ the root alone, whatever the
	// size of the index. A project exists while its directory does, even
	// empty, as a project with no files does on PyPI. Deeper directories,
	// and files of one project in another's directory, are not part of the
	// index; the store logs them when it reads them.
	LayoutPerProject
)

// ParseLayout reads a layout by the name String gives it.
func ParseLayout(s string) (Layout, error) {
	switch s {
	case "any":
		return LayoutAny, nil
	case "per-project":
		return LayoutPerProject, nil
	}
	return 0, fmt.Errorf("unknown layout %q: want any or per-project", s)
}

// String is the layout's name, as --layout takes it.
func (l Layout) String() string {
	if l == LayoutPerProject {
		return "per-project"
	}
	return "any"
}
