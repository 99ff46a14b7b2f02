// Command testreport reads `go test -json` and prints what plain go test
// would: each package's result, and the output of tests that fail. It also
// notes every test that skipped, with its reason and the command that makes
// it run, into a file, so that make test can end by naming them all:
//
//	go test -json ./... | go run ./hack/testreport -skipped bin/skipped/unit.txt
//	go run ./hack/testreport -summary bin/skipped/*.txt
//
// A skip message says how to make the test run after "; to run it: ", as
// the tests' helpers write them; without it the command given is the go
// test line of that test alone. It exits 1 when a test or a package fails.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// event is one line of test2json's output.
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// skip is one skipped suite: a test, or a whole step of make test.
type skip struct {
	suite, reason, command string
}

const runIt = "; to run it: "

func main() {
	skipped := flag.String("skipped", "", "file to write the skipped tests to, one a line")
	label := flag.String("label", "", "said after each package's name in the skipped list (e.g. -tags portable)")
	summary := flag.Bool("summary", false, "print the skipped suites of the files given as arguments, and a last line naming them")
	flag.Parse()
	if *summary {
		os.Exit(printSummary(os.Stdout, flag.Args()))
	}
	skips, failed, err := report(os.Stdin, os.Stdout, *label)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if *skipped != "" {
		if err := writeSkips(*skipped, skips); err != nil {
			fmt.Fprintln(os.Stderr, "testreport:", err)
			os.Exit(2)
		}
	}
	if failed {
		os.Exit(1)
	}
}

// location is the file:line prefix testing puts before a test's message.
var location = regexp.MustCompile(`^\s*\S+\.go:\d+: `)

// report copies the package results and the failed tests' output from r to
// w and returns the skipped tests, and whether anything failed.
func report(r io.Reader, w io.Writer, label string) ([]skip, bool, error) {
	var (
		skips  []skip
		failed bool
		output = map[string][]string{} // a running test's output lines
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// Not test2json: a go command error, passed on as it is.
			fmt.Fprintln(w, sc.Text())
			continue
		}
		key := e.Package + " " + e.Test
		switch {
		case e.Action == "build-output":
			fmt.Fprint(w, e.Output)
		case e.Action == "build-fail":
			failed = true
		case e.Test == "":
			if e.Action == "fail" {
				failed = true
			}
			if e.Action == "output" && e.Output != "PASS\n" {
				fmt.Fprint(w, e.Output)
			}
		case e.Action == "output":
			output[key] = append(output[key], e.Output)
		case e.Action == "fail":
			failed = true
			fmt.Fprint(w, strings.Join(output[key], ""))
			delete(output, key)
		case e.Action == "skip":
			reason, command := skipReason(output[key])
			if command == "" {
				command = fmt.Sprintf("go test -run '^%s$' %s", strings.ReplaceAll(e.Test, "/", "$/^"), e.Package)
			}
			suite := strings.TrimPrefix(e.Package, "pkgindex.dev/pkgindex/")
			if label != "" {
				suite += " (" + label + ")"
			}
			skips = append(skips, skip{suite + " " + e.Test, reason, command})
			delete(output, key)
		case e.Action == "pass":
			delete(output, key)
		}
	}
	return skips, failed, sc.Err()
}

// skipReason finds a skipped test's message among its output lines: the
// last line testing prefixed with a file and line.
func skipReason(lines []string) (reason, command string) {
	for i := len(lines) - 1; i >= 0; i-- {
		if loc := location.FindString(lines[i]); loc != "" {
			reason = strings.TrimSpace(lines[i][len(loc):])
			break
		}
	}
	if reason == "" {
		return "no reason given", ""
	}
	reason, command, _ = strings.Cut(reason, runIt)
	return reason, command
}

func writeSkips(path string, skips []skip) error {
	var b strings.Builder
	for _, s := range skips {
		fmt.Fprintf(&b, "%s\t%s\t%s\n", s.suite, s.reason, s.command)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing the skipped tests: %w", err)
	}
	return nil
}

// printSummary prints every skipped suite in the files with its reason,
// and a last line that names them with the commands that make them run.
func printSummary(w io.Writer, files []string) int {
	var skips []skip
	for _, f := range files {
		data, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "testreport:", err)
			return 2
		}
		for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
			if f := strings.SplitN(line, "\t", 3); len(f) == 3 {
				skips = append(skips, skip{f[0], f[1], f[2]})
			}
		}
	}
	if len(skips) == 0 {
		fmt.Fprintln(w, "make test: everything ran, nothing was skipped")
		return 0
	}
	fmt.Fprintln(w, "skipped:")
	// The last line names each command once, with the suites it runs.
	var commands []string
	suites := map[string][]string{}
	for _, s := range skips {
		fmt.Fprintf(w, "  %s: %s (to run it: %s)\n", s.suite, s.reason, s.command)
		if suites[s.command] == nil {
			commands = append(commands, s.command)
		}
		suites[s.command] = append(suites[s.command], s.suite)
	}
	var parts []string
	for _, c := range commands {
		parts = append(parts, fmt.Sprintf("%s [%s]", strings.Join(suites[c], ", "), c))
	}
	fmt.Fprintf(w, "make test: passed, but skipped %d: %s\n", len(skips), strings.Join(parts, "; "))
	return 0
}
