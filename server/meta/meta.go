// Package meta reads a distribution's core metadata: the METADATA file of a
// wheel's .dist-info directory (served byte for byte for PEP 658) and the
// PKG-INFO of an sdist, and the few fields the index shows from them.
package meta

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"cmp"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strings"
	"sync"

	"pkgindex.dev/pkgindex/server/dist"
)

// MaxSize bounds the metadata file the index will read: real ones are a few
// kilobytes, long descriptions reach a few hundred.
const MaxSize = 8 << 20

// maxMembers bounds how many archive members an sdist scan looks at.
const maxMembers = 20000

// ErrNoMetadata means the archive holds no metadata file where one belongs.
var ErrNoMetadata = errors.New("no core metadata in archive")

// Fields are the core metadata fields the index shows.
type Fields struct {
	Name           string
	Version        string
	Summary        string
	RequiresPython string
	// What PyPI's JSON API shows besides.
	RequiresDist []string
	License      string // License-Expression, or the older License
	Author       string
	AuthorEmail  string
	HomePage     string
	ProjectURLs  map[string]string // Project-URL's "label, URL", by label
	Classifiers  []string
}

// Wheel returns the bytes of the wheel's .dist-info/METADATA. Per PEP 427
// the directory is named after the escaped project name and version; any
// single top-level .dist-info directory is accepted when the names differ
// only in spelling. Archives beyond DefaultLimits, and metadata beyond
// MaxSize, give ErrLimit.
func Wheel(r io.ReaderAt, size int64, f dist.File) ([]byte, error) {
	m, err := WheelMetadata(r, size, f)
	if err != nil {
		return nil, err
	}
	return ReadMember(r, size, f, m)
}

// WheelMetadata finds where the wheel's METADATA lies, for ReadMember.
func WheelMetadata(r io.ReaderAt, size int64, f dist.File) (*Member, error) {
	release := acquire()
	defer release()
	want := dist.Normalize(f.Project)
	m, err := FindMember(r, size, DefaultLimits, func(name string) int {
		dir, ok := strings.CutSuffix(name, ".dist-info/METADATA")
		if !ok || strings.Contains(dir, "/") {
			return 0
		}
		if project, _, _ := strings.Cut(dir, "-"); dist.Normalize(project) == want {
			return 2
		}
		return 1
	})
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %w", f.Filename, err)
	}
	return m, nil
}

// ReadMember reads the metadata member m of the archive f.
func ReadMember(r io.ReaderAt, size int64, f dist.File, m *Member) ([]byte, error) {
	release := acquire()
	defer release()
	b, err := m.Read(r, size, MaxSize)
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %w", f.Filename, err)
	}
	return b, nil
}

// Sdist returns the PKG-INFO at the top of an sdist (one directory down from
// the archive root). Archives whose compression the standard library does
// not read (.tar.xz) give ErrNoMetadata.
func Sdist(r io.ReaderAt, size int64, f dist.File) ([]byte, error) {
	lower := strings.ToLower(f.Filename)
	switch {
	case strings.HasSuffix(lower, ".zip"):
		zr, err := zip.NewReader(r, size)
		if err != nil {
			return nil, fmt.Errorf("reading sdist %s: %w", f.Filename, err)
		}
		for i, zf := range zr.File {
			if i >= maxMembers {
				break
			}
			if isTopPKGInfo(zf.Name) && zf.UncompressedSize64 <= MaxSize {
				rc, err := zf.Open()
				if err != nil {
					return nil, fmt.Errorf("sdist %s: %w", f.Filename, err)
				}
				defer rc.Close()
				return io.ReadAll(io.LimitReader(rc, MaxSize))
			}
		}
	case strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		zr, err := getGzip(io.NewSectionReader(r, 0, size))
		if err != nil {
			return nil, fmt.Errorf("reading sdist %s: %w", f.Filename, err)
		}
		defer putGzip(zr)
		return fromTar(tar.NewReader(zr), f.Filename)
	case strings.HasSuffix(lower, ".tar.bz2"), strings.HasSuffix(lower, ".tbz"):
		return fromTar(tar.NewReader(bzip2.NewReader(io.NewSectionReader(r, 0, size))), f.Filename)
	case strings.HasSuffix(lower, ".tar"):
		return fromTar(tar.NewReader(io.NewSectionReader(r, 0, size)), f.Filename)
	}
	return nil, fmt.Errorf("sdist %s: %w", f.Filename, ErrNoMetadata)
}

// gzips are reused: a gzip reader carries a 32 KiB window, and hashing a
// tree of sdists (or checking uploads) would otherwise make one per file.
var gzips sync.Pool

func getGzip(r io.Reader) (*gzip.Reader, error) {
	if zr, ok := gzips.Get().(*gzip.Reader); ok {
		if err := zr.Reset(r); err != nil {
			gzips.Put(zr)
			return nil, err
		}
		return zr, nil
	}
	return gzip.NewReader(r)
}

func putGzip(zr *gzip.Reader) { gzips.Put(zr) }

func fromTar(tr *tar.Reader, name string) ([]byte, error) {
	for i := 0; i < maxMembers; i++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading sdist %s: %w", name, err)
		}
		if h.Typeflag == tar.TypeReg && isTopPKGInfo(h.Name) && h.Size <= MaxSize {
			b, err := io.ReadAll(io.LimitReader(tr, MaxSize))
			if err != nil {
				return nil, fmt.Errorf("reading sdist %s: %w", name, err)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("sdist %s: %w", name, ErrNoMetadata)
}

func isTopPKGInfo(name string) bool {
	name = strings.TrimPrefix(name, "./")
	dir, ok := strings.CutSuffix(name, "/PKG-INFO")
	return ok && dir != "" && !strings.Contains(dir, "/")
}

// Parse reads the header fields of a core metadata file (RFC 822 style, with
// continuation lines); the body, if any, is the description and is ignored.
func Parse(b []byte) (Fields, error) {
	tp := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(b), strings.NewReader("\r\n\r\n"))))
	h, err := tp.ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return Fields{}, fmt.Errorf("parsing core metadata: %w", err)
	}
	f := Fields{
		Name:           h.Get("Name"),
		Version:        h.Get("Version"),
		Summary:        h.Get("Summary"),
		RequiresPython: strings.TrimSpace(h.Get("Requires-Python")),
		RequiresDist:   h.Values("Requires-Dist"),
		License:        cmp.Or(h.Get("License-Expression"), h.Get("License")),
		Author:         h.Get("Author"),
		AuthorEmail:    h.Get("Author-Email"),
		HomePage:       h.Get("Home-Page"),
		Classifiers:    h.Values("Classifier"),
	}
	for _, pu := range h.Values("Project-Url") {
		label, u, ok := strings.Cut(pu, ",")
		if !ok {
			continue
		}
		if f.ProjectURLs == nil {
			f.ProjectURLs = map[string]string{}
		}
		f.ProjectURLs[strings.TrimSpace(label)] = strings.TrimSpace(u)
	}
	return f, nil
}
