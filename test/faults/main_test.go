package faults

import (
	"os"
	"testing"

	"pkgindex.dev/pkgindex/test/harness"
)

// The tests run pkgindex as a process, built once from this checkout.
func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }
