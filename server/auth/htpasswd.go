package auth

import (
	"bytes"
	"errors"
	"fmt"
)

// entry is one usable line of the file.
type entry struct {
	name string // the user name, as Check returns it
	hash verifier
}

// lineError is one line of the file that gives no usable entry. It names the
// line and the user, never the hash: a refused field may be a password.
type lineError struct {
	line int
	user string // "" when the line has no user field
	err  error
}

func (e *lineError) Error() string {
	if e.user == "" {
		return fmt.Sprintf("line %d: %v", e.line, e.err)
	}
	return fmt.Sprintf("line %d (user %q): %v", e.line, e.user, e.err)
}

func (e *lineError) Unwrap() error { return e.err }

var (
	errNoColon    = errors.New("no \":\" between user name and password hash")
	errNoUser     = errors.New("empty user name")
	errNoHash     = errors.New("empty password hash")
	errExtraColon = errors.New("more than one \":\"; want user:hash")
)

// parse reads an htpasswd file: "user:hash" lines; blank lines and lines
// whose first non-blank character is "#" are ignored, as are trailing
// blanks and a UTF-8 byte order mark. A line that gives no usable entry is
// reported and skipped; the others still count.
//
// The first line naming a user decides, as in Apache's mod_authn_file and
// passlib: later ones are reported as duplicates, even when the first was
// refused, so that the entry in force never depends on which schemes are
// allowed.
//
// A field with a second ":" is refused as passlib refuses it, rather than
// cut there as Apache does: a cut plain-text password would silently become
// a different one.
func parse(data []byte, allowPlain bool) (map[string]entry, []error) {
	users := map[string]entry{}
	seen := map[string]int{}
	var problems []error
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	n := 0
	for line := range bytes.Lines(data) {
		n++
		line = bytes.TrimRight(line, " \t\r\n")
		if t := bytes.TrimLeft(line, " \t"); len(t) == 0 || t[0] == '#' {
			continue
		}
		user, field, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			// No user field: the line may be a password pasted alone,
			// so not even its start is repeated.
			problems = append(problems, &lineError{n, "", errNoColon})
			continue
		}
		if len(user) == 0 {
			problems = append(problems, &lineError{n, "", errNoUser})
			continue
		}
		name := string(user) // a copy: nothing keeps the file's bytes alive
		if first, dup := seen[name]; dup {
			problems = append(problems, &lineError{n, name, fmt.Errorf("duplicate user; line %d decides", first)})
			continue
		}
		seen[name] = n
		var h verifier
		var err error
		switch {
		case len(field) == 0:
			err = errNoHash
		case bytes.IndexByte(field, ':') >= 0:
			err = errExtraColon
		default:
			h, err = parseHash(string(field), allowPlain)
		}
		if err != nil {
			problems = append(problems, &lineError{n, name, err})
			continue
		}
		users[name] = entry{name, h}
	}
	return users, problems
}

// summarize joins up to max problems into one error, saying how many more
// there were, so that a broken large file makes a readable message.
func summarize(problems []error, max int) error {
	if len(problems) <= max {
		return errors.Join(problems...)
	}
	shown := append(problems[:max:max], fmt.Errorf("and %d more lines", len(problems)-max))
	return errors.Join(shown...)
}
