package controllers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pkgindex.dev/pkgindex/api/v1alpha1"
	"pkgindex.dev/pkgindex/test/envtest"
)

// One API server and one operator serve every test of the package: a
// start costs seconds. Tests isolate themselves by namespace.
var (
	// envErr says why there is no environment; tests needing one skip
	// (or fail in CI) with it.
	envErr error
	// k8s talks straight to the API server, bypassing any cache, so tests
	// see what is stored.
	k8s client.Client
	// env is the test API server; restConfig reaches it.
	env        *envtest.Env
	restConfig *rest.Config
	// reconciler is the operator's reconciler, for tests that call
	// Reconcile directly.
	reconciler *PackageIndexReconciler
)

// testImage is the operator's --image in tests.
const testImage = "registry.example/pkgindex:test"

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	e, err := envtest.Start(filepath.Join("..", "config", "crd", "bases"))
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
	env, restConfig = e, e.Config
	cfg := e.Config

	scheme, err := NewScheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating a client:", err)
		return 1
	}

	mgr, err := NewManager(ManagerConfig{Image: testImage, MetricsAddr: "0", ProbeAddr: "0", CheckServer: checkServe}, cfg, logr.Discard())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	reconciler = &PackageIndexReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Options:   Options{Image: testImage, CheckServer: checkServe},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "operator:", err)
		}
	}()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		fmt.Fprintln(os.Stderr, "operator cache did not sync")
		return 1
	}
	return m.Run()
}

// needEnv skips a test without the API server, or fails it in CI.
func needEnv(t *testing.T) {
	t.Helper()
	envtest.Need(t, envErr)
}

var namespaceSeq atomic.Int64

// newNamespace creates a namespace for one test. envtest runs no namespace
// controller, so namespaces are never cleaned up; each test gets a fresh one.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := fmt.Sprintf("t%d-%d", time.Now().Unix()%100000, namespaceSeq.Add(1))
	if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatalf("creating namespace %s: %v", ns, err)
	}
	return ns
}

// eventually retries check until it returns nil or the time is up.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	if err := envtest.Poll(30*time.Second, check); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get reads obj (name and namespace set) from the API server.
func get(obj client.Object) error {
	return k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
}

// efsIndex is a valid EFS-backed PackageIndex in ns.
func efsIndex(ns, name string) *v1alpha1.PackageIndex {
	return &v1alpha1.PackageIndex{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.PackageIndexSpec{
			Storage: v1alpha1.StorageSpec{
				EFS: &v1alpha1.EFSStorage{FileSystemID: "fs-0123456789abcdef0"},
			},
		},
	}
}

// create creates obj, failing the test on error.
func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %s: %v", objectKey(obj), err)
	}
}

// update reads obj, applies change and writes it back, retrying on
// conflicts with the operator's own writes.
func update[T client.Object](t *testing.T, obj T, change func(T)) {
	t.Helper()
	eventually(t, "updating "+objectKey(obj), func() error {
		if err := get(obj); err != nil {
			return err
		}
		change(obj)
		return k8s.Update(context.Background(), obj)
	})
}

// condition waits until idx has condType with status and reason, and
// returns the PackageIndex as then stored.
func condition(t *testing.T, idx *v1alpha1.PackageIndex, condType string, status metav1.ConditionStatus, reason string) *v1alpha1.PackageIndex {
	t.Helper()
	cur := &v1alpha1.PackageIndex{ObjectMeta: metav1.ObjectMeta{Name: idx.Name, Namespace: idx.Namespace}}
	eventually(t, fmt.Sprintf("%s condition %s=%s/%s", objectKey(idx), condType, status, reason), func() error {
		if err := get(cur); err != nil {
			return err
		}
		for _, c := range cur.Status.Conditions {
			if c.Type != condType {
				continue
			}
			if c.Status != status || c.Reason != reason {
				return fmt.Errorf("is %s/%s: %s", c.Status, c.Reason, c.Message)
			}
			if c.ObservedGeneration != cur.Generation {
				return fmt.Errorf("observedGeneration %d, generation %d", c.ObservedGeneration, cur.Generation)
			}
			return nil
		}
		return fmt.Errorf("no %s condition in %+v", condType, cur.Status.Conditions)
	})
	return cur
}
