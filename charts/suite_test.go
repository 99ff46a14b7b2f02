package charts

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pkgindex.dev/pkgindex/test/envtest"
)

// One API server serves every test of the package: a start costs seconds.
var (
	// envErr says why there is no API server; tests needing one skip (or
	// fail in CI) with it.
	envErr error
	// kubeconfig is a kubeconfig file for the API server, with a
	// system:masters user, for kubectl.
	kubeconfig string
)

// k8sVersion is the release of the envtest API server (make envtest); helm
// renders for it and kubectl is built at it.
const k8sVersion = "1.37.2"

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	e, err := envtest.Start()
	if errors.Is(err, envtest.ErrUnavailable) {
		envErr = err
		return m.Run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := e.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	kubeconfig = e.Kubeconfig
	return m.Run()
}

// needEnv skips a test that needs the API server when there is none, and
// fails it in CI.
func needEnv(t *testing.T) {
	t.Helper()
	envtest.Need(t, envErr)
}

// tool returns the path of a tool built into bin/ (helm, kubectl), taken
// from the environment variable env when set. Missing, it fails the test in
// CI and skips it elsewhere, naming the make target that builds it.
func tool(t *testing.T, env, file string) string {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		path = filepath.Join("..", "bin", file)
	}
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("%s not found at %s (or set %s); to run it: make tools", file, path, env)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

func helm(t *testing.T) string    { return tool(t, "HELM", "helm-v3.22.0") }
func kubectl(t *testing.T) string { return tool(t, "KUBECTL", "kubectl-v"+k8sVersion) }

// run runs a command with stdin and returns its stdout, and its stderr in
// the error when it fails.
func run(stdin []byte, name string, args ...string) (stdout, stderr []byte, err error) {
	cmd := exec.Command(name, args...)
	var out, errOut bytes.Buffer
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	// helm and kubectl keep caches and config under HOME; a test's are its own.
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+os.TempDir()+"/charts-test-helm", "KUBECONFIG="+kubeconfig)
	if err := cmd.Run(); err != nil {
		return out.Bytes(), errOut.Bytes(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, errOut.Bytes())
	}
	return out.Bytes(), errOut.Bytes(), nil
}

// applyDryRun sends manifests to the API server with kubectl's server-side
// apply as a dry run: every object goes through defaulting, validation
// (schemas, CEL rules) and admission (Pod Security) but nothing is stored.
// Warnings (Pod Security "would violate", deprecated APIs) fail the test.
// args are further kubectl flags.
func applyDryRun(t *testing.T, manifests []byte, args ...string) {
	t.Helper()
	args = append([]string{"apply", "--server-side", "--dry-run=server", "--field-manager=charts-test", "-f", "-"}, args...)
	out, stderr, err := run(manifests, kubectl(t), args...)
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.TrimSpace(string(stderr)); w != "" {
		t.Errorf("kubectl warned:\n%s", w)
	}
	t.Logf("server-side dry run:\n%s", out)
}

// apply stores manifests: what the dry runs need to exist (CRDs, namespaces).
func apply(t *testing.T, manifests []byte) {
	t.Helper()
	if _, _, err := run(manifests, kubectl(t), "apply", "--server-side", "--field-manager=charts-test", "-f", "-"); err != nil {
		t.Fatal(err)
	}
}

// prepareCluster stores what the dry runs need: namespaces that enforce
// (and warn about) the restricted Pod Security Standard, as hardened
// clusters do, and the CRDs, served before it returns. It is idempotent.
func prepareCluster(t *testing.T) {
	t.Helper()
	needEnv(t)
	var ns bytes.Buffer
	for _, name := range []string{"pkgindex-system", "team-a"} {
		fmt.Fprintf(&ns, `apiVersion: v1
kind: Namespace
metadata:
  name: %s
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/warn: restricted
---
`, name)
	}
	apply(t, ns.Bytes())
	crd, err := os.ReadFile(filepath.Join("pkgindex", "crds", "index.pkgindex.dev_packageindices.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	monitor, err := os.ReadFile(filepath.Join("testdata", "servicemonitor-crd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	apply(t, append(append(crd, "\n---\n"...), monitor...))
	for _, name := range []string{"packageindices.index.pkgindex.dev", "servicemonitors.monitoring.coreos.com"} {
		if _, _, err := run(nil, kubectl(t), "wait", "--for=condition=Established", "--timeout=30s", "crd/"+name); err != nil {
			t.Fatal(err)
		}
	}
}
