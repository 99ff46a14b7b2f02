package process

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pkgindex.dev/pkgindex/api/v1alpha1"
	"pkgindex.dev/pkgindex/controllers"
	"pkgindex.dev/pkgindex/test/envtest"
	"pkgindex.dev/pkgindex/test/harness"
)

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestOperatorProcess runs `pkgindex operator` as a process against a real
// API server: flags, leader election, the health and metrics endpoints,
// reconciling, and a clean stop on SIGTERM.
func TestOperatorProcess(t *testing.T) {
	e, err := envtest.Start(filepath.Join("..", "..", "config", "crd", "bases"))
	envtest.Need(t, err)
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Error(err)
		}
	})
	cfg, kubeconfigPath := e.Config, e.Kubeconfig

	metricsAddr, probeAddr := freeAddr(t), freeAddr(t)
	cmd := harness.Command(t, "operator",
		"--image=registry.example/pkgindex:process",
		"--leader-election-namespace=default",
		"--metrics-bind-address="+metricsAddr,
		"--health-probe-bind-address="+probeAddr,
		"--log-format=text")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfigPath)
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if !stopped {
			cmd.Process.Kill()
			<-done
			stopped = true
		}
	}
	t.Cleanup(stop)
	// The log is read only once the process has exited, so the copying
	// goroutine of os/exec is done writing it.
	fail := func(format string, args ...any) {
		t.Helper()
		stop()
		t.Fatalf(format+"\noperator log:\n%s", append(args, logs.String())...)
	}

	wait := func(what string, check func() error) {
		t.Helper()
		if err := envtest.Poll(30*time.Second, check); err != nil {
			fail("%s: %v", what, err)
		}
	}
	httpGet := func(url string) (string, error) {
		resp, err := http.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("%s: %s", url, resp.Status)
		}
		return string(body), err
	}
	wait("readyz", func() error { _, err := httpGet("http://" + probeAddr + "/readyz"); return err })
	wait("healthz", func() error { _, err := httpGet("http://" + probeAddr + "/healthz"); return err })

	scheme, err := controllers.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	wait("leader lease", func() error {
		lease := &coordinationv1.Lease{}
		return k8s.Get(ctx, client.ObjectKey{Namespace: "default", Name: "pkgindex-operator.index.pkgindex.dev"}, lease)
	})
	idx := &v1alpha1.PackageIndex{
		ObjectMeta: metav1.ObjectMeta{Name: "pypi", Namespace: "default"},
		Spec: v1alpha1.PackageIndexSpec{Storage: v1alpha1.StorageSpec{
			EFS: &v1alpha1.EFSStorage{FileSystemID: "fs-0123456789abcdef0"},
		}},
	}
	if err := k8s.Create(ctx, idx); err != nil {
		fail("creating the PackageIndex: %v", err)
	}
	deploy := &appsv1.Deployment{}
	wait("Deployment", func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: "default", Name: "pypi"}, deploy); err != nil {
			return err
		}
		if img := deploy.Spec.Template.Spec.Containers[0].Image; img != "registry.example/pkgindex:process" {
			return fmt.Errorf("image %q, want the --image default", img)
		}
		return nil
	})
	wait("metrics", func() error {
		body, err := httpGet("http://" + metricsAddr + "/metrics")
		if err != nil {
			return err
		}
		if !strings.Contains(body, `controller_runtime_reconcile_total{controller="packageindex"`) {
			return fmt.Errorf("no reconcile counter of the packageindex controller")
		}
		return nil
	})

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		fail("interrupting the operator: %v", err)
	}
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Errorf("operator exited with %v after SIGINT, want 0\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		fail("operator did not stop within 15s of SIGINT")
	}
}
