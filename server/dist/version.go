package dist

import (
	"math"
	"strconv"
	"strings"
)

// Version is a parsed PEP 440 version. The zero value is an invalid
// ("legacy") version, which sorts before every valid one.
type Version struct {
	Raw     string
	valid   bool
	epoch   int64
	release []int64
	pre     [2]int64 // phase (a=0, b=1, rc=2) and number; phase -1 when absent
	post    int64    // -1 when absent
	dev     int64    // -1 when absent
	local   []string
}

// ParseVersion parses a PEP 440 version, accepting the spellings the
// specification normalizes (case, "v" prefix, alpha/beta/c/pre/preview, rev
// and r, implicit numbers, '-', '_' and '.' separators). A string that is not
// a PEP 440 version gives a Version that reports Valid() == false.
func ParseVersion(s string) Version {
	v := Version{Raw: s, pre: [2]int64{-1, 0}, post: -1, dev: -1}
	p := strings.ToLower(strings.TrimSpace(s))
	p = strings.TrimPrefix(p, "v")
	if i := strings.IndexByte(p, '+'); i >= 0 {
		local := p[i+1:]
		p = p[:i]
		if local == "" {
			return Version{Raw: s}
		}
		v.local = strings.FieldsFunc(local, func(r rune) bool { return r == '.' || r == '-' || r == '_' })
		for _, seg := range v.local {
			if !alnum(seg) {
				return Version{Raw: s}
			}
		}
		if len(v.local) == 0 {
			return Version{Raw: s}
		}
	}
	if i := strings.IndexByte(p, '!'); i >= 0 {
		e, err := strconv.ParseInt(p[:i], 10, 64)
		if err != nil || e < 0 {
			return Version{Raw: s}
		}
		v.epoch = e
		p = p[i+1:]
	}
	// Release segment.
	for {
		n, rest, ok := number(p)
		if !ok {
			return Version{Raw: s}
		}
		v.release = append(v.release, n)
		p = rest
		if len(p) >= 2 && p[0] == '.' && isDigit(p[1]) {
			p = p[1:]
			continue
		}
		break
	}
	var ok bool
	if p, ok = v.parsePre(p); !ok {
		return Version{Raw: s}
	}
	if p, ok = v.parsePost(p); !ok {
		return Version{Raw: s}
	}
	if p, ok = v.parseDev(p); !ok || p != "" {
		return Version{Raw: s}
	}
	v.valid = true
	return v
}

// Valid reports whether the version follows PEP 440.
func (v Version) Valid() bool { return v.valid }

// IsPrerelease reports whether the version is a pre- or development release.
func (v Version) IsPrerelease() bool { return v.valid && (v.pre[0] >= 0 || v.dev >= 0) }

var prePhases = []struct {
	word  string
	phase int64
}{
	{"preview", 2}, {"alpha", 0}, {"beta", 1}, {"pre", 2}, {"rc", 2}, {"a", 0}, {"b", 1}, {"c", 2},
}

func (v *Version) parsePre(p string) (string, bool) {
	q := trimSep(p)
	for _, ph := range prePhases {
		if !strings.HasPrefix(q, ph.word) {
			continue
		}
		q = q[len(ph.word):]
		v.pre[0] = ph.phase
		n, rest, ok := number(trimSep(q))
		if ok {
			v.pre[1] = n
			return rest, true
		}
		return q, true
	}
	return p, true
}

func (v *Version) parsePost(p string) (string, bool) {
	if len(p) >= 2 && p[0] == '-' && isDigit(p[1]) {
		n, rest, _ := number(p[1:])
		v.post = n
		return rest, true
	}
	q := trimSep(p)
	for _, w := range []string{"post", "rev", "r"} {
		if !strings.HasPrefix(q, w) {
			continue
		}
		q = q[len(w):]
		v.post = 0
		if n, rest, ok := number(trimSep(q)); ok {
			v.post = n
			return rest, true
		}
		return q, true
	}
	return p, true
}

func (v *Version) parseDev(p string) (string, bool) {
	q := trimSep(p)
	if !strings.HasPrefix(q, "dev") {
		return p, true
	}
	q = q[3:]
	v.dev = 0
	if n, rest, ok := number(trimSep(q)); ok {
		v.dev = n
		return rest, true
	}
	return q, true
}

func trimSep(p string) string {
	if p != "" && (p[0] == '.' || p[0] == '-' || p[0] == '_') {
		return p[1:]
	}
	return p
}

func number(p string) (int64, string, bool) {
	i := 0
	for i < len(p) && isDigit(p[i]) {
		i++
	}
	if i == 0 {
		return 0, p, false
	}
	n, err := strconv.ParseInt(p[:i], 10, 64)
	if err != nil {
		n = math.MaxInt64
	}
	return n, p[i:], true
}

func alnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Compare orders a and b per PEP 440: -1 if a sorts first, +1 if b does, 0
// if they are equal. Invalid versions sort before valid ones, and among
// themselves by their text.
func Compare(a, b Version) int {
	switch {
	case !a.valid && !b.valid:
		return strings.Compare(a.Raw, b.Raw)
	case !a.valid:
		return -1
	case !b.valid:
		return 1
	}
	if c := cmpInt(a.epoch, b.epoch); c != 0 {
		return c
	}
	if c := cmpRelease(a.release, b.release); c != 0 {
		return c
	}
	if c := cmpInt(a.preKey(), b.preKey()); c != 0 {
		return c
	}
	if a.pre[0] >= 0 && b.pre[0] >= 0 {
		if c := cmpInt(a.pre[1], b.pre[1]); c != 0 {
			return c
		}
	}
	if c := cmpInt(a.post, b.post); c != 0 {
		return c
	}
	if c := cmpInt(devKey(a.dev), devKey(b.dev)); c != 0 {
		return c
	}
	return cmpLocal(a.local, b.local)
}

// preKey places a version without a pre-release after all pre-releases,
// except a bare development release (1.0.dev1), which comes before 1.0a1.
func (v Version) preKey() int64 {
	switch {
	case v.pre[0] >= 0:
		return v.pre[0]
	case v.post < 0 && v.dev >= 0:
		return -1
	}
	return math.MaxInt64
}

func devKey(d int64) int64 {
	if d < 0 {
		return math.MaxInt64
	}
	return d
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpRelease(a, b []int64) int {
	n := max(len(a), len(b))
	for i := 0; i < n; i++ {
		var x, y int64
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if c := cmpInt(x, y); c != 0 {
			return c
		}
	}
	return 0
}

func cmpLocal(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		an, aerr := strconv.ParseInt(a[i], 10, 64)
		bn, berr := strconv.ParseInt(b[i], 10, 64)
		switch {
		case aerr == nil && berr == nil:
			if c := cmpInt(an, bn); c != 0 {
				return c
			}
		case aerr == nil:
			return 1 // numeric segments sort after alphanumeric ones
		case berr == nil:
			return -1
		default:
			if c := strings.Compare(a[i], b[i]); c != 0 {
				return c
			}
		}
	}
	return cmpInt(int64(len(a)), int64(len(b)))
}
