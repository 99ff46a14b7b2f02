package dist

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"foo", "foo"},
		{"Foo_Bar", "foo-bar"},
		{"foo.bar", "foo-bar"},
		{"foo--_.bar", "foo-bar"},
		{"FOO", "foo"},
		{"zope.interface", "zope-interface"},
		{"a-", "a-"},
		{"a__", "a-"},
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := Normalize(tc.in); got != tc.want {
				t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if got := IsNormalized(tc.in); got != (tc.in == tc.want) {
				t.Errorf("IsNormalized(%q) = %v", tc.in, got)
			}
		})
	}
}

func TestValidProject(t *testing.T) {
	for name, want := range map[string]bool{
		"foo": true, "Foo.Bar_baz-1": true, "a": true,
		"": false, "-foo": false, "foo-": false, "foo bar": false, "f/o": false, "..": false,
	} {
		if got := ValidProject(name); got != want {
			t.Errorf("ValidProject(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		file, project, version, py string
		kind                       Kind
	}{
		// Wheels, PEP 427: name escaped with '_', optional build tag.
		{"foo_bar-1.0-py3-none-any.whl", "foo_bar", "1.0", "py3", Wheel},
		{"Foo-2.0.1-1-cp311-cp311-manylinux_2_17_x86_64.whl", "Foo", "2.0.1", "cp311", Wheel},
		{"pkg-1.0rc1-py2.py3-none-any.WHL", "pkg", "1.0rc1", "py2.py3", Wheel},
		// Sdists, modern and legacy suffixes.
		{"foo-1.0.tar.gz", "foo", "1.0", "source", Sdist},
		{"foo_bar-1.0.tar.gz", "foo_bar", "1.0", "source", Sdist},
		{"foo-1.0.zip", "foo", "1.0", "source", Sdist},
		{"foo-1.0.tgz", "foo", "1.0", "source", Sdist},
		{"foo-1.0.tar.bz2", "foo", "1.0", "source", Sdist},
		{"foo-1.0.tbz", "foo", "1.0", "source", Sdist},
		{"foo-1.0.tar.xz", "foo", "1.0", "source", Sdist},
		{"foo-1.0.txz", "foo", "1.0", "source", Sdist},
		{"foo-1.0.tar", "foo", "1.0", "source", Sdist},
		{"FOO-1.0.TAR.GZ", "FOO", "1.0", "source", Sdist},
		// Ambiguous names, read as pypiserver reads them.
		{"foo-bar-1.0.tar.gz", "foo-bar", "1.0", "source", Sdist},
		{"foo-bar-baz-2.3.1.tar.gz", "foo-bar-baz", "2.3.1", "source", Sdist},
		{"foo-2-1.0.tar.gz", "foo-2", "1.0", "source", Sdist},
		{"foo-bar-1.tar.gz", "foo-bar", "1", "source", Sdist},
		{"foo-bar-dev.tar.gz", "foo-bar", "dev", "source", Sdist},
		{"foo-1.0a1.tar.gz", "foo", "1.0a1", "source", Sdist},
		{"foo-bar-1.0-1.tar.gz", "foo-bar", "1.0-1", "source", Sdist},
		{"pywin32-1.0.win32.exe", "pywin32", "1.0.win32", "", Wininst}, // one dash: split there, as pypiserver does
		{"foo-1.0.win32-py2.7.exe", "foo", "1.0", "", Wininst},
		{"foo-1.0.linux-x86_64.tar.gz", "foo", "1.0", "source", Sdist},
		{"foo-1.0.macosx-10.9-x86_64.zip", "foo", "1.0", "source", Sdist},
		{"foo-1.0.msi", "foo", "1.0", "", MSI},
		// Examples from pypiserver's own tests, read the same way.
		{"ABC12-34_V1X-1.2.3.zip", "ABC12", "34_V1X-1.2.3", "source", Sdist},
		{"A100-200-XYZ-1.2.3.zip", "A100-200-XYZ", "1.2.3", "source", Sdist},
		{"package-v1-8.1.301.ga0df26f.zip", "package-v1", "8.1.301.ga0df26f", "source", Sdist},
		{"package-123-20000101.zip", "package-123", "20000101", "source", Sdist},
		{"package-name-0.0.1.dev0.linux-x86_64.tar.gz", "package-name", "0.0.1.dev0", "source", Sdist},
		{"gevent-1.0b1.win32-py2.6.exe", "gevent", "1.0b1", "", Wininst},
		{"pkg-3!1.0-0.1.tgz", "pkg", "3!1.0-0.1", "source", Sdist},
		{"pytz-2012b.tar.xz", "pytz", "2012b", "source", Sdist},
		{"greenlet-0.3.4-py2.7-linux-x86_64.egg", "greenlet", "0.3.4", "py2.7", Egg},
		// Eggs.
		{"package-1.0-py2.7.egg", "package", "1.0", "py2.7", Egg},
		{"foo_bar-1.0-py3.11-linux-x86_64.egg", "foo_bar", "1.0", "py3.11", Egg},
		{"pkg-bar-1.2.3-py3.9.egg", "pkg-bar", "1.2.3", "py3.9", Egg},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := Parse(tc.file)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if f.Project != tc.project || f.Version != tc.version || f.Kind != tc.kind || f.PyVersion() != tc.py {
				t.Errorf("Parse(%q) = %+v, want project %q version %q kind %v py %q",
					tc.file, f, tc.project, tc.version, tc.kind, tc.py)
			}
			if f.Filename != tc.file {
				t.Errorf("Filename = %q", f.Filename)
			}
			if at := f.VersionAt(); f.Filename[at:at+len(f.Version)] != f.Version {
				t.Errorf("VersionAt = %d: %q there, not the version %q", at, f.Filename[at:], f.Version)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, name := range []string{
		"", "foo", "foo.txt", "foo-1.0.tar.gz.yanked", "foo-1.0.tar.gz.metadata",
		".tar.gz", "foo.tar.gz", "foo-.tar.gz", "-1.0.tar.gz",
		"foo-1.0.whl", "foo-1.0-py3-any.whl", "foo-1.0-x-py3-none-any.whl", "foo--py3-none-any.whl",
		"a-b.c-d.tar.gz", "../foo-1.0.tar.gz", "dir/foo-1.0.tar.gz", "foo-1.0.tar.gz\x00",
	} {
		t.Run(name, func(t *testing.T) {
			f, err := Parse(name)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error", name, f)
			}
			if !errors.Is(err, ErrNotDistribution) {
				t.Errorf("error %v does not wrap ErrNotDistribution", err)
			}
		})
	}
}

func TestGroupingAcrossSpellings(t *testing.T) {
	names := []string{"Foo.Bar-1.0.tar.gz", "foo_bar-1.1-py3-none-any.whl", "FOO-BAR-1.2.zip", "foo.bar-1.3.tar.gz"}
	for _, n := range names {
		f, err := Parse(n)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Normalized(); got != "foo-bar" {
			t.Errorf("%s groups under %q, want foo-bar", n, got)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	// Each version sorts strictly after the one before it.
	ordered := []string{
		"not a version", "1.0.dev0", "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12",
		"1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456", "1.0b2.post345", "1.0b2-346", "1.0c1.dev456",
		"1.0c1", "1.0rc2", "1.0c3", "1.0", "1.0+abc.5", "1.0+abc.7", "1.0+5", "1.0.post456.dev34",
		"1.0.post456", "1.0.15", "1.1.dev1", "2!0.1",
	}
	for i := 1; i < len(ordered); i++ {
		a, b := ParseVersion(ordered[i-1]), ParseVersion(ordered[i])
		if c := Compare(a, b); c != -1 {
			t.Errorf("Compare(%q, %q) = %d, want -1", a.Raw, b.Raw, c)
		}
		if c := Compare(b, a); c != 1 {
			t.Errorf("Compare(%q, %q) = %d, want 1", b.Raw, a.Raw, c)
		}
	}
	for _, eq := range [][2]string{
		{"1.0", "1.0.0"}, {"1.0", "v1.0"}, {"1.0alpha1", "1.0a1"}, {"1.0-r4", "1.0.post4"},
		{"1.0preview2", "1.0rc2"}, {"1.0.DEV", "1.0.dev0"}, {"1.0-1", "1.0.post1"}, {"0!1.0", "1.0"},
	} {
		if c := Compare(ParseVersion(eq[0]), ParseVersion(eq[1])); c != 0 {
			t.Errorf("Compare(%q, %q) = %d, want 0", eq[0], eq[1], c)
		}
	}
	shuffled := slices.Clone(ordered)
	slices.Reverse(shuffled)
	slices.SortFunc(shuffled, func(a, b string) int { return Compare(ParseVersion(a), ParseVersion(b)) })
	if !slices.Equal(shuffled, ordered) {
		t.Errorf("sorted = %v", shuffled)
	}
}

func TestVersionValidity(t *testing.T) {
	for s, want := range map[string]bool{
		"1.0": true, "1!2.3.4rc5.post6.dev7+local.8": true, "2024.1": true,
		"": false, "1.0+": false, "abc": false, "1.0.": false, "1.0-dev-x": false, "1..0": false,
	} {
		if got := ParseVersion(s).Valid(); got != want {
			t.Errorf("ParseVersion(%q).Valid() = %v, want %v", s, got, want)
		}
	}
	if !ParseVersion("1.0rc1").IsPrerelease() || ParseVersion("1.0.post1").IsPrerelease() {
		t.Error("IsPrerelease wrong")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"foo-1.0.tar.gz", "foo_bar-1.0-py3-none-any.whl", "a-b-1.0-py2.7.egg", "x-1.0.win32.exe", "-.zip"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		d, err := Parse(name)
		if err != nil {
			return
		}
		if d.Project == "" || d.Version == "" {
			t.Fatalf("Parse(%q) accepted an empty project or version: %+v", name, d)
		}
		if strings.ContainsAny(d.Project+d.Version, "/\\\x00") {
			t.Fatalf("Parse(%q) let a path separator through: %+v", name, d)
		}
		if !strings.HasPrefix(name, d.Project) {
			t.Fatalf("project %q is not a prefix of %q", d.Project, name)
		}
		n := Normalize(d.Project)
		if Normalize(n) != n || !IsNormalized(n) {
			t.Fatalf("Normalize not idempotent for %q", d.Project)
		}
	})
}

func FuzzCompare(f *testing.F) {
	f.Add("1.0", "1.0.post1")
	f.Add("1!2.0rc1+x", "2.0")
	f.Fuzz(func(t *testing.T, a, b string) {
		va, vb := ParseVersion(a), ParseVersion(b)
		if Compare(va, vb) != -Compare(vb, va) {
			t.Fatalf("Compare not antisymmetric for %q, %q", a, b)
		}
		if Compare(va, va) != 0 {
			t.Fatalf("Compare(%q, itself) != 0", a)
		}
	})
}
