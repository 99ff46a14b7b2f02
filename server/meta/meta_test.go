package meta

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/pkgtest"
)

func TestWheelAndSdist(t *testing.T) {
	spec := pkgtest.Spec{Name: "Demo.Pkg", Version: "1.0", RequiresPython: ">=3.9", Summary: "a demo"}
	for _, tc := range []struct {
		name string
		file string
		data []byte
		read func([]byte, dist.File) ([]byte, error)
	}{
		{"wheel", spec.WheelName(), spec.WheelBytes(), func(b []byte, f dist.File) ([]byte, error) {
			return Wheel(bytes.NewReader(b), int64(len(b)), f)
		}},
		{"sdist", spec.SdistName(), spec.SdistBytes(), func(b []byte, f dist.File) ([]byte, error) {
			return Sdist(bytes.NewReader(b), int64(len(b)), f)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := dist.Parse(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			md, err := tc.read(tc.data, f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(md, spec.Metadata()) {
				t.Errorf("metadata is not the file byte for byte:\n%s", md)
			}
			fields, err := Parse(md)
			if err != nil {
				t.Fatal(err)
			}
			want := Fields{Name: "Demo.Pkg", Version: "1.0", Summary: "a demo", RequiresPython: ">=3.9"}
			if !reflect.DeepEqual(fields, want) {
				t.Errorf("Parse = %+v, want %+v", fields, want)
			}
		})
	}
}

func TestBrokenArchives(t *testing.T) {
	f, _ := dist.Parse("demo-1.0-py3-none-any.whl")
	if _, err := Wheel(bytes.NewReader([]byte("not a zip")), 9, f); err == nil {
		t.Error("a wheel that is not a zip gave metadata")
	}
	spec := pkgtest.Spec{Name: "demo", Version: "1.0"}
	b := spec.SdistBytes()
	sf, _ := dist.Parse(spec.SdistName())
	if _, err := Sdist(bytes.NewReader(b[:len(b)/2]), int64(len(b)/2), sf); err == nil {
		t.Error("a truncated sdist gave metadata")
	}
	xz, _ := dist.Parse("demo-1.0.tar.xz")
	if _, err := Sdist(bytes.NewReader(nil), 0, xz); !errors.Is(err, ErrNoMetadata) {
		t.Errorf("tar.xz: %v, want ErrNoMetadata", err)
	}
}

func TestParseContinuationAndBody(t *testing.T) {
	md := []byte("Metadata-Version: 2.1\nName: x\nVersion: 2\nSummary: one\n  two\nRequires-Python:  >=3.8 \n\nlong description\nName: not-a-header\n")
	f, err := Parse(md)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "x" || f.Summary != "one two" || f.RequiresPython != ">=3.8" {
		t.Errorf("Parse = %+v", f)
	}
}

func TestParsePyPIFields(t *testing.T) {
	md := []byte("Metadata-Version: 2.4\nName: x\nVersion: 1\nAuthor: Ada\nAuthor-email: ada@example.com\nLicense: MIT old\nLicense-Expression: MIT\n" +
		"Requires-Dist: a>=1\nRequires-Dist: b; extra == \"t\"\nProject-URL: Source, https://example.com/src\nProject-URL: broken\nClassifier: X :: Y\n\nbody\n")
	f, err := Parse(md)
	if err != nil {
		t.Fatal(err)
	}
	want := Fields{Name: "x", Version: "1", Author: "Ada", AuthorEmail: "ada@example.com", License: "MIT",
		RequiresDist: []string{"a>=1", `b; extra == "t"`}, ProjectURLs: map[string]string{"Source": "https://example.com/src"},
		Classifiers: []string{"X :: Y"}}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("Parse = %+v\nwant %+v", f, want)
	}
}
