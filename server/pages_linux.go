package server

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ReleaseStartupPages unmaps the pages of the executable's code and
// constant data that are mapped now, and returns how many bytes that was.
//
// The binary is shared with the operator, and the initialisers of the
// operator's Kubernetes libraries run in every process, touching some
// 15 MiB of code and type data spread over the binary that the index
// server never uses again. Mapped, those pages count as the process's
// memory, and the kernel keeps mapped executable pages from being
// reclaimed. Only read-only mappings of the executable file with no
// private copies of pages are released, so no content can be lost.
//
// What the server does use is mapped again on first touch. A fault on a
// file mapping also maps every neighbouring page the page cache holds, 64
// KiB around it, and reads ahead when it must read: the server touched
// some 300 pages of constant data while serving, and kept 8 MiB of it
// mapped. So the released mappings are marked as read at random (no
// read-ahead), and the executable's pages no process maps are dropped
// from the page cache (clean pages only: the file is not changed). A page
// the server needs again is then read alone, and only it is mapped.
func ReleaseStartupPages() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("finding the executable: %w", err)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("reading the process's mappings: %w", err)
	}
	var released int64
	for _, m := range releasable(smaps, exe) {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_DONTNEED); errno != 0 {
			return released, fmt.Errorf("releasing %#x-%#x: %w", m.start, m.end, errno)
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_RANDOM); errno != 0 {
			return released, fmt.Errorf("marking %#x-%#x as read at random: %w", m.start, m.end, errno)
		}
		released += m.rss
	}
	if released > 0 {
		if err := dropCached(exe); err != nil {
			return released, err
		}
	}
	return released, nil
}

// dropCached asks the kernel to drop the page cache's clean, unmapped pages
// of the file at path.
func dropCached(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening the executable: %w", err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("dropping the executable's cached pages: %w", err)
	}
	return nil
}

// mapping is one mapping of /proc/self/smaps.
type mapping struct {
	start, end uintptr
	perms      string
	path       string
	rss        int64
	changed    bool // holds anonymous pages: private copies of changed ones
}

// releasable returns the mappings of exe in smaps that are read-only and
// hold only the file's own contents.
func releasable(smaps []byte, exe string) []mapping {
	var out []mapping
	var cur *mapping
	done := func() {
		if cur != nil && cur.path == exe && !strings.Contains(cur.perms, "w") && !cur.changed && cur.rss > 0 {
			out = append(out, *cur)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(f[0], "-"); ok && len(f) >= 5 {
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				done()
				cur = &mapping{start: uintptr(start), end: uintptr(end), perms: f[1]}
				if len(f) >= 6 {
					cur.path = strings.Join(f[5:], " ")
				}
				continue
			}
		}
		if cur == nil || len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "Rss:":
			cur.rss = kb << 10
		case "Anonymous:":
			// A page of a private mapping that was written is an anonymous
			// copy. (Dirty counts also cover the file's own pages not yet
			// written back, as in a binary just built.)
			cur.changed = kb > 0
		}
	}
	done()
	return out
}
