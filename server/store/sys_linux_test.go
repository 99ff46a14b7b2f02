//go:build linux && !portable

package store

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// statx's mode is kept as it comes, so identity must read its type bits
// where statx puts them.
func TestModeBitsAreStatx(t *testing.T) {
	if modeType != unix.S_IFMT || modeDir != unix.S_IFDIR || modeRegular != unix.S_IFREG {
		t.Errorf("mode bits %o %o %o, want statx's %o %o %o", modeType, modeDir, modeRegular, unix.S_IFMT, unix.S_IFDIR, unix.S_IFREG)
	}
}

// Every page stats each of its files: the path is built in a reused
// buffer, not as a string.
func TestStatFreshJoinAllocatesNothing(t *testing.T) {
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "a"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "a", "f-1.0.tar.gz"), []byte("x"), 0o644))
	if testing.AllocsPerRun(100, func() { statFreshJoin(root, "a/f-1.0.tar.gz") }) != 0 {
		t.Error("statFreshJoin allocates")
	}
}
