package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A file replaced by rename with one of the same size and modification
// time is another file to StatFresh; a file left alone is the same.
func TestStatFresh(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "page.json")
	at := time.Unix(1e9, 0)
	write := func(name, content string) {
		t.Helper()
		must(t, os.WriteFile(name, []byte(content), 0o644))
		must(t, os.Chtimes(name, at, at))
	}
	write(p, "one")
	first, err := StatFresh(p)
	must(t, err)
	for _, tc := range []struct {
		name   string
		change func()
		same   bool
	}{
		{"untouched", func() {}, true},
		{"replaced by rename, same size and time", func() {
			write(p+".tmp", "two")
			must(t, os.Rename(p+".tmp", p))
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.change()
			now, err := StatFresh(p)
			must(t, err)
			if (now == first) != tc.same {
				t.Errorf("before %+v, after %+v: same %v, want %v", first, now, now == first, tc.same)
			}
		})
	}
	if _, err := StatFresh(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}
