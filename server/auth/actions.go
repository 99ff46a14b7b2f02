package auth

import (
	"fmt"
	"strings"
)

// Action is something a request does that the server may protect. The
// handler of each endpoint says which one it is.
type Action uint8

// The actions pypiserver's -a/--authenticate names.
const (
	// Update changes the index: upload, removal, yank and unyank, project
	// status. pypiserver protects removal under the same word.
	Update Action = 1 << iota
	// Download fetches a distribution file (and its metadata or
	// provenance).
	Download
	// List reads an index page: /simple/, /simple/<project>/, /packages/
	// and the JSON views.
	List
)

// actionNames are the spellings -a/--authenticate takes, in the order
// Actions.String writes them.
var actionNames = [...]struct {
	act  Action
	name string
}{{Update, "update"}, {Download, "download"}, {List, "list"}}

// String returns the action's word in -a/--authenticate.
func (a Action) String() string {
	for _, n := range actionNames {
		if n.act == a {
			return n.name
		}
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

func actionNamed(word string) (Action, bool) {
	for _, n := range actionNames {
		if n.name == word {
			return n.act, true
		}
	}
	return 0, false
}

// Actions is a set of actions that need credentials. The zero value is the
// empty set, pypiserver's "-a .".
type Actions uint8

// DefaultActions is pypiserver's default: only changes need credentials.
const DefaultActions = Actions(Update)

// Has reports whether a is in the set.
func (s Actions) Has(a Action) bool { return s&Actions(a) != 0 }

// String returns the set as -a/--authenticate spells it, "." when empty, so
// that ParseActions(s.String()) == s.
func (s Actions) String() string {
	if s == 0 {
		return "."
	}
	var words []string
	for _, n := range actionNames {
		if s.Has(n.act) {
			words = append(words, n.name)
		}
	}
	return strings.Join(words, ",")
}

// Set parses v as ParseActions does, so that *Actions is a flag.Value.
func (s *Actions) Set(v string) error {
	as, err := ParseActions(v)
	if err != nil {
		return err
	}
	*s = as
	return nil
}

// ParseActions reads pypiserver's -a/--authenticate value: a comma-separated
// list of update, download and list, case-insensitive, spaces and repeats
// allowed; "." alone (or an empty value, as pypiserver 1 allowed) is the
// empty set.
func ParseActions(v string) (Actions, error) {
	if t := strings.TrimSpace(v); t == "." || t == "" {
		return 0, nil
	}
	var s Actions
	for word := range strings.SplitSeq(v, ",") {
		word = strings.ToLower(strings.TrimSpace(word))
		switch word {
		case ".":
			return 0, fmt.Errorf("\".\" (no authentication) must stand alone, not in %q", v)
		case "":
			return 0, fmt.Errorf("empty action in %q; want a comma-separated list of update, download, list, or \".\" for none", v)
		}
		a, ok := actionNamed(word)
		if !ok {
			return 0, fmt.Errorf("unknown action %q in %q; want a comma-separated list of update, download, list, or \".\" for none", word, v)
		}
		s |= Actions(a)
	}
	return s, nil
}
