// Package boundaries checks the import rules that keep the repository's
// parts apart, as go list sees them on every platform the server builds
// for: the server knows nothing of the operator or of Kubernetes, the store
// does no HTTP, distribution names are pure computation, and the operator
// runs without the server's code.
package boundaries

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "pkgindex.dev/pkgindex"

// pkg is what go list says of one package.
type pkg struct {
	ImportPath string
	Dir        string
	Standard   bool
	Imports    []string
	Deps       []string
	ForTest    string
}

// base is the package a go list entry is built from: "x [x.test]",
// "x_test [x.test]" and "x.test" are all x, with or without its tests.
func base(importPath string) string {
	p, _, _ := strings.Cut(importPath, " ")
	p = strings.TrimSuffix(p, ".test")
	return strings.TrimSuffix(p, "_test")
}

// under reports whether path is the package dir of the module or one below it.
func under(path, dir string) bool {
	dir = module + "/" + dir
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// standard reports whether an import path is the standard library's: its
// first element has no dot, as every module path's has.
func standard(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// impure are the standard packages that reach beyond the arguments a
// function is given: files, the network, other processes, raw memory, the
// clock, randomness and logs. Distribution names and versions need none of
// them, and a test that feeds them strings would no longer say everything.
var impure = []string{
	"os", "os/exec", "os/signal", "os/user", "io/fs", "io/ioutil", "path/filepath",
	"net", "syscall", "unsafe", "plugin", "runtime/cgo", "runtime/debug",
	"log", "log/slog", "log/syslog", "time", "math/rand", "math/rand/v2", "crypto/rand", "embed",
}

func impureImport(path string) bool {
	return slices.Contains(impure, path) || strings.HasPrefix(path, "net/") || strings.HasPrefix(path, "os/") ||
		strings.HasPrefix(path, "internal/") || strings.HasPrefix(path, "vendor/") || strings.HasPrefix(path, "debug/")
}

// rule is one boundary: no package that of selects may reach a dependency
// banned selects. With direct, only the package's own imports count (a
// standard package's internals would otherwise ban everything).
type rule struct {
	name   string
	of     func(p pkg) bool
	banned func(dep string) bool
	direct bool
}

var rules = []rule{
	{
		name: "the server, tests included, imports nothing of the operator or of Kubernetes",
		of:   func(p pkg) bool { return under(base(p.ImportPath), "server") },
		banned: func(dep string) bool {
			return under(dep, "api") || under(dep, "controllers") ||
				strings.HasPrefix(dep, "k8s.io/") || strings.HasPrefix(dep, "sigs.k8s.io/")
		},
	},
	{
		name:   "the store does no HTTP",
		of:     func(p pkg) bool { return p.ImportPath == module+"/server/store" },
		banned: func(dep string) bool { return dep == "net/http" || strings.HasPrefix(dep, "net/http/") },
	},
	{
		name:   "server/dist depends on the standard library alone",
		of:     func(p pkg) bool { return p.ImportPath == module+"/server/dist" },
		banned: func(dep string) bool { return !standard(dep) },
	},
	{
		name:   "server/dist imports only pure standard packages: no files, network, clock or randomness",
		of:     func(p pkg) bool { return p.ImportPath == module+"/server/dist" },
		banned: impureImport,
		direct: true,
	},
	{
		name: "the operator runs without the server's code (its tests may use it); it shares only the flags' names",
		of:   func(p pkg) bool { return under(p.ImportPath, "controllers") && p.ForTest == "" },
		banned: func(dep string) bool {
			return under(dep, "server") && dep != module+"/server/flags"
		},
	},
	{
		name:   "server/flags, which the operator shares, imports nothing",
		of:     func(p pkg) bool { return p.ImportPath == module+"/server/flags" },
		banned: func(dep string) bool { return true },
	},
}

// TestBoundaries checks every rule against go list's view of the server and
// the operator, with their tests, for each platform the server builds for:
// files for one platform may import what another's do not.
func TestBoundaries(t *testing.T) {
	for _, goos := range []string{"linux", "darwin", "windows"} {
		t.Run(goos, func(t *testing.T) {
			pkgs := list(t, goos, module+"/server/...", module+"/controllers/...")
			for _, r := range rules {
				checked := 0
				// One line per package and rule, however many test
				// variants and transitive imports repeat it.
				reported := map[string]bool{}
				for _, name := range slices.Sorted(maps.Keys(pkgs)) {
					p := pkgs[name]
					if !r.of(p) {
						continue
					}
					checked++
					deps := p.Deps
					if r.direct {
						deps = p.Imports
					}
					var banned []string
					for _, dep := range deps {
						if r.banned(base(dep)) {
							banned = append(banned, dep)
						}
					}
					if len(banned) == 0 || reported[base(p.ImportPath)] {
						continue
					}
					reported[base(p.ImportPath)] = true
					t.Errorf("%s:\n\t%s", r.name, strings.Join(chain(pkgs, p.ImportPath, banned[0]), " -> "))
					if len(banned) > 1 {
						t.Logf("\tand %d more: %s", len(banned)-1, strings.Join(banned[1:], " "))
					}
				}
				if checked == 0 {
					t.Errorf("%s: no package to check; the rule has gone stale", r.name)
				}
			}
		})
	}
}

// list runs go list for goos on the patterns, tests included, and returns
// every package in the graph by import path.
func list(t *testing.T, goos string, patterns ...string) map[string]pkg {
	t.Helper()
	args := append([]string{"list", "-deps", "-test", "-json=ImportPath,Dir,Standard,Imports,Deps,ForTest"}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=", "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go list's output: %v", err)
		}
		pkgs[p.ImportPath] = p
		// go test caches a result by the files the test itself opened;
		// go list's reading is not seen. Listing each of the module's
		// directories, and reading go.mod, makes a change there run the
		// test again.
		if b := base(p.ImportPath); (b == module || strings.HasPrefix(b, module+"/")) && p.Dir != "" {
			if _, err := os.ReadDir(p.Dir); err != nil {
				t.Fatal(err)
			}
		}
	}
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	for _, f := range []string{strings.TrimSpace(string(gomod)), strings.TrimSuffix(strings.TrimSpace(string(gomod)), ".mod") + ".sum"} {
		if _, err := os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
	}
	return pkgs
}

// chain finds a path of imports from one package to a dependency, to show
// where a banned import comes in.
func chain(pkgs map[string]pkg, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, next := range pkgs[cur].Imports {
			if _, seen := prev[next]; seen {
				continue
			}
			prev[next] = cur
			if base(next) == to || next == to {
				var path []string
				for p := next; p != ""; p = prev[p] {
					path = append(path, base(p))
				}
				slices.Reverse(path)
				return path
			}
			queue = append(queue, next)
		}
	}
	return []string{base(from), "...", to}
}
