package dist

import "strings"

// Normalize returns the PEP 503 normalized form of a project name: lower
// case, with every run of '-', '_' and '.' replaced by a single '-'.
func Normalize(name string) string {
	// Fast path: most names arriving from URLs are already normalized.
	if IsNormalized(name) {
		return name
	}
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '.':
			sep = true
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if sep {
			b.WriteByte('-')
			sep = false
		}
		b.WriteByte(c)
	}
	if sep {
		b.WriteByte('-')
	}
	return b.String()
}

// IsNormalized reports whether name is already in PEP 503 normalized form.
func IsNormalized(name string) bool {
	prevSep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z', c == '_', c == '.':
			return false
		case c == '-':
			if prevSep {
				return false
			}
			prevSep = true
		default:
			prevSep = false
		}
	}
	return true
}

// ValidProject reports whether name is a valid project name as the core
// metadata specification defines it: ASCII letters and digits, with '.', '_'
// and '-' allowed only between them.
func ValidProject(name string) bool {
	if name == "" || len(name) > 200 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if alnum {
			continue
		}
		if c != '.' && c != '_' && c != '-' {
			return false
		}
		if i == 0 || i == len(name)-1 {
			return false
		}
	}
	return true
}
