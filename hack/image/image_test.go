package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

const testVersion = "v0.0.0-imagetest"

// buildBinary builds the static pkgindex binary the way make image does.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pkgindex")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+testVersion, "-o", bin, "pkgindex.dev/pkgindex")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building pkgindex: %v\n%s", err, out)
	}
	return bin
}

func testOptions(bin string) Options {
	return Options{
		Binary:   bin,
		CACerts:  "/etc/ssl/certs/ca-certificates.crt",
		Tag:      "localhost/pkgindex:imagetest",
		Version:  testVersion,
		Revision: "0123456789abcdef0123456789abcdef01234567",
		Source:   "https://github.com/pkgindex/pkgindex",
		Created:  time.Unix(1700000000, 0).UTC(),
		Arch:     runtime.GOARCH,
	}
}

// TestImage builds the archive twice and checks that the builds are
// identical, that the archive is a valid OCI image with the config the
// operator relies on, and that its entrypoint runs.
func TestImage(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the image's binary runs on linux only; to run it: go test ./hack/image on linux")
	}
	o := testOptions(buildBinary(t))
	if _, err := os.Stat(o.CACerts); err != nil {
		o.CACerts = ""
		t.Logf("no CA bundle on this machine (%v): building without one", err)
	}
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first.tar"), filepath.Join(dir, "second.tar")
	d1, err := Build(o, first)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := Build(o, second)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(first)
	b, _ := os.ReadFile(second)
	if d1 != d2 || !bytes.Equal(a, b) {
		t.Fatalf("two builds differ: %s (%d bytes) and %s (%d bytes)", d1, len(a), d2, len(b))
	}
	t.Logf("image %s, archive %d bytes", d1, len(a))

	img := readArchive(t, first, d1)
	if err := validate.Image(img); err != nil {
		t.Fatalf("archive holds an invalid image: %v", err)
	}

	t.Run("config", func(t *testing.T) {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		checks := []struct {
			name      string
			got, want string
		}{
			{"entrypoint", strings.Join(cf.Config.Entrypoint, " "), "/pkgindex"},
			{"user", cf.Config.User, "65532:65532"},
			{"os", cf.OS, "linux"},
			{"architecture", cf.Architecture, runtime.GOARCH},
			{"created", cf.Created.UTC().Format(time.RFC3339), "2023-11-14T22:13:20Z"},
			{"version label", cf.Config.Labels["org.opencontainers.image.version"], testVersion},
			{"revision label", cf.Config.Labels["org.opencontainers.image.revision"], o.Revision},
			{"source label", cf.Config.Labels["org.opencontainers.image.source"], o.Source},
			{"title label", cf.Config.Labels["org.opencontainers.image.title"], "pkgindex"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
			}
		}
	})

	root := unpack(t, img)
	t.Run("files", func(t *testing.T) {
		passwd, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(passwd), "nonroot:x:65532:65532:") {
			t.Errorf("/etc/passwd has no entry for 65532:\n%s", passwd)
		}
		if o.CACerts != "" {
			pem, err := os.ReadFile(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"))
			if err != nil || !bytes.Contains(pem, []byte("BEGIN CERTIFICATE")) {
				t.Errorf("no CA certificates in the image: %v", err)
			}
		}
	})
	t.Run("entrypoint runs", func(t *testing.T) {
		out, err := exec.Command(filepath.Join(root, "pkgindex"), "version").CombinedOutput()
		if err != nil {
			t.Fatalf("pkgindex version: %v\n%s", err, out)
		}
		if got, want := strings.TrimSpace(string(out)), "pkgindex "+testVersion; got != want {
			t.Errorf("pkgindex version printed %q, want %q", got, want)
		}
	})
	t.Run("podman load", func(t *testing.T) { podmanLoad(t, first, o.Tag) })
}

// readArchive unpacks the archive's OCI layout and returns the image with
// the given digest from it, as a consumer of the layout would find it.
func readArchive(t *testing.T, archive string, digest v1.Hash) v1.Image {
	t.Helper()
	dir := t.TempDir()
	if err := untar(archive, dir); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("reading the OCI layout: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("index lists %d manifests, want 1", len(im.Manifests))
	}
	if got := im.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; got == "" {
		t.Error("the image has no org.opencontainers.image.ref.name, so podman load would leave it unnamed")
	}
	img, err := idx.Image(digest)
	if err != nil {
		t.Fatalf("image %s not in the layout: %v", digest, err)
	}
	return img
}

// unpack writes the image's flattened file system to a directory.
func unpack(t *testing.T, img v1.Image) string {
	t.Helper()
	root := t.TempDir()
	rc := mutate.Extract(img)
	defer rc.Close()
	if err := untarReader(rc, root); err != nil {
		t.Fatalf("unpacking the image: %v", err)
	}
	return root
}

// podmanLoad loads the archive with podman and checks what podman reads
// from it. podman is required when CI is set; running a container is not
// tried, since unprivileged CI containers cannot set the rlimits crun
// sets (the entrypoint is run from the unpacked file system instead).
func podmanLoad(t *testing.T, archive, tag string) {
	podman, err := exec.LookPath("podman")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("podman not found; CI needs it (apt-get install podman)")
		}
		t.Skip("podman not found, so the archive was not loaded; to run it: apt-get install podman")
	}
	out, err := exec.Command(podman, "load", "-i", archive).CombinedOutput()
	if err != nil {
		t.Fatalf("podman load: %v\n%s", err, out)
	}
	defer exec.Command(podman, "rmi", "-f", tag).Run()
	out, err = exec.Command(podman, "image", "inspect", "--format", "{{json .Config}}", tag).Output()
	if err != nil {
		t.Fatalf("podman image inspect %s: %v", tag, err)
	}
	var cfg struct {
		User       string
		Entrypoint []string
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("podman image inspect printed %q: %v", out, err)
	}
	if cfg.User != "65532:65532" || strings.Join(cfg.Entrypoint, " ") != "/pkgindex" {
		t.Errorf("podman sees user %q, entrypoint %q", cfg.User, cfg.Entrypoint)
	}
}

func untar(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return fmt.Errorf("opening %s: %w", archive, err)
	}
	defer f.Close()
	return untarReader(f, dir)
}

// untarReader writes regular files and directories of a tar stream under
// dir, refusing names that would leave it.
func untarReader(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the tar stream: %w", err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, filepath.Clean(dir)+string(filepath.Separator)) {
			return fmt.Errorf("tar entry %q leaves the directory", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return fmt.Errorf("creating %s: %w", p, err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o755|0o600)
			if err != nil {
				return fmt.Errorf("creating %s: %w", p, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("writing %s: %w", p, err)
			}
		}
	}
}

// TestPauseImage builds the e2e cluster's sandbox image and checks that it
// holds the binary alone, as its entrypoint, run by a non-root user.
func TestPauseImage(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "pause")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "pkgindex.dev/pkgindex/hack/e2e/pause")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building pause: %v\n%s", err, out)
	}
	o := Options{Binary: bin, Tag: "localhost/pause:imagetest", Created: time.Unix(1700000000, 0).UTC(), Arch: runtime.GOARCH, Bare: "pause"}
	archive := filepath.Join(t.TempDir(), "pause.tar")
	digest, err := Build(o, archive)
	if err != nil {
		t.Fatal(err)
	}
	img := readArchive(t, archive, digest)
	if err := validate.Image(img); err != nil {
		t.Fatalf("invalid image: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cf.Config.Entrypoint, " "); got != "/pause" {
		t.Errorf("entrypoint %q, want /pause", got)
	}
	if cf.Config.User != "65535:65535" {
		t.Errorf("user %q, want 65535:65535", cf.Config.User)
	}
	entries, err := os.ReadDir(unpack(t, img))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "pause" {
		t.Errorf("image holds %v, want only pause", entries)
	}
}
