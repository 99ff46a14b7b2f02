package policy

import (
	"fmt"
	"strings"
)

// Right is one thing an identity may be allowed to do to a project.
type Right uint8

// The rights a policy grants.
const (
	// Upload publishes a new file of the project.
	Upload Right = 1 << iota
	// Yank marks a release yanked, or clears the mark (PEP 592).
	Yank
	// Remove deletes a release's files.
	Remove
	// Status sets the project's status (PEP 792).
	Status
	// Download fetches the project's files.
	Download
	// List reads the project's pages: the Simple API and the JSON views.
	List
)

var rightNames = [...]struct {
	r    Right
	name string
}{{Upload, "upload"}, {Yank, "yank"}, {Remove, "remove"}, {Status, "status"}, {Download, "download"}, {List, "list"}}

// String returns the right's word in a policy file.
func (r Right) String() string {
	for _, n := range rightNames {
		if n.r == r {
			return n.name
		}
	}
	return fmt.Sprintf("Right(%d)", uint8(r))
}

// Rights is a set of rights.
type Rights uint8

// Has reports whether r is in the set.
func (s Rights) Has(r Right) bool { return s&Rights(r) != 0 }

// String lists the set in the file's words, comma-separated.
func (s Rights) String() string {
	var words []string
	for _, n := range rightNames {
		if s.Has(n.r) {
			words = append(words, n.name)
		}
	}
	return strings.Join(words, ",")
}

// Names lists the set in the file's words.
func (s Rights) Names() []string {
	var words []string
	for _, n := range rightNames {
		if s.Has(n.r) {
			words = append(words, n.name)
		}
	}
	return words
}

// ParseRights reads rights by name; "*" stands for all of them. An unknown
// name is an error, so that a misspelt right never silently grants nothing.
func ParseRights(names []string) (Rights, error) {
	var s Rights
	for _, w := range names {
		w = strings.ToLower(strings.TrimSpace(w))
		if w == "*" {
			s |= All
			continue
		}
		found := false
		for _, n := range rightNames {
			if n.name == w {
				s |= Rights(n.r)
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown right %q; want upload, yank, remove, status, download, list or *", w)
		}
	}
	return s, nil
}

// All is every right.
const All = Rights(Upload | Yank | Remove | Status | Download | List)
