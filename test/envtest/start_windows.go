package envtest

import "fmt"

// Start reports the API server unavailable: controller-runtime v0.25's
// envtest does not compile for Windows (its process package declares
// signalProcess twice, kubernetes-sigs/controller-runtime#3586), so the
// operator's tests skip there rather than keep the module from vetting.
func Start(...string) (*Env, error) {
	return nil, fmt.Errorf("%w: controller-runtime's envtest does not build for windows; to run it: make unit on linux or darwin", ErrUnavailable)
}

// InstallCRDs is never reached: Start gives no Env here.
func (e *Env) InstallCRDs(...string) error { return fmt.Errorf("%w on windows", ErrUnavailable) }
