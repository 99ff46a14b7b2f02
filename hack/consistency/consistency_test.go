package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pkgindex.dev/pkgindex/hack/netfs"
)

// build compiles pkgindex with the given tags into the test's directory.
func build(t *testing.T, tags string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pkgindex")
	if err := Build(context.Background(), tags, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestChecker(t *testing.T) {
	good, stale := build(t, ""), build(t, "stalecache")
	long := 4 * time.Second
	if !testing.Short() {
		long = 8 * time.Second
	}
	// On the rig every request costs round trips, so a run checks a few
	// times fewer reads in the same time: the runs there that must pass
	// run longer, to stay well above the threshold below.
	rigLong := long * 3 / 2
	for _, tc := range []struct {
		name       string
		cfg        Config
		violations bool
	}{
		// The real server, with a replica killed by SIGKILL mid-run and
		// restarted: the others keep serving, the restarted one rejoins,
		// and nothing partial is ever listed or downloaded. Writers change
		// the root behind the replicas' backs meanwhile.
		{"replicas consistent through a kill", Config{Binary: good, Replicas: 3, Clients: 8, Projects: 3, Duration: long, Kills: 1, Writers: 2}, false},
		// A build whose listing is reused unchecked for 500ms: the checker
		// must see replicas lag behind writes.
		{"stale listing caught", Config{Binary: stale, Replicas: 3, Clients: 8, Projects: 3, Duration: 2 * time.Second}, true},
		// The same in the per-project layout, where a page checks the root
		// and its project's directory only.
		{"per-project replicas consistent through a kill", Config{Binary: good, Replicas: 3, Clients: 8, Projects: 3, Duration: long, Kills: 1, Writers: 2, Layout: "per-project"}, false},
		{"per-project stale listing caught", Config{Binary: stale, Replicas: 3, Clients: 8, Projects: 3, Duration: 2 * time.Second, Layout: "per-project"}, true},
		// On the NFS-like rig: each replica its own client of the root,
		// with 30 s attribute and name caches and a round trip per
		// request, while writers copy, write, remove and move files in
		// the root itself and add removed names again. Two kills: the
		// first restart keeps its mount, the second gets a new one.
		{"rig: replicas consistent through kills and outside writers", Config{Binary: good, Replicas: 3, Clients: 8, Projects: 3, Duration: rigLong, Kills: 2, Writers: 2, NetFS: true, Latency: time.Millisecond}, false},
		{"rig: stale listing caught", Config{Binary: stale, Replicas: 3, Clients: 8, Projects: 3, Duration: 3 * time.Second, Writers: 2, NetFS: true, Latency: time.Millisecond}, true},
		{"rig: per-project replicas consistent through kills and outside writers", Config{Binary: good, Replicas: 3, Clients: 8, Projects: 3, Duration: rigLong, Kills: 2, Writers: 2, NetFS: true, Latency: time.Millisecond, Layout: "per-project"}, false},
		{"rig: per-project stale listing caught", Config{Binary: stale, Replicas: 3, Clients: 8, Projects: 3, Duration: 3 * time.Second, Writers: 2, NetFS: true, Latency: time.Millisecond, Layout: "per-project"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Run(context.Background(), tc.cfg, testLog{t})
			if err != nil {
				netfs.SkipIfUnavailable(t, err)
				t.Fatal(err)
			}
			var out strings.Builder
			res.Print(&out, false)
			t.Log("\n" + out.String())
			// A run that must pass could pass by checking nothing; one that
			// must fail shows what it checked by failing.
			if !tc.violations && (res.ReadsChecked < 50 || res.Ops[opUpload][200] < 10 || res.Downloads < 50 || res.External < 10*tc.cfg.Writers) {
				t.Fatalf("too little was checked to mean anything: %d reads, %d uploads, %d downloads, %d changes in the root",
					res.ReadsChecked, res.Ops[opUpload][200], res.Downloads, res.External)
			}
			if got := len(res.Violations) > 0; got != tc.violations {
				t.Fatalf("violations found: %v, want %v", got, tc.violations)
			}
		})
	}
}

// testLog sends the checker's progress lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestCheck feeds hand-made histories to the checker: each must give the
// violations listed, and only those.
func TestCheck(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(1000, 0).Add(time.Duration(ms) * time.Millisecond) }
	up := func(s, e, status int, sha string) Event {
		return Event{Op: opUpload, Project: "p", File: "f.whl", Start: at(s), End: at(e), Status: status, SHA256: sha}
	}
	rm := func(s, e, status int) Event {
		return Event{Op: opRemove, Project: "p", File: "f.whl", Start: at(s), End: at(e), Status: status}
	}
	list := func(s, e int, files ...string) Event {
		l := map[string]Listed{}
		for _, f := range files {
			l[f] = Listed{SHA256: "a"}
		}
		return Event{Op: opList, Project: "p", Start: at(s), End: at(e), Status: 200, Listing: l}
	}
	dl := func(listed, s, e, status int, sha string) Event {
		return Event{Op: opDownload, Project: "p", File: "f.whl", ListedAt: at(listed), ListedSHA256: "a",
			Start: at(s), End: at(e), Status: status, SHA256: sha}
	}
	// Changes made in the root itself.
	ext := func(op string, s, e int, sha string) Event {
		return Event{Op: op, Replica: -1, Project: "p", File: "f.whl", Start: at(s), End: at(e), Status: 200, SHA256: sha}
	}
	body := []byte("the bytes of a file written in place")
	digest := func(b []byte) string { sum := sha256.Sum256(b); return hex.EncodeToString(sum[:]) }
	inPlace := func(s, e int) Event {
		w := ext(opWrite, s, e, digest(body))
		w.Content = body
		return w
	}
	// listBytes lists f.whl with the digest and size of b.
	listBytes := func(s, e int, b []byte) Event {
		l := list(s, e)
		l.Listing["f.whl"] = Listed{SHA256: digest(b), Size: int64(len(b))}
		return l
	}
	dlBytes := func(listed, s, e int, b []byte) Event {
		d := dl(listed, s, e, 200, digest(b))
		d.Size = int64(len(b))
		return d
	}
	for _, tc := range []struct {
		name    string
		events  []Event
		want    []string // substrings, one per violation
		partial int      // files seen half written
	}{
		{"read after upload sees it", []Event{up(0, 10, 200, "a"), list(11, 12, "f.whl")}, nil, 0},
		{"read after upload misses it", []Event{up(0, 10, 200, "a"), list(11, 12)}, []string{"is absent, want present"}, 0},
		{"read during upload may miss it", []Event{up(0, 10, 200, "a"), list(5, 6)}, nil, 0},
		{"unanswered upload makes reads uncertain", []Event{up(0, 10, 0, "a"), list(11, 12), list(13, 14, "f.whl")}, nil, 0},
		{"refused upload listed", []Event{up(0, 10, 409, "a"), list(11, 12, "f.whl")}, []string{"is present, want absent", "no write may have written"}, 0},
		{"read after remove still lists", []Event{up(0, 10, 200, "a"), rm(20, 30, 200), list(31, 32, "f.whl")}, []string{"is present, want absent"}, 0},
		{"two uploads win", []Event{up(0, 10, 200, "a"), up(20, 30, 200, "b")}, []string{"uploaded twice"}, 0},
		{"two uploads with a removal between", []Event{up(0, 10, 200, "a"), rm(12, 14, 200), up(20, 30, 200, "b")}, nil, 0},
		{"two uploads, the first ending last, a removal between", []Event{up(0, 30, 200, "a"), up(5, 10, 200, "b"), rm(12, 14, 200)}, nil, 0},
		{"two uploads, the first ending last, no removal", []Event{up(0, 30, 200, "a"), up(5, 10, 200, "b"), rm(31, 32, 200)}, []string{"uploaded twice"}, 0},
		{"download of a listed file fails", []Event{up(0, 10, 200, "a"), dl(11, 12, 13, 404, "")}, []string{"404 for a listed file"}, 0},
		{"download after a removal may fail", []Event{up(0, 10, 200, "a"), rm(11, 14, 200), dl(11, 12, 13, 404, "")}, nil, 0},
		{"partial bytes served", []Event{up(0, 10, 200, "a"), dl(11, 12, 13, 200, "partial")}, []string{"digest of no write", "the listing said"}, 0},
		{"read failed", []Event{{Op: opList, Project: "p", Start: at(0), End: at(1), Status: 500}}, []string{"answered 500"}, 0},
		{"replica down during the run", []Event{{Op: opList, Project: "p", Start: at(0), End: at(1), Err: "refused"}}, nil, 0},
		{"replica down after the run", []Event{{Op: opList, Project: "p", Start: at(0), End: at(1), Err: "refused", Final: true}}, []string{"did not rejoin"}, 0},

		{"read after cp sees it", []Event{ext(opCopy, 0, 10, "a"), list(11, 12, "f.whl")}, nil, 0},
		{"read after cp misses it", []Event{ext(opCopy, 0, 10, "a"), list(11, 12)}, []string{"is absent, want present"}, 0},
		{"read after rm still lists", []Event{up(0, 10, 200, "a"), ext(opRm, 20, 30, ""), list(31, 32, "f.whl")}, []string{"is present, want absent"}, 0},
		{"read after a rename away still lists", []Event{ext(opCopy, 0, 5, "a"), ext(opMvFrom, 6, 10, ""), list(11, 12, "f.whl")}, []string{"is present, want absent"}, 0},
		{"read after a rename to it sees it", []Event{ext(opMvTo, 0, 10, "a"), list(11, 12, "f.whl")}, nil, 0},
		{"read after a move to another directory sees it", []Event{ext(opCopy, 0, 5, "a"), ext(opMv, 6, 10, "a"), list(11, 12, "f.whl")}, nil, 0},
		{"replaced, the old digest listed after", []Event{up(0, 10, 200, "a"), ext(opCopy, 20, 30, "b"), list(31, 32, "f.whl")}, []string{"has sha256 a, want b"}, 0},
		{"replaced, the old digest listed during", []Event{up(0, 10, 200, "a"), ext(opCopy, 20, 30, "b"), list(25, 32, "f.whl")}, nil, 0},
		{"re-added, listed with the old digest", []Event{ext(opCopy, 0, 10, "b"), ext(opRm, 11, 12, ""), ext(opCopy, 13, 14, "c"),
			{Op: opList, Project: "p", Start: at(15), End: at(16), Status: 200, Listing: map[string]Listed{"f.whl": {SHA256: "b"}}}},
			[]string{"has sha256 b, want c"}, 0},
		{"listed with the digest of no write", []Event{ext(opCopy, 0, 10, "b"), list(5, 6, "f.whl")}, []string{"the digest of no write"}, 0},
		{"half written, listed while written", []Event{inPlace(0, 10), listBytes(5, 6, body[:7])}, nil, 1},
		{"half written, listed after", []Event{inPlace(0, 10), listBytes(11, 12, body[:7])}, []string{"want " + digest(body), "the digest of no write"}, 0},
		{"half written, listed with bytes it never held", []Event{inPlace(0, 10), listBytes(5, 6, []byte("the bytes of another"))}, []string{"the digest of no write"}, 0},
		{"half written, downloaded while written", []Event{inPlace(0, 10), dlBytes(1, 5, 8, body[:3])}, nil, 1},
		{"half written, downloaded after", []Event{inPlace(0, 10), dlBytes(11, 12, 13, body[:3])}, []string{"digest of no write", "the listing said"}, 0},
		{"download after a move to another directory may fail", []Event{ext(opCopy, 0, 10, "a"), ext(opMv, 12, 13, "a"), dl(11, 14, 15, 404, "")}, nil, 0},
		{"download after a copy over it may differ", []Event{ext(opCopy, 0, 10, "a"), ext(opCopy, 12, 13, "b"), dl(11, 14, 15, 200, "b")}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Check(tc.events)
			if len(res.Violations) != len(tc.want) {
				t.Fatalf("violations %q, want %d", res.Violations, len(tc.want))
			}
			if res.Partial != tc.partial {
				t.Errorf("files seen half written: %d, want %d", res.Partial, tc.partial)
			}
			for i, w := range tc.want {
				if !strings.Contains(res.Violations[i], w) {
					t.Errorf("violation %q, want one with %q", res.Violations[i], w)
				}
			}
		})
	}
}
