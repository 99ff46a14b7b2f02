// Command image builds the pkgindex container image as an OCI image archive
// without a container daemon: one layer on an empty base holding the static
// binary at /pkgindex, CA certificates, and /etc/passwd and /etc/group
// entries for the non-root user 65532. Every timestamp in the archive is
// the given source date, so two builds of the same binary are byte for byte
// the same archive.
//
// The archive is an OCI image layout in a tar file, which `podman load -i`,
// `ctr images import` and `skopeo copy oci-archive:...` read.
//
//	go run ./hack/image -binary bin/linux_amd64/pkgindex -version v1.2.3 -out bin/pkgindex-image.tar
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The user the image runs as: the uid/gid distroless calls nonroot, which
// is also the operator's default runAs for index pods, so files written
// to shared storage have one owner whichever image runs.
const (
	nonRootUID = 65532
	nonRootGID = 65532
)

// Options say what goes into the image and its labels.
type Options struct {
	// Binary is the static linux pkgindex binary.
	Binary string
	// CACerts is a PEM bundle installed as /etc/ssl/certs/ca-certificates.crt,
	// for the server's fallback URL and the operator's calls out; empty
	// leaves certificates out.
	CACerts string
	// Tag names the image in the archive (org.opencontainers.image.ref.name),
	// which podman load and ctr import use as its name.
	Tag string
	// Version, Revision and Source fill the OCI labels.
	Version  string
	Revision string
	Source   string
	// Created is the time stamped on files, the config and the history:
	// the commit time (SOURCE_DATE_EPOCH), not the build time, so rebuilds
	// are identical.
	Created time.Time
	// Arch is the GOARCH of the binary.
	Arch string
	// Bare, when set, builds an image of Binary alone instead, installed
	// as /<Bare> and run as its entrypoint by 65535, with nothing else:
	// the e2e cluster (hack/e2e.sh) cannot pull registry.k8s.io/pause and
	// runs one of hack/e2e/pause, and its jobs run hack/e2e/client.
	Bare string
}

func main() {
	var o Options
	var out, epoch string
	flag.StringVar(&o.Binary, "binary", "bin/linux_amd64/pkgindex", "static linux pkgindex binary")
	flag.StringVar(&o.CACerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "PEM CA bundle to install (empty: none)")
	flag.StringVar(&o.Tag, "tag", "ghcr.io/pkgindex/pkgindex:dev", "image name stored in the archive")
	flag.StringVar(&o.Version, "version", "dev", "org.opencontainers.image.version label")
	flag.StringVar(&o.Revision, "revision", "", "org.opencontainers.image.revision label (the git commit)")
	flag.StringVar(&o.Source, "source", "https://github.com/pkgindex/pkgindex", "org.opencontainers.image.source label")
	flag.StringVar(&o.Arch, "arch", "amd64", "GOARCH of the binary")
	flag.StringVar(&o.Bare, "bare", "", "build an image of -binary alone, as /NAME and its entrypoint, instead (hack/e2e/pause, hack/e2e/client)")
	flag.StringVar(&epoch, "source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "creation time in seconds since 1970 (default $SOURCE_DATE_EPOCH, else 0)")
	flag.StringVar(&out, "out", "bin/pkgindex-image.tar", "archive to write")
	flag.Parse()

	if epoch == "" {
		epoch = "0"
	}
	secs, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "image: -source-date-epoch %q: %v\n", epoch, err)
		os.Exit(2)
	}
	o.Created = time.Unix(secs, 0).UTC()

	digest, err := Build(o, out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	fmt.Printf("%s %s %s\n", out, o.Tag, digest)
}

// Build writes the image described by o as an OCI archive to out and
// returns the image's manifest digest.
func Build(o Options, out string) (v1.Hash, error) {
	img, err := Image(o)
	if err != nil {
		return v1.Hash{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("computing the image digest: %w", err)
	}

	// The layout is written to a directory first (go-containerregistry
	// writes layouts, not archives) and then packed in a fixed order with
	// fixed headers.
	dir, err := os.MkdirTemp("", "pkgindex-image-")
	if err != nil {
		return v1.Hash{}, fmt.Errorf("creating the layout directory: %w", err)
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("writing the OCI layout: %w", err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": o.Tag,
		// containerd's importer names images by this annotation.
		"io.containerd.image.name": o.Tag,
	})); err != nil {
		return v1.Hash{}, fmt.Errorf("writing the image into the layout: %w", err)
	}
	if err := tarDir(dir, out, o.Created); err != nil {
		return v1.Hash{}, err
	}
	return digest, nil
}

// Image assembles the image in memory.
func Image(o Options) (v1.Image, error) {
	files, createdBy := rootfs, "hack/image: pkgindex, CA certificates, passwd entry for "+strconv.Itoa(nonRootUID)
	if o.Bare != "" {
		files, createdBy = bareRootfs, "hack/image: "+o.Bare
	}
	layerTar, err := files(o)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("making the layer: %w", err)
	}

	created := v1.Time{Time: o.Created}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   created,
			CreatedBy: createdBy,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("adding the layer: %w", err)
	}

	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = o.Arch
	cf.OS = "linux"
	cf.Created = created
	if o.Bare != "" {
		cf.Config = v1.Config{Entrypoint: []string{"/" + o.Bare}, User: "65535:65535", WorkingDir: "/"}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return nil, fmt.Errorf("setting the config: %w", err)
		}
		return img, nil
	}
	cf.Config = v1.Config{
		Entrypoint:   []string{"/pkgindex"},
		Cmd:          []string{"serve", "--root=/data"},
		User:         fmt.Sprintf("%d:%d", nonRootUID, nonRootGID),
		WorkingDir:   "/",
		Env:          []string{"PATH=/", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		Labels:       Labels(o),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("setting the config: %w", err)
	}
	return img, nil
}

// Labels are the OCI annotation keys, set as image labels, that registries
// and scanners show; the Dockerfile sets the same ones.
func Labels(o Options) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "pkgindex",
		"org.opencontainers.image.description": "Private Python package index server and its Kubernetes operator",
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.created":     o.Created.Format(time.RFC3339),
		"org.opencontainers.image.source":      o.Source,
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
	if o.Revision != "" {
		l["org.opencontainers.image.revision"] = o.Revision
	}
	return l
}

// entry is one file or directory of the root file system.
type entry struct {
	name string
	mode int64
	uid  int
	gid  int
	dir  bool
	body []byte
}

// bareRootfs returns the layer of a bare image: the binary alone.
func bareRootfs(o Options) ([]byte, error) {
	if strings.Contains(o.Bare, "/") {
		return nil, fmt.Errorf("-bare %q: a file name, not a path", o.Bare)
	}
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("reading the binary: %w", err)
	}
	return layerOf(o, []entry{{name: o.Bare, mode: 0o755, body: bin}})
}

// rootfs returns the uncompressed layer: a tar of the image's files, in a
// fixed order, owned by root except the non-root user's home, stamped with
// o.Created.
func rootfs(o Options) ([]byte, error) {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("reading the binary: %w", err)
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", nonRootUID, nonRootGID)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", nonRootGID)
	entries := []entry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, body: []byte(passwd)},
		{name: "etc/group", mode: 0o644, body: []byte(group)},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, uid: nonRootUID, gid: nonRootGID, dir: true},
		{name: "pkgindex", mode: 0o755, body: bin},
		// The index pods mount an emptyDir here; without one (docker run)
		// uploads still have somewhere to spool.
		{name: "tmp/", mode: 0o1777, dir: true},
	}
	if o.CACerts != "" {
		pem, err := os.ReadFile(o.CACerts)
		if err != nil {
			return nil, fmt.Errorf("reading CA certificates: %w", err)
		}
		entries = append(entries,
			entry{name: "etc/ssl/", mode: 0o755, dir: true},
			entry{name: "etc/ssl/certs/", mode: 0o755, dir: true},
			entry{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, body: pem},
		)
	}
	return layerOf(o, entries)
}

// layerOf returns entries as a layer tar, in name order, stamped with
// o.Created.
func layerOf(o Options, entries []entry) ([]byte, error) {
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.gid,
			ModTime: o.Created,
			Format:  tar.FormatPAX,
		}
		if e.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("writing %s into the layer: %w", e.name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, fmt.Errorf("writing %s into the layer: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing the layer: %w", err)
	}
	return buf.Bytes(), nil
}

// tarDir packs the layout directory dir into the archive out: paths in
// lexical order, every header with the same time and owner, so the bytes
// depend on the content alone.
func tarDir(dir, out string, mtime time.Time) (err error) {
	var paths []string
	if err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("listing the layout: %w", err)
	}
	sort.Strings(paths)

	tmp := out + ".tmp"
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("creating the output directory: %w", err)
	}
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("creating %s: %w", tmp, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	tw := tar.NewWriter(f)
	for _, p := range paths {
		rel := filepath.ToSlash(strings.TrimPrefix(p, dir+string(filepath.Separator)))
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("reading the layout: %w", err)
		}
		h := &tar.Header{Name: rel, ModTime: mtime, Mode: 0o644, Format: tar.FormatPAX}
		if fi.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, rel+"/", 0o755
		} else {
			h.Typeflag, h.Size = tar.TypeReg, fi.Size()
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("writing %s into the archive: %w", rel, err)
		}
		if !fi.IsDir() {
			if err := copyFile(tw, p); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("finishing %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("moving the archive into place: %w", err)
	}
	return nil
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("copying %s: %w", path, err)
	}
	return nil
}
