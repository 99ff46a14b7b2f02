package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// Result is what Check found in a history.
type Result struct {
	Ops          map[string]map[int]int // operation → status → count (0: no answer)
	Operations   int
	External     int // changes made in the directory itself, not through a replica
	ReadsChecked int // listings of which at least one file's state was asserted
	FilesChecked int // (listing, file) pairs asserted
	Downloads    int // downloads checked against their listing
	Partial      int // listed digests and downloads of part of a file being written in place
	Violations   []string
}

// Print writes the counts and the violations (the first 20 unless all).
func (r *Result) Print(w io.Writer, all bool) {
	fmt.Fprintf(w, "operations: %d\n", r.Operations)
	ops := make([]string, 0, len(r.Ops))
	for op := range r.Ops {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		codes := make([]int, 0, len(r.Ops[op]))
		for c := range r.Ops[op] {
			codes = append(codes, c)
		}
		sort.Ints(codes)
		fmt.Fprintf(w, "  %-8s", op)
		for _, c := range codes {
			fmt.Fprintf(w, " %d:%d", c, r.Ops[op][c])
		}
		fmt.Fprintln(w)
	}
	if r.External > 0 {
		fmt.Fprintf(w, "external writes: %d (cp, write, rm, mv, and renames as mv-from with mv-to)\n", r.External)
	}
	fmt.Fprintf(w, "reads checked: %d (file states asserted: %d, downloads checked: %d)\n", r.ReadsChecked, r.FilesChecked, r.Downloads)
	if r.Partial > 0 {
		fmt.Fprintf(w, "files seen half written: %d (listed or downloaded while written in place)\n", r.Partial)
	}
	fmt.Fprintf(w, "violations: %d\n", len(r.Violations))
	for i, v := range r.Violations {
		if i == 20 && !all {
			fmt.Fprintf(w, "  ... %d more (-v shows all)\n", len(r.Violations)-i)
			break
		}
		fmt.Fprintln(w, "  "+v)
	}
}

// A file's state, as the writes leave it and a listing shows it.
type state int

const (
	absent state = iota
	present
	yanked
)

func (s state) String() string { return [...]string{"absent", "present", "yanked"}[s] }

// effect is what a write did: certainly its state, certainly nothing, or
// unknown (no answer, or a 5xx that may have come after the change).
type effect int

const (
	effectDone effect = iota
	effectNone
	effectUnknown
)

func effectOf(e *Event) effect {
	switch {
	case e.Status >= 200 && e.Status < 300:
		return effectDone
	case e.Op == opYank && e.Status == 404:
		// A yank that lost a race with a removal has written its marker
		// and taken it back (docs/layout.md): for a moment the name was
		// marked.
		return effectUnknown
	case e.Status >= 400 && e.Status < 500:
		return effectNone
	}
	return effectUnknown
}

// stateAfter is the state a write that took effect leaves its file in.
func stateAfter(op string) state {
	switch {
	case op == opMv:
		return present
	case isRemoval(op):
		return absent
	case op == opYank:
		return yanked
	}
	return present
}

// isAdd: the write gives the name new bytes (an upload, or a file copied,
// written or moved there in the directory itself).
func isAdd(op string) bool {
	return op == opUpload || op == opCopy || op == opWrite || op == opMvTo || op == opMv
}

// isRemoval: the write takes the name away, or at least its URL (a move to
// another directory).
func isRemoval(op string) bool {
	return op == opRemove || op == opRm || op == opMvFrom || op == opMv
}

// changesBytes: the write decides what a download of the name gets.
func changesBytes(op string) bool { return isAdd(op) || isRemoval(op) }

func isWrite(op string) bool {
	return changesBytes(op) || op == opYank || op == opUnyank
}

// isExternal: the write was made in the directory, not through a replica.
func isExternal(op string) bool {
	return op == opCopy || op == opWrite || op == opRm || op == opMv || op == opMvFrom || op == opMvTo
}

// Check verifies a history. Every client operation is an interval from
// the request's start to its answer; a change took effect at one moment
// inside its interval. A listing is checked against a file's state only
// where that state is certain: the last write that certainly took effect
// ended before the listing started, and no other write that may have taken
// effect overlaps the span from that write's start to the listing's end.
func Check(events []Event) *Result {
	res := &Result{Ops: map[string]map[int]int{}, Operations: len(events)}
	writes := map[string][]*Event{} // by project/file
	for i := range events {
		e := &events[i]
		if res.Ops[e.Op] == nil {
			res.Ops[e.Op] = map[int]int{}
		}
		res.Ops[e.Op][e.Status]++
		if isExternal(e.Op) && e.Op != opMvTo {
			res.External++
		}
		if isWrite(e.Op) {
			k := e.Project + "/" + e.File
			writes[k] = append(writes[k], e)
		}
	}
	// A listing is held against its own project's files only, in a fixed
	// order so that violations come out the same way each time.
	keys := make([]string, 0, len(writes))
	for k, ws := range writes {
		slices.SortFunc(ws, func(a, b *Event) int { return a.Start.Compare(b.Start) })
		keys = append(keys, k)
	}
	sort.Strings(keys)
	byProject := map[string][][]*Event{}
	for _, k := range keys {
		p := writes[k][0].Project
		byProject[p] = append(byProject[p], writes[k])
	}
	fail := func(format string, args ...any) {
		res.Violations = append(res.Violations, fmt.Sprintf(format, args...))
	}
	for _, k := range keys {
		checkDoubleUploads(k, writes[k], fail)
	}
	for i := range events {
		e := &events[i]
		switch e.Op {
		case opList:
			checkListing(e, byProject[e.Project], writes, res, fail)
		case opDownload:
			checkDownload(e, writes[e.Project+"/"+e.File], res, fail)
		}
	}
	return res
}

// checkDoubleUploads: two uploads of one file may both succeed only when a
// removal of it may have come between them, anywhere from the first start
// to the last end (either may have taken effect first).
func checkDoubleUploads(key string, ws []*Event, fail func(string, ...any)) {
	var last *Event
	for _, u := range ws {
		if u.Op != opUpload || effectOf(u) != effectDone {
			continue
		}
		if last != nil && !mayHappen(ws, isRemoval, last.Start, later(last.End, u.End)) {
			fail("%s: uploaded twice with no removal between (replica %d at %s, replica %d at %s)",
				key, last.Replica, stamp(last.End), u.Replica, stamp(u.End))
		}
		last = u
	}
}

// mayHappen reports whether a write whose op is of the kind that may have
// taken effect overlaps the span from..to.
func mayHappen(ws []*Event, kind func(op string) bool, from, to time.Time) bool {
	for _, w := range ws {
		if kind(w.Op) && effectOf(w) != effectNone && w.End.After(from) && w.Start.Before(to) {
			return true
		}
	}
	return false
}

// expected returns the state a listing spanning start..end must show for a
// file with the given writes, and whether it is certain.
func expected(ws []*Event, start, end time.Time) (state, bool) {
	last, ok := settled(ws, isWrite, start, end)
	if !ok || last == nil {
		return absent, ok
	}
	return stateAfter(last.Op), true
}

// settled returns the last of the writes of the kind given that certainly
// took effect before start, and whether it is certainly the last of that
// kind to have taken effect by end: no other one that may have taken
// effect overlaps the span from its start to end. nil, true: none did.
func settled(ws []*Event, kind func(op string) bool, start, end time.Time) (*Event, bool) {
	var last *Event
	for _, w := range ws {
		if kind(w.Op) && effectOf(w) == effectDone && w.End.Before(start) && (last == nil || w.End.After(last.End)) {
			last = w
		}
	}
	from := time.Time{}
	if last != nil {
		from = last.Start
	}
	for _, w := range ws {
		if w == last || !kind(w.Op) || effectOf(w) == effectNone {
			continue
		}
		if w.End.After(from) && w.Start.Before(end) {
			return nil, false // another write may have come after last
		}
	}
	return last, true
}

// The bytes a listing or a download showed, as writes explain them.
type origin int

const (
	written origin = iota // what no write left
	whole                 // an add's
	partial               // part of a file being written in place
)

// originOf says whether a file whose bytes have the given digest and size
// may be, over the span from..to, what a write of ws left: the bytes of an
// add, or, while a file written in place was being written, any prefix of
// its bytes (it is visible from its creation on).
func originOf(ws []*Event, sha string, size int64, from, to time.Time) origin {
	found := written
	for _, w := range ws {
		if !isAdd(w.Op) || effectOf(w) == effectNone || !w.Start.Before(to) {
			continue
		}
		if w.SHA256 == sha {
			return whole
		}
		if w.Op == opWrite && w.End.After(from) && size >= 0 && size <= int64(len(w.Content)) {
			if sum := sha256.Sum256(w.Content[:size]); hex.EncodeToString(sum[:]) == sha {
				found = partial
			}
		}
	}
	return found
}

func checkListing(e *Event, files [][]*Event, writes map[string][]*Event, res *Result, fail func(string, ...any)) {
	if e.Status >= 500 {
		fail("list %s through replica %d at %s: answered %d", e.Project, e.Replica, stamp(e.Start), e.Status)
		return
	}
	if e.Listing == nil {
		if e.Final {
			fail("final list %s through replica %d: no answer (%s): the replica did not rejoin", e.Project, e.Replica, e.Err)
		}
		return // no answer (a replica down): nothing to check
	}
	checked := false
	for _, ws := range files {
		file := ws[0].File
		want, ok := expected(ws, e.Start, e.End)
		if !ok {
			continue
		}
		got := absent
		if l, listed := e.Listing[file]; listed {
			got = present
			if l.Yanked {
				got = yanked
			}
		}
		res.FilesChecked++
		checked = true
		if got != want {
			fail("list %s through replica %d at %s..%s: %s is %s, want %s (%s; writes: %s)",
				e.Project, e.Replica, stamp(e.Start), stamp(e.End), file, got, want, lastWrite(ws, e.Start), writesAround(ws, e))
			continue
		}
		// The bytes listed are those of the last add when no add or
		// removal may have come since.
		if add, ok := settled(ws, changesBytes, e.Start, e.End); ok && add != nil && isAdd(add.Op) {
			if l := e.Listing[file]; l.SHA256 != add.SHA256 {
				fail("list %s through replica %d at %s..%s: %s has sha256 %s, want %s (%s; writes: %s)",
					e.Project, e.Replica, stamp(e.Start), stamp(e.End), file, l.SHA256, add.SHA256, lastWrite(ws, e.Start), writesAround(ws, e))
			}
		}
	}
	if checked {
		res.ReadsChecked++
	}
	for file, l := range e.Listing {
		ws := writes[e.Project+"/"+file]
		if !mayHappen(ws, isAdd, time.Time{}, e.End) {
			fail("list %s through replica %d at %s: lists %s, which no write may have written", e.Project, e.Replica, stamp(e.Start), file)
			continue
		}
		switch originOf(ws, l.SHA256, l.Size, e.Start, e.End) {
		case partial:
			res.Partial++
		case written:
			fail("list %s through replica %d at %s: lists %s with sha256 %s (%d bytes), the digest of no write of it (a partial or stale file; writes: %s)",
				e.Project, e.Replica, stamp(e.Start), file, l.SHA256, l.Size, writesAround(ws, e))
		}
	}
}

// checkDownload: a listed file downloads, with the listed digest, unless a
// write that could change it came between the listing and the download;
// and its bytes are always those of an upload of that name.
func checkDownload(e *Event, ws []*Event, res *Result, fail func(string, ...any)) {
	where := fmt.Sprintf("download %s/%s through replica %d at %s", e.Project, e.File, e.Replica, stamp(e.Start))
	switch {
	case e.Status == 0 && e.Final:
		fail("%s: no answer after the run (%s)", where, e.Err)
	case e.Status == 0:
		return
	case e.Status == 200:
		res.Downloads++
		switch originOf(ws, e.SHA256, e.Size, e.Start, e.End) {
		case partial:
			res.Partial++
		case written:
			fail("%s: sha256 %s (%d bytes) is the digest of no write of that file (a partial or foreign file)", where, e.SHA256, e.Size)
		}
		if e.SHA256 != e.ListedSHA256 && !mayHappen(ws, changesBytes, e.ListedAt, e.End) {
			fail("%s: sha256 %s, the listing said %s", where, e.SHA256, e.ListedSHA256)
		}
	case e.Status == 404:
		res.Downloads++
		if !mayHappen(ws, isRemoval, e.ListedAt, e.End) {
			fail("%s: 404 for a listed file that nothing removed", where)
		}
	default:
		fail("%s: answered %d", where, e.Status)
	}
}

// lastWrite describes the write a listing should have reflected.
func lastWrite(ws []*Event, before time.Time) string {
	var last *Event
	for _, w := range ws {
		if effectOf(w) == effectDone && w.End.Before(before) && (last == nil || w.End.After(last.End)) {
			last = w
		}
	}
	if last == nil {
		return "never written"
	}
	return fmt.Sprintf("%s through %s returned %d at %s", last.Op, via(last), last.Status, stamp(last.End))
}

// via names where a write was made.
func via(w *Event) string {
	if isExternal(w.Op) {
		return "the directory"
	}
	return fmt.Sprintf("replica %d", w.Replica)
}

func stamp(t time.Time) string { return t.Format("15:04:05.000000") }

// writesAround lists, for a violation's message, the writes of a file
// that ended in the second before a listing, or overlap it.
func writesAround(ws []*Event, e *Event) string {
	var parts []string
	for _, w := range ws {
		if w.End.After(e.Start.Add(-time.Second)) && w.Start.Before(e.End) {
			parts = append(parts, fmt.Sprintf("%s %s %d %s..%s", w.Op, via(w), w.Status, stamp(w.Start), stamp(w.End)))
		}
	}
	return strings.Join(parts, ", ")
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
