// Package pkgtest writes real, installable distribution files for tests: a
// wheel pip can install and an sdist with PKG-INFO, with the metadata a test
// asks for.
package pkgtest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgindex.dev/pkgindex/server/dist"
)

// Spec describes a distribution to write.
type Spec struct {
	Name           string // project name as the metadata spells it
	Version        string
	RequiresPython string
	Summary        string
	// Headers are more lines of the metadata's header ("Requires-Dist:
	// x>=1"), in order.
	Headers []string
	// Data, when set, is one more file of the wheel, stored uncompressed:
	// it makes a wheel of any size.
	Data []byte
}

// Metadata returns the core metadata file of the distribution.
func (s Spec) Metadata() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Metadata-Version: 2.1\nName: %s\nVersion: %s\n", s.Name, s.Version)
	if s.Summary != "" {
		fmt.Fprintf(&b, "Summary: %s\n", s.Summary)
	}
	if s.RequiresPython != "" {
		fmt.Fprintf(&b, "Requires-Python: %s\n", s.RequiresPython)
	}
	for _, h := range s.Headers {
		b.WriteString(h + "\n")
	}
	return []byte(b.String())
}

// module is the importable name of the project.
func (s Spec) module() string { return strings.ReplaceAll(dist.Normalize(s.Name), "-", "_") }

// WheelName returns the PEP 427 file name of the wheel.
func (s Spec) WheelName() string { return s.module() + "-" + s.Version + "-py3-none-any.whl" }

// SdistName returns the PEP 625 file name of the sdist.
func (s Spec) SdistName() string { return s.module() + "-" + s.Version + ".tar.gz" }

// Wheel writes a pure-Python wheel into dir and returns its path. Importing
// the module gives VERSION.
func Wheel(t testing.TB, dir string, s Spec) string {
	t.Helper()
	path := filepath.Join(dir, s.WheelName())
	if err := os.WriteFile(path, s.WheelBytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// WheelBytes returns the bytes of the wheel.
func (s Spec) WheelBytes() []byte {
	mod := s.module()
	distInfo := mod + "-" + s.Version + ".dist-info"
	files := []struct {
		name string
		data []byte
	}{
		{mod + "/__init__.py", []byte(fmt.Sprintf("VERSION = %q\n", s.Version))},
		{distInfo + "/METADATA", s.Metadata()},
		{distInfo + "/WHEEL", []byte("Wheel-Version: 1.0\nGenerator: pkgtest\nRoot-Is-Purelib: true\nTag: py3-none-any\n")},
	}
	if s.Data != nil {
		files = append(files, struct {
			name string
			data []byte
		}{mod + "/data.bin", s.Data})
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var record strings.Builder
	for _, f := range files {
		method := zip.Deflate
		if len(f.data) > 1<<20 {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: method})
		if err != nil {
			panic(err)
		}
		w.Write(f.data)
		sum := sha256.Sum256(f.data)
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.data))
	}
	fmt.Fprintf(&record, "%s/RECORD,,\n", distInfo)
	w, _ := zw.Create(distInfo + "/RECORD")
	w.Write([]byte(record.String()))
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// Sdist writes a .tar.gz sdist with PKG-INFO into dir and returns its path.
func Sdist(t testing.TB, dir string, s Spec) string {
	t.Helper()
	path := filepath.Join(dir, s.SdistName())
	if err := os.WriteFile(path, s.SdistBytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// SdistBytes returns the bytes of the sdist.
func (s Spec) SdistBytes() []byte {
	top := s.module() + "-" + s.Version
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{top + "/PKG-INFO", s.Metadata()},
		{top + "/" + s.module() + "/__init__.py", []byte(fmt.Sprintf("VERSION = %q\n", s.Version))},
	} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg})
		tw.Write(f.data)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}
