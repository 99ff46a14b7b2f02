package controllers

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// ManagerConfig is the configuration of `pkgindex operator`.
type ManagerConfig struct {
	// Image runs PackageIndexes that name none; normally the operator's own.
	Image string
	// Namespace restricts the operator to one namespace; empty means all.
	Namespace string
	// MetricsAddr serves Prometheus metrics; "0" turns them off.
	MetricsAddr string
	// ProbeAddr serves /healthz and /readyz; "0" turns them off.
	ProbeAddr string
	// LeaderElect makes one of several operator replicas active at a time.
	LeaderElect bool
	// LeaderElectionNamespace holds the lease; empty means the namespace
	// the operator runs in.
	LeaderElectionNamespace string
	// LogFormat and LogLevel shape the operator's own logs.
	LogFormat, LogLevel string
	// CheckServer checks index pods' command lines before they are
	// rolled out; it is the caller's, not a flag.
	CheckServer ServerCheck
}

// ParseManagerFlags fills a ManagerConfig from command line arguments and
// validates it; defaultImage is the --image default.
func ParseManagerFlags(args []string, defaultImage string, output io.Writer) (ManagerConfig, error) {
	c := ManagerConfig{}
	fs := flag.NewFlagSet("pkgindex operator", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&c.Image, "image", defaultImage, "server image for PackageIndexes that name none")
	fs.StringVar(&c.Namespace, "namespace", "", "watch only this namespace (default: all)")
	fs.StringVar(&c.MetricsAddr, "metrics-bind-address", ":8080", `address of the metrics endpoint ("0": off)`)
	fs.StringVar(&c.ProbeAddr, "health-probe-bind-address", ":8081", `address of /healthz and /readyz ("0": off)`)
	fs.BoolVar(&c.LeaderElect, "leader-elect", true, "elect one active operator among replicas")
	fs.StringVar(&c.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader lease (default: the operator's)")
	fs.StringVar(&c.LogFormat, "log-format", "json", "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.Image == "" {
		return c, errors.New("--image: empty; PackageIndexes without spec.image need a default image")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return c, fmt.Errorf("--log-format: %q is neither text nor json", c.LogFormat)
	}
	return c, nil
}

// NewScheme knows the built-in kinds and PackageIndex.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("registering built-in kinds: %w", err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("registering PackageIndex: %w", err)
	}
	return s, nil
}

// managerOptions maps the configuration to the manager's options.
func managerOptions(cfg ManagerConfig, scheme *runtime.Scheme, log logr.Logger) ctrl.Options {
	opts := ctrl.Options{
		Scheme:                        scheme,
		Logger:                        log,
		Metrics:                       metricsserver.Options{BindAddress: cfg.MetricsAddr},
		HealthProbeBindAddress:        cfg.ProbeAddr,
		LeaderElection:                cfg.LeaderElect,
		LeaderElectionID:              "pkgindex-operator.index.pkgindex.dev",
		LeaderElectionNamespace:       cfg.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
	}
	// ConfigMaps, ServiceAccounts and ClusterRoleBindings are many in a
	// cluster and few of them the operator's: only those with its label
	// are cached.
	ours := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{labelManagedBy: FieldOwner})}
	opts.Cache = cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.ConfigMap{}: ours, &corev1.ServiceAccount{}: ours, &rbacv1.ClusterRoleBinding{}: ours,
	}}
	if cfg.Namespace != "" {
		// PersistentVolumes are cluster-scoped and still watched everywhere.
		opts.Cache.DefaultNamespaces = map[string]cache.Config{cfg.Namespace: {}}
	}
	return opts
}

// cachedOnlyIfOurs reports whether the manager caches only those objects
// of obj's kind that carry the operator's label (see managerOptions), so
// that the cache not finding one says nothing of someone else's.
func cachedOnlyIfOurs(obj client.Object) bool {
	switch obj.(type) {
	case *corev1.ConfigMap, *corev1.ServiceAccount, *rbacv1.ClusterRoleBinding:
		return true
	}
	return false
}

// takenAdvice names the kind of obj, whose name someone else's object
// holds, and what the user can do about it.
func takenAdvice(obj client.Object) (kind, advice string) {
	switch obj.(type) {
	case *corev1.ServiceAccount:
		return "ServiceAccount", "name it in serviceAccount.name instead of create, or remove it"
	case *corev1.ConfigMap:
		return "ConfigMap", "the operator writes the index's policy into a ConfigMap of this name: rename or remove yours"
	}
	return obj.GetObjectKind().GroupVersionKind().Kind, "remove it or rename the PackageIndex"
}

// NewManager builds a manager running the PackageIndex controller.
func NewManager(cfg ManagerConfig, restConfig *rest.Config, log logr.Logger) (ctrl.Manager, error) {
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(restConfig, managerOptions(cfg, scheme, log))
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	r := &PackageIndexReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder(FieldOwner),
		Options:   Options{Image: cfg.Image, CheckServer: cfg.CheckServer},
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, err
	}
	if cfg.ProbeAddr != "0" {
		if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
			return nil, fmt.Errorf("adding the health check: %w", err)
		}
		if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
			return nil, fmt.Errorf("adding the ready check: %w", err)
		}
	}
	return mgr, nil
}

// Run runs the operator until ctx ends.
func Run(ctx context.Context, cfg ManagerConfig, restConfig *rest.Config, log logr.Logger) error {
	mgr, err := NewManager(cfg, restConfig, log)
	if err != nil {
		return err
	}
	log.Info("starting operator", "namespace", cfg.Namespace, "image", cfg.Image, "leaderElect", cfg.LeaderElect)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running the manager: %w", err)
	}
	return nil
}
