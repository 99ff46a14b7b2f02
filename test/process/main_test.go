// Package process tests pkgindex as its users meet it, as processes built
// from this checkout: server replicas on one directory driven by the real
// pip, twine, poetry and pdm and by hostile clients, the management
// commands, and the operator against a real API server.
package process

import (
	"os"
	"testing"

	"pkgindex.dev/pkgindex/test/harness"
)

// The tests run pkgindex as a process, built once from this checkout.
func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }
