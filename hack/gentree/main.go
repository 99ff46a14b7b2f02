// Command gentree writes a synthetic package tree for benchmarks: real
// wheels and sdists (small, with core metadata) spread over projects, in
// the flat or per-project layout, and optionally one large project.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"pkgindex.dev/pkgindex/server/pkgtest"
)

// BigProject names the project -big adds.
const BigProject = "big-project"

func main() {
	files := flag.Int("files", 1000, "number of distribution files, spread evenly over -projects")
	projects := flag.Int("projects", 100, "number of projects")
	big := flag.Int("big", 0, "files of one more project, "+BigProject+" (0: none)")
	layout := flag.String("layout", "flat", "flat or per-project")
	prefix := flag.String("prefix", "project", "projects are named <prefix>-0000, <prefix>-0001, ...")
	out := flag.String("out", "", "directory to write (created)")
	flag.Parse()
	if *out == "" || *projects < 1 || *files < *projects || *big < 0 || (*layout != "flat" && *layout != "per-project") {
		flag.Usage()
		os.Exit(2)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	for i := range *files {
		write(*out, *layout, fmt.Sprintf("%s-%04d", *prefix, i%*projects), i / *projects)
	}
	for n := range *big {
		write(*out, *layout, BigProject, n)
	}
}

// write writes the n-th file of a project: wheels and sdists in turn, each
// of its own version.
func write(out, layout, project string, n int) {
	spec := pkgtest.Spec{
		Name:           project,
		Version:        fmt.Sprintf("%d.%d.0", n/2, n%7),
		RequiresPython: ">=3.8",
		Summary:        "synthetic benchmark package",
	}
	dir := out
	if layout == "per-project" {
		dir = filepath.Join(out, project)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			log.Fatal(err)
		}
	}
	var name string
	var body []byte
	if n%2 == 0 {
		name, body = spec.WheelName(), spec.WheelBytes()
	} else {
		name, body = spec.SdistName(), spec.SdistBytes()
	}
	if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
		log.Fatal(err)
	}
}
