package server

import (
	"fmt"
	"regexp"
	"slices"
	"testing"
)

func TestReleasable(t *testing.T) {
	const exe = "/usr/bin/pkgindex"
	smaps := `00400000-017fd000 r-xp 00000000 fe:00 10002637                           /usr/bin/pkgindex
Size:              20468 kB
Rss:               13236 kB
Shared_Dirty:          0 kB
Private_Dirty:      8000 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me dw sd
017fd000-02d22000 r--p 013fd000 fe:00 10002637                           /usr/bin/pkgindex
Rss:               12244 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
02d00000-02d10000 r--p 02900000 fe:00 10002637                           /usr/bin/pkgindex
Rss:                  64 kB
Private_Dirty:        64 kB
Anonymous:            16 kB
02d22000-02dc2000 rw-p 02922000 fe:00 10002637                           /usr/bin/pkgindex
Rss:                 448 kB
Private_Dirty:         0 kB
02e00000-02e10000 r--p 00000000 fe:00 99                                 /usr/bin/pkgindex (deleted)
Rss:                  64 kB
03000000-03100000 r--p 00000000 fe:00 12                                 /usr/lib/other.so
Rss:                  64 kB
15c8ab400000-15c8abc00000 rw-p 00000000 00:00 0 
Rss:                4028 kB
Anonymous:          4028 kB
7f88f9407000-7f88f947b000 r--p 00000000 00:00 0 
Rss:                 276 kB
7ffc8e19e000-7ffc8e1bf000 rw-p 00000000 00:00 0                          [stack]
Rss:                  16 kB
`
	var got []string
	for _, m := range releasable([]byte(smaps), exe) {
		got = append(got, fmt.Sprintf("%x-%x %s %d", m.start, m.end, m.perms, m.rss>>10))
	}
	want := []string{"400000-17fd000 r-xp 13236", "17fd000-2d22000 r--p 12244"}
	if !slices.Equal(got, want) {
		t.Errorf("releasable = %q, want %q (code and constant data only: not written, not changed, not another file)", got, want)
	}
}

// The test binary releases its own pages and goes on running code and
// reading constant data, which come back from the page cache.
func TestReleaseStartupPages(t *testing.T) {
	before := regexp.MustCompile(`^([a-z]+)-(\d+)\.tar\.gz$`).FindStringSubmatch("demo-12.tar.gz")
	n, err := ReleaseStartupPages()
	if err != nil {
		t.Fatal(err)
	}
	if n <= 0 {
		t.Fatalf("released %d bytes: the executable's pages were not found", n)
	}
	after := regexp.MustCompile(`^([a-z]+)-(\d+)\.tar\.gz$`).FindStringSubmatch("demo-12.tar.gz")
	if !slices.Equal(before, after) || fmt.Sprintf("%x", []byte("ok")) != "6f6b" {
		t.Errorf("code after the release gave %q, before %q", after, before)
	}
}
