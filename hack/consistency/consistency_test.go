package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	for _, tc := range []struct {
		name       string
		cfg        Config
		violations bool
	}{
		// The real server, with a replica killed by SIGKILL mid-run and
		// restarted: the others keep serving, the restarted one rejoins,
		// and nothing partial is ever listed or downloaded.
		{"replicas consistent through a kill", Config{Binary: good, Replicas: 3, Clients: 8, Projects: 3, Duration: long, Kills: 1}, false},
		// A build whose listing is reused unchecked for 500ms: the checker
		// must see replicas lag behind writes.
		{"stale listing caught", Config{Binary: stale, Replicas: 3, Clients: 8, Projects: 3, Duration: 2 * time.Second}, true},
		// The same in the per-project layout, where a page checks the root
		// and its project's directory only.
		{"per-project replicas consistent through a kill", Config{Binary: good, Replicas: 3, Clients: 8, Projects: 3, Duration: long, Kills: 1, Layout: "per-project"}, false},
		{"per-project stale listing caught", Config{Binary: stale, Replicas: 3, Clients: 8, Projects: 3, Duration: 2 * time.Second, Layout: "per-project"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Run(context.Background(), tc.cfg, testLog{t})
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			res.Print(&out, false)
			t.Log("\n" + out.String())
			if res.ReadsChecked < 50 || res.Ops[opUpload][200] < 10 || res.Downloads < 50 {
				t.Fatalf("too little was checked to mean anything: %d reads, %d uploads, %d downloads",
					res.ReadsChecked, res.Ops[opUpload][200], res.Downloads)
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
	for _, tc := range []struct {
		name   string
		events []Event
		want   []string // substrings, one per violation
	}{
		{"read after upload sees it", []Event{up(0, 10, 200, "a"), list(11, 12, "f.whl")}, nil},
		{"read after upload misses it", []Event{up(0, 10, 200, "a"), list(11, 12)}, []string{"is absent, want present"}},
		{"read during upload may miss it", []Event{up(0, 10, 200, "a"), list(5, 6)}, nil},
		{"unanswered upload makes reads uncertain", []Event{up(0, 10, 0, "a"), list(11, 12), list(13, 14, "f.whl")}, nil},
		{"refused upload listed", []Event{up(0, 10, 409, "a"), list(11, 12, "f.whl")}, []string{"is present, want absent", "no upload may have written"}},
		{"read after remove still lists", []Event{up(0, 10, 200, "a"), rm(20, 30, 200), list(31, 32, "f.whl")}, []string{"is present, want absent"}},
		{"two uploads win", []Event{up(0, 10, 200, "a"), up(20, 30, 200, "b")}, []string{"uploaded twice"}},
		{"two uploads with a removal between", []Event{up(0, 10, 200, "a"), rm(12, 14, 200), up(20, 30, 200, "b")}, nil},
		{"two uploads, the first ending last, a removal between", []Event{up(0, 30, 200, "a"), up(5, 10, 200, "b"), rm(12, 14, 200)}, nil},
		{"two uploads, the first ending last, no removal", []Event{up(0, 30, 200, "a"), up(5, 10, 200, "b"), rm(31, 32, 200)}, []string{"uploaded twice"}},
		{"download of a listed file fails", []Event{up(0, 10, 200, "a"), dl(11, 12, 13, 404, "")}, []string{"404 for a listed file"}},
		{"download after a removal may fail", []Event{up(0, 10, 200, "a"), rm(11, 14, 200), dl(11, 12, 13, 404, "")}, nil},
		{"partial bytes served", []Event{up(0, 10, 200, "a"), dl(11, 12, 13, 200, "partial")}, []string{"digest of no upload", "the listing said"}},
		{"read failed", []Event{{Op: opList, Project: "p", Start: at(0), End: at(1), Status: 500}}, []string{"answered 500"}},
		{"replica down during the run", []Event{{Op: opList, Project: "p", Start: at(0), End: at(1), Err: "refused"}}, nil},
		{"replica down after the run", []Event{{Op: opList, Project: "p", Start: at(0), End: at(1), Err: "refused", Final: true}}, []string{"did not rejoin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Check(tc.events)
			if len(res.Violations) != len(tc.want) {
				t.Fatalf("violations %q, want %d", res.Violations, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(res.Violations[i], w) {
					t.Errorf("violation %q, want one with %q", res.Violations[i], w)
				}
			}
		})
	}
}
