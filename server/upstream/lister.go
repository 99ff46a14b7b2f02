package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"pkgindex.dev/pkgindex/server/dist"
)

// Lister asks upstream indexes what they hold of a project and downloads
// files from them, without the cache: what `pkgindex update` needs.
type Lister struct{ u *Upstream }

// Listed is one file an upstream lists for a project.
type Listed struct {
	Filename string
	Version  string
	Yanked   bool
	// Upstream is the index that listed the file.
	Upstream string
	url      string
	hashes   map[string]string
}

// NewLister makes a Lister of the upstreams in opts (Dir is not used).
func NewLister(opts Options) (*Lister, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxPageSize <= 0 {
		opts.MaxPageSize = DefaultMaxPageSize
	}
	opts.MaxFetches = max(opts.MaxFetches, 1)
	client, err := newClient(&opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Lister{&Upstream{opts: opts, client: client, sem: make(chan struct{}, opts.MaxFetches), ctx: ctx, cancel: cancel}}, nil
}

// Files lists the files of the normalized project name on the first
// upstream that has it; ErrNotFound when none has.
func (l *Lister) Files(ctx context.Context, name string) ([]Listed, error) {
	ctx, cancel := context.WithTimeout(ctx, l.u.opts.Timeout)
	defer cancel()
	for _, base := range l.u.opts.URLs {
		rec, err := l.u.fetchPage(ctx, base, name, nil)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("asking %s about %s: %w", base, name, err)
		}
		var out []Listed
		for _, e := range rec.Files {
			df, err := dist.Parse(e.Filename)
			if err != nil {
				continue
			}
			out = append(out, Listed{Filename: e.Filename, Version: df.Version, Yanked: e.Yanked, Upstream: base, url: e.URL, hashes: e.Hashes})
		}
		return out, nil
	}
	return nil, ErrNotFound
}

// Download writes the file into dir: into a hidden temporary file there,
// checked against the digests the upstream listed, flushed, then linked
// under its name, so the index serves the whole file or nothing. A file of
// that name in dir is left alone (fs.ErrExist).
func (l *Lister) Download(ctx context.Context, f Listed, dir string) (string, error) {
	target := filepath.Join(dir, f.Filename)
	if _, err := os.Lstat(target); err == nil {
		return "", fmt.Errorf("%s: %w", target, os.ErrExist)
	}
	start := time.Now()
	resp, err := l.u.get(ctx, f.Upstream, f.url, nil)
	l.u.observe(start)
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", f.Filename, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("downloading %s: %w", f.Filename, &statusError{resp.StatusCode})
	}
	tmp, err := os.CreateTemp(dir, "."+f.Filename+".part-*")
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", f.Filename, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := tmp.Chmod(distMode); err != nil {
		return "", fmt.Errorf("downloading %s: %w", f.Filename, err)
	}
	hashes := checkers(f.hashes)
	w := io.Writer(tmp)
	for _, h := range hashes {
		w = io.MultiWriter(w, h.h)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return "", fmt.Errorf("downloading %s: %w", f.Filename, err)
	}
	if err := verify(hashes, f.Filename); err != nil {
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("downloading %s: %w", f.Filename, err)
	}
	if err := os.Link(tmp.Name(), target); err != nil {
		return "", fmt.Errorf("publishing %s: %w", f.Filename, err)
	}
	return target, nil
}
