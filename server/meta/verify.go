package meta

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"strings"

	"pkgindex.dev/pkgindex/server/dist"
)

// ErrBadArchive means a file is not the archive its name says it is.
var ErrBadArchive = errors.New("not a valid archive")

// Verify checks that a file is the archive its name claims, read whole
// where the format allows (so a truncated or corrupt archive is caught),
// and returns its core metadata when it has one: a wheel must be a zip
// holding its .dist-info/METADATA, whose Name and Version match the file
// name; an sdist must be a readable archive of its kind; an egg a zip.
func Verify(r io.ReaderAt, size int64, f dist.File) ([]byte, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadArchive, fmt.Sprintf(format, args...))
	}
	switch f.Kind {
	case dist.Wheel:
		md, err := Wheel(r, size, f)
		if err != nil {
			return nil, bad("%v", err)
		}
		fields, err := Parse(md)
		if err != nil {
			return nil, bad("%v", err)
		}
		if dist.Normalize(fields.Name) != dist.Normalize(f.Project) {
			return nil, bad("METADATA names project %q", fields.Name)
		}
		if !SameVersion(fields.Version, f.Version) {
			return nil, bad("METADATA names version %q", fields.Version)
		}
		return md, nil
	case dist.Egg:
		if _, err := zip.NewReader(r, size); err != nil {
			return nil, bad("%v", err)
		}
		return nil, nil
	case dist.Sdist:
		return verifySdist(r, size, f, bad)
	case dist.Wininst:
		if !hasMagic(r, "MZ") {
			return nil, bad("not a Windows executable")
		}
	case dist.MSI:
		if !hasMagic(r, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") {
			return nil, bad("not a Windows installer package")
		}
	}
	return nil, nil
}

func verifySdist(r io.ReaderAt, size int64, f dist.File, bad func(string, ...any) error) ([]byte, error) {
	lower := strings.ToLower(f.Filename)
	sec := func() io.Reader { return io.NewSectionReader(r, 0, size) }
	var tr *tar.Reader
	switch {
	case strings.HasSuffix(lower, ".zip"):
		if _, err := zip.NewReader(r, size); err != nil {
			return nil, bad("%v", err)
		}
		md, _ := Sdist(r, size, f)
		return md, nil
	case strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		zr, err := getGzip(sec())
		if err != nil {
			return nil, bad("%v", err)
		}
		defer putGzip(zr)
		tr = tar.NewReader(zr)
	case strings.HasSuffix(lower, ".tar.bz2"), strings.HasSuffix(lower, ".tbz"):
		tr = tar.NewReader(bzip2.NewReader(sec()))
	case strings.HasSuffix(lower, ".tar"):
		tr = tar.NewReader(sec())
	case strings.HasSuffix(lower, ".tar.xz"), strings.HasSuffix(lower, ".txz"):
		// The standard library has no xz reader: the header is all that
		// is checked.
		if !hasMagic(r, "\xfd7zXZ\x00") {
			return nil, bad("not an xz stream")
		}
		return nil, nil
	default:
		return nil, bad("unknown sdist format")
	}
	// Read every member to the end: the compressed stream's checksum and
	// the tar structure are only proven whole there.
	// A bound on what the archive may expand to keeps a compression bomb
	// from costing more than reading an honest archive would.
	budget := 100*size + 1<<20
	var md []byte
	members := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, bad("%v", err)
		}
		if members++; members > maxMembers*10 {
			return nil, bad("more than %d members", maxMembers*10)
		}
		if md == nil && h.Typeflag == tar.TypeReg && isTopPKGInfo(h.Name) && h.Size <= MaxSize {
			var buf bytes.Buffer
			if _, err := io.Copy(&buf, tr); err != nil {
				return nil, bad("%v", err)
			}
			md = buf.Bytes()
			continue
		}
		n, err := io.CopyN(io.Discard, tr, budget+1)
		if err != nil && err != io.EOF {
			return nil, bad("%v", err)
		}
		if budget -= n; budget < 0 {
			return nil, bad("expands to more than 100 times its size")
		}
	}
	if members == 0 {
		return nil, bad("empty archive")
	}
	return md, nil
}

func hasMagic(r io.ReaderAt, magic string) bool {
	b := make([]byte, len(magic))
	n, _ := r.ReadAt(b, 0)
	return n == len(magic) && string(b) == magic
}

// SameVersion reports whether two spellings name one version: equal under
// PEP 440 normalization when both parse, else equal as written.
func SameVersion(a, b string) bool {
	if a == b {
		return true
	}
	va, vb := dist.ParseVersion(a), dist.ParseVersion(b)
	if va.Valid() && vb.Valid() {
		return dist.Compare(va, vb) == 0
	}
	return false
}
