package dist

import (
	"errors"
	"fmt"
	"strings"
)

// Kind is the sort of distribution a file holds.
type Kind uint8

// The kinds of distribution file pypiserver recognizes, and so do we.
const (
	Sdist   Kind = iota + 1 // source archive: .tar.gz, .zip, .tgz, .tar.bz2, .tbz, .tar.xz, .txz, .tar
	Wheel                   // built distribution, PEP 427/491
	Egg                     // legacy setuptools egg
	Wininst                 // legacy Windows installer: .exe
	MSI                     // legacy Windows installer: .msi
)

// PackageType returns the name PyPI's JSON API uses for the kind
// ("sdist", "bdist_wheel", ...).
func (k Kind) PackageType() string {
	switch k {
	case Sdist:
		return "sdist"
	case Wheel:
		return "bdist_wheel"
	case Egg:
		return "bdist_egg"
	case Wininst:
		return "bdist_wininst"
	case MSI:
		return "bdist_msi"
	}
	return "unknown"
}

// suffixes lists the archive endings pypiserver accepts, longest first so
// that ".tar.gz" wins over ".tar" style prefixes of one another.
var suffixes = []struct {
	ext  string
	kind Kind
}{
	{".tar.bz2", Sdist},
	{".tar.gz", Sdist},
	{".tar.xz", Sdist},
	{".zip", Sdist},
	{".tgz", Sdist},
	{".tbz", Sdist},
	{".txz", Sdist},
	{".tar", Sdist},
	{".whl", Wheel},
	{".egg", Egg},
	{".exe", Wininst},
	{".msi", MSI},
}

// ErrNotDistribution is returned by Parse for names that are not
// distribution files (no known suffix, or no version in the name).
var ErrNotDistribution = errors.New("not a distribution file name")

// File is what a distribution file name says about its contents.
type File struct {
	Filename string // the base name, as on disk
	Project  string // project name as spelled in the file name
	Version  string // version as spelled in the file name
	Kind     Kind
}

// VersionAt is where Version starts in Filename: every name spells the
// project, a '-', then the version.
func (f File) VersionAt() int { return len(f.Project) + 1 }

// PyVersion returns the Python tag of a wheel, "pyX.Y" of an egg, or
// "source" for an sdist: the "python_version" of PyPI-style JSON. It is
// worked out when asked, not kept, since one File is held per file served.
func (f File) PyVersion() string {
	stem, _, _ := Suffix(f.Filename)
	switch f.Kind {
	case Sdist:
		return "source"
	case Egg:
		if len(stem) > len(f.Project) {
			return eggPython(stem[len(f.Project)+1:])
		}
	case Wheel:
		parts := strings.Split(stem, "-")
		if len(parts) >= 5 {
			return parts[len(parts)-3]
		}
	}
	return ""
}

// Normalized returns the PEP 503 normalized project name.
func (f File) Normalized() string { return Normalize(f.Project) }

// Suffix returns the kind of a file name by its archive suffix, and the name
// without it. ok is false when the suffix is not one we serve.
func Suffix(filename string) (stem string, kind Kind, ok bool) {
	for _, s := range suffixes {
		n := len(filename) - len(s.ext)
		if n > 0 && strings.EqualFold(filename[n:], s.ext) {
			return filename[:n], s.kind, true
		}
	}
	return "", 0, false
}

// Parse splits a distribution file's base name into project and version.
//
// Wheels are parsed by their PEP 427 structure. Every other archive is read
// as pypiserver reads it, so a directory that pypiserver served keeps the
// same projects and versions:
//   - no '-': no version, not a distribution;
//   - one '-': project before it, version after;
//   - no '.': the version is after the last '-';
//   - otherwise the project ends before the first "-<digits><c>" where c is
//     a letter, '_', '.', '!' or '+' ("foo-bar-1.0" is foo-bar 1.0), and the
//     version ends before a '.' or '-' that starts a platform or Python tag
//     (py3, cp311, linux, macosx, win, ...).
func Parse(filename string) (File, error) {
	if strings.ContainsAny(filename, "/\\\x00") {
		return File{}, fmt.Errorf("%q: %w", filename, ErrNotDistribution)
	}
	stem, kind, ok := Suffix(filename)
	if !ok {
		return File{}, fmt.Errorf("%q: unknown suffix: %w", filename, ErrNotDistribution)
	}
	f := File{Filename: filename, Kind: kind}
	if kind == Wheel {
		if err := parseWheel(stem, &f); err != nil {
			return File{}, fmt.Errorf("%q: %w", filename, err)
		}
		return f, nil
	}
	f.Project, f.Version = guess(stem)
	if f.Project == "" || f.Version == "" {
		return File{}, fmt.Errorf("%q: no project or version: %w", filename, ErrNotDistribution)
	}
	return f, nil
}

// parseWheel reads name-version(-build)?-python-abi-platform.
func parseWheel(stem string, f *File) error {
	parts := strings.Split(stem, "-")
	if len(parts) != 5 && len(parts) != 6 {
		return fmt.Errorf("wheel name has %d dash-separated parts, want 5 or 6: %w", len(parts), ErrNotDistribution)
	}
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("wheel name has an empty part: %w", ErrNotDistribution)
		}
	}
	if len(parts) == 6 && (parts[2][0] < '0' || parts[2][0] > '9') {
		return fmt.Errorf("wheel build tag %q does not start with a digit: %w", parts[2], ErrNotDistribution)
	}
	f.Project = parts[0]
	f.Version = parts[1]
	return nil
}

// guess applies pypiserver's reading of non-wheel archive names.
func guess(stem string) (project, version string) {
	dashes := strings.Count(stem, "-")
	switch {
	case dashes == 0:
		return stem, ""
	case dashes == 1:
		i := strings.IndexByte(stem, '-')
		return stem[:i], stem[i+1:]
	case !strings.Contains(stem, "."):
		i := strings.LastIndexByte(stem, '-')
		return stem[:i], stem[i+1:]
	}
	end := versionStart(stem)
	if end < 0 {
		// No "-<digits><c>": the whole stem is the project, as in pypiserver.
		return stem, ""
	}
	project = stem[:end]
	rest := stem[end+1:]
	return project, rest[:platformStart(rest)]
}

// versionStart finds the first '-' followed by one or more digits and then
// a letter, '_', '.', '!' or '+'. It returns -1 when there is none.
func versionStart(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			continue
		}
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j == i+1 || j == len(s) {
			continue
		}
		c := lower(s[j])
		if 'a' <= c && c <= 'z' || c == '_' || c == '.' || c == '!' || c == '+' {
			return i
		}
	}
	return -1
}

// platformTags start the part of a legacy name that follows the version.
// Those that must be followed by a digit are marked.
var platformTags = []struct {
	tag   string
	digit bool
}{
	{"cp", true}, {"py", true}, {"macosx", false}, {"linux", false}, {"sunos", false},
	{"solaris", false}, {"irix", false}, {"aix", false}, {"cygwin", false}, {"win", false},
}

// platformStart returns the index of the first '.' or '-' that is followed
// by a platform or Python tag, or len(s).
func platformStart(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] != '.' && s[i] != '-' {
			continue
		}
		rest := s[i+1:]
		for _, t := range platformTags {
			if len(rest) < len(t.tag) || !strings.EqualFold(rest[:len(t.tag)], t.tag) {
				continue
			}
			if t.digit && (len(rest) == len(t.tag) || !isDigit(rest[len(t.tag)])) {
				continue
			}
			return i
		}
	}
	return len(s)
}

// eggPython picks the "pyX.Y" tag out of the part of an egg name after the
// project.
func eggPython(rest string) string {
	for _, part := range strings.Split(rest, "-") {
		if len(part) > 2 && strings.EqualFold(part[:2], "py") && isDigit(part[2]) {
			return part
		}
	}
	return ""
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
