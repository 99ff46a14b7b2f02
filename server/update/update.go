// Package update is pypiserver's update command: it finds the newest
// release of each project in the roots, asks the upstream index for newer
// ones, and lists them, or with -x downloads them into the roots, checked
// against the upstream's digests and published as uploads are.
package update

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/upstream"
)

// DefaultIndex is asked when no --index-url is given, as pypiserver asks
// PyPI.
const DefaultIndex = "https://pypi.org/simple/"

// local is the newest release of a project in the roots.
type local struct {
	name    string // normalized
	version dist.Version
	raw     string // the version as its file names spell it
	dir     string // the directory of its newest file
}

// found is a newer release upstream.
type found struct {
	local
	newer string
	files []upstream.Listed
}

// Run runs `pkgindex update` with args (after the command's name) and
// returns the exit status.
func Run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("pkgindex update", flag.ContinueOnError)
	fset.SetOutput(stderr)
	execute := fset.Bool("x", false, "download the newer releases instead of printing the commands")
	dir := fset.String("d", "", "download into this directory (default: the directory of each project's newest file)")
	unstable := fset.Bool("u", false, "consider pre-releases too")
	ignore := fset.String("ignorelist-file", "", "file of projects never updated, one a line")
	fset.StringVar(ignore, "blacklist-file", "", "alias of --ignorelist-file (pypiserver's older name)")
	var urls []string
	fset.Func("index-url", "Simple API index to ask (repeatable, asked in order; default "+DefaultIndex+")", func(v string) error {
		urls = append(urls, v)
		return nil
	})
	creds := fset.String("upstream-credentials", "", "credentials file, as pkgindex serve's (or PKGINDEX_UPSTREAM_USER and PKGINDEX_UPSTREAM_PASSWORD)")
	ca := fset.String("upstream-ca", "", "PEM bundle the index's certificate is checked against")
	timeout := fset.Duration("upstream-timeout", upstream.DefaultTimeout, "longest wait for the index")
	fset.Usage = func() {
		fmt.Fprintln(stderr, "usage: pkgindex update [-x] [-d DIR] [-u] [--ignorelist-file FILE] [--index-url URL] ROOT...")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	roots := fset.Args()
	if len(roots) == 0 {
		fset.Usage()
		return 2
	}
	if len(urls) == 0 {
		urls = []string{DefaultIndex}
	}
	opts := upstream.Options{URLs: urls, CAFile: *ca, Timeout: *timeout}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "pkgindex update:", err)
		return 2
	}
	for _, u := range urls {
		if err := upstream.CheckURL(u); err != nil {
			return fail(fmt.Errorf("--index-url: %w", err))
		}
	}
	var err error
	if *creds != "" {
		if opts.Credentials, err = upstream.ReadCredentials(*creds); err != nil {
			return fail(fmt.Errorf("--upstream-credentials: %w", err))
		}
	}
	opts.Credentials = upstream.EnvCredentials(opts.Credentials, env)
	var ignored []string
	if *ignore != "" {
		if ignored, err = upstream.ReadNames(*ignore); err != nil {
			return fail(fmt.Errorf("--ignorelist-file: %w", err))
		}
	}
	lister, err := upstream.NewLister(opts)
	if err != nil {
		return fail(err)
	}
	projects, err := scan(roots)
	if err != nil {
		return fail(err)
	}
	projects = slices.DeleteFunc(projects, func(p local) bool { return slices.Contains(ignored, p.name) })
	updates, errs := check(ctx, lister, projects, *unstable)
	status := 0
	for _, err := range errs {
		fmt.Fprintln(stderr, "pkgindex update:", err)
		status = 1
	}
	for _, u := range updates {
		into := cmp.Or(*dir, u.dir)
		fmt.Fprintf(stdout, "# update %s from %s to %s\n", u.name, u.raw, u.newer)
		if !*execute {
			fmt.Fprintf(stdout, "pip download --no-deps -i %s -d %s %s==%s\n", u.files[0].Upstream, into, u.name, u.newer)
			continue
		}
		for _, f := range u.files {
			path, err := lister.Download(ctx, f, into)
			switch {
			case errors.Is(err, fs.ErrExist):
				fmt.Fprintf(stdout, "%s exists; left as it is\n", filepath.Join(into, f.Filename))
			case err != nil:
				fmt.Fprintln(stderr, "pkgindex update:", err)
				status = 1
			default:
				fmt.Fprintln(stdout, "downloaded", path)
			}
		}
	}
	return status
}

// scan finds the newest release of every project under the roots, read
// from file names as the server reads them (hidden names skipped).
func scan(roots []string) ([]local, error) {
	newest := map[string]local{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(d.Name(), ".") && p != root {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			df, err := dist.Parse(d.Name())
			if err != nil {
				return nil
			}
			v := dist.ParseVersion(df.Version)
			name := df.Normalized()
			if cur, ok := newest[name]; !ok || dist.Compare(v, cur.version) > 0 {
				newest[name] = local{name: name, version: v, raw: df.Version, dir: filepath.Dir(p)}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", root, err)
		}
	}
	out := make([]local, 0, len(newest))
	for _, l := range newest {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b local) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// check asks the upstream about every project, a few at once, and returns
// the newer releases in the projects' order. A project the upstream does
// not have is no error: it is a private one.
func check(ctx context.Context, l *upstream.Lister, projects []local, unstable bool) ([]found, []error) {
	results := make([]*found, len(projects))
	errs := make([]error, len(projects))
	work := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range work {
				results[i], errs[i] = newer(ctx, l, projects[i], unstable)
			}
		})
	}
	for i := range projects {
		work <- i
	}
	close(work)
	wg.Wait()
	var out []found
	for _, r := range results {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, slices.DeleteFunc(errs, func(e error) bool { return e == nil })
}

// newer finds the newest release upstream above the local one: its files,
// without the yanked ones.
func newer(ctx context.Context, l *upstream.Lister, p local, unstable bool) (*found, error) {
	files, err := l.Files(ctx, p.name)
	if errors.Is(err, upstream.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var best dist.Version
	var bestRaw string
	for _, f := range files {
		v := dist.ParseVersion(f.Version)
		if f.Yanked || !v.Valid() || v.IsPrerelease() && !unstable || dist.Compare(v, p.version) <= 0 {
			continue
		}
		if bestRaw == "" || dist.Compare(v, best) > 0 {
			best, bestRaw = v, f.Version
		}
	}
	if bestRaw == "" {
		return nil, nil
	}
	r := &found{local: p, newer: bestRaw}
	for _, f := range files {
		if !f.Yanked && dist.Compare(dist.ParseVersion(f.Version), best) == 0 {
			r.files = append(r.files, f)
		}
	}
	return r, nil
}
