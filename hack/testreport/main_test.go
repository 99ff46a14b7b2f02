package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A stream as go test -json writes it for one package: a test that passes
// quietly, one that fails, and two that skip, one saying how to run it.
const stream = `{"Action":"start","Package":"pkgindex.dev/pkgindex/charts"}
{"Action":"run","Package":"pkgindex.dev/pkgindex/charts","Test":"TestOK"}
{"Action":"output","Package":"pkgindex.dev/pkgindex/charts","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"pkgindex.dev/pkgindex/charts","Test":"TestOK","Output":"    a_test.go:3: quiet\n"}
{"Action":"pass","Package":"pkgindex.dev/pkgindex/charts","Test":"TestOK"}
{"Action":"output","Package":"pkgindex.dev/pkgindex/charts","Test":"TestBad","Output":"=== RUN   TestBad\n"}
{"Action":"output","Package":"pkgindex.dev/pkgindex/charts","Test":"TestBad","Output":"    a_test.go:4: boom\n"}
{"Action":"fail","Package":"pkgindex.dev/pkgindex/charts","Test":"TestBad"}
{"Action":"output","Package":"pkgindex.dev/pkgindex/charts","Test":"TestHelm/defaults","Output":"=== RUN   TestHelm/defaults\n"}
{"Action":"output","Package":"pkgindex.dev/pkgindex/charts","Test":"TestHelm/defaults","Output":"    a_test.go:5: helm not found; to run it: make tools\n"}
{"Action":"skip","Package":"pkgindex.dev/pkgindex/charts","Test":"TestHelm/defaults"}
{"Action":"output","Package":"pkgindex.dev/pkgindex/charts","Test":"TestOther","Output":"    a_test.go:6: not today\n"}
{"Action":"skip","Package":"pkgindex.dev/pkgindex/charts","Test":"TestOther"}
{"Action":"output","Package":"pkgindex.dev/pkgindex/charts","Output":"FAIL\n"}
{"Action":"output","Package":"pkgindex.dev/pkgindex/charts","Output":"FAIL\tpkgindex.dev/pkgindex/charts\t0.1s\n"}
{"Action":"fail","Package":"pkgindex.dev/pkgindex/charts"}
`

func TestReport(t *testing.T) {
	var out strings.Builder
	skips, failed, err := report(strings.NewReader(stream), &out, "")
	if err != nil {
		t.Fatal(err)
	}
	if !failed {
		t.Error("a failed test was not reported as a failure")
	}
	if got := out.String(); !strings.Contains(got, "boom") || strings.Contains(got, "quiet") || !strings.HasSuffix(got, "FAIL\tpkgindex.dev/pkgindex/charts\t0.1s\n") {
		t.Errorf("output shows the failed test and the result, not the passed test's output:\n%s", got)
	}
	want := []skip{
		{"charts TestHelm/defaults", "helm not found", "make tools"},
		{"charts TestOther", "not today", "go test -run '^TestOther$' pkgindex.dev/pkgindex/charts"},
	}
	if !slices.Equal(skips, want) {
		t.Errorf("skips %q, want %q", skips, want)
	}

	path := filepath.Join(t.TempDir(), "skipped.txt")
	if err := writeSkips(path, skips); err != nil {
		t.Fatal(err)
	}
	var summary strings.Builder
	printSummary(&summary, []string{path, filepath.Join(t.TempDir(), "absent.txt")})
	lines := strings.Split(strings.TrimSpace(summary.String()), "\n")
	last := lines[len(lines)-1]
	for _, s := range want {
		if !strings.Contains(last, s.suite) || !strings.Contains(last, s.command) {
			t.Errorf("the last line does not name %s and %s: %s", s.suite, s.command, last)
		}
	}

	var none strings.Builder
	printSummary(&none, []string{filepath.Join(t.TempDir(), "absent.txt")})
	if !strings.Contains(none.String(), "nothing was skipped") {
		t.Errorf("with no skips: %q", none.String())
	}
}
