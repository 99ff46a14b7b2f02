//go:build !windows

package envtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	crenvtest "sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Start starts an API server with the CRDs in crdPaths (files or
// directories) installed and served.
func Start(crdPaths ...string) (*Env, error) {
	if _, err := assets(); err != nil {
		return nil, err
	}
	env := &crenvtest.Environment{CRDDirectoryPaths: crdPaths, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	dir, err := os.MkdirTemp("", "envtest-")
	if err != nil {
		return nil, errors.Join(fmt.Errorf("making a directory for the kubeconfig: %w", err), env.Stop())
	}
	e := &Env{Config: cfg, stop: func() error {
		if err := env.Stop(); err != nil {
			return fmt.Errorf("stopping envtest: %w", err)
		}
		return os.RemoveAll(dir)
	}}
	user, err := env.AddUser(crenvtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("adding a user to envtest: %w", err), e.Stop())
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("making a kubeconfig: %w", err), e.Stop())
	}
	e.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(e.Kubeconfig, kubeconfig, 0o600); err != nil {
		return nil, errors.Join(fmt.Errorf("writing the kubeconfig: %w", err), e.Stop())
	}
	return e, nil
}

// InstallCRDs installs the CRDs in paths (files or directories) and waits
// until they are served.
func (e *Env) InstallCRDs(paths ...string) error {
	if _, err := crenvtest.InstallCRDs(e.Config, crenvtest.CRDInstallOptions{Paths: paths, ErrorIfPathMissing: true}); err != nil {
		return fmt.Errorf("installing CRDs from %v: %w", paths, err)
	}
	return nil
}
