// Package envtest starts the API server (kube-apiserver and etcd, built into
// KUBEBUILDER_ASSETS by make envtest) that the operator's, the chart's and
// the process tests run against, and says why when there is none.
package envtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// ErrUnavailable is wrapped by Start's error when this machine cannot run
// an API server (the binaries are not built, or the platform is not
// supported): tests then skip, or fail in CI.
var ErrUnavailable = errors.New("envtest unavailable")

// Env is a running API server.
type Env struct {
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file with an administrator
	// (system:masters), for kubectl and for processes under test.
	Kubeconfig string
	stop       func() error
}

// Stop stops the API server and removes the kubeconfig.
func (e *Env) Stop() error { return e.stop() }

// Need skips a test that needs the API server when err says there is none,
// and fails it in CI, where a skip would hide that nothing was checked; any
// other error fails it.
func Need(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Fatal(err)
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true, so this test may not be skipped: %v", err)
	}
	t.Skip(err)
}

// assets returns the directory of kube-apiserver and etcd, or an error
// wrapping ErrUnavailable that says how to build them.
func assets() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		return "", fmt.Errorf("%w: KUBEBUILDER_ASSETS is not set; to run it: make unit (it builds kube-apiserver and etcd into bin/k8s/ and sets it)", ErrUnavailable)
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return "", fmt.Errorf("%w: %s missing in KUBEBUILDER_ASSETS=%s; to run it: make envtest", ErrUnavailable, bin, dir)
		}
	}
	return dir, nil
}

// Poll calls check every tenth of a second until it returns nil, which Poll
// then returns, or until timeout has passed, when it returns check's last
// error: what the API server holds changes as controllers act.
func Poll(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
