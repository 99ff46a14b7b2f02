package netfs

import (
	"errors"
	"os"
	"testing"
)

// SkipIfUnavailable ends a test whose mount failed with ErrUnavailable: it
// is skipped with the reason, or failed when CI=true, where FUSE is
// required. Any other error, and nil, is left to the caller.
func SkipIfUnavailable(tb testing.TB, err error) {
	tb.Helper()
	if !errors.Is(err, ErrUnavailable) {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("FUSE is required in CI: %v", err)
	}
	tb.Skipf("skipped: %v", err)
}
