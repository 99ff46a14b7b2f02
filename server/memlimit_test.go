package server

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCgroupMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name, file, content string
		want                int64
	}{
		{"v2 limit", "memory.max", "67108864\n", 64 << 20},
		{"v2 none", "memory.max", "max\n", 0},
		{"v1 limit", "memory/memory.limit_in_bytes", "134217728\n", 128 << 20},
		{"v1 none", "memory/memory.limit_in_bytes", "9223372036854771712\n", 0},
		{"garbage", "memory.max", "lots", 0},
		{"absent", "", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.file != "" {
				must(t, os.MkdirAll(filepath.Dir(filepath.Join(root, tc.file)), 0o755))
				must(t, os.WriteFile(filepath.Join(root, tc.file), []byte(tc.content), 0o644))
			}
			if got := cgroupMemoryLimit(root); got != tc.want {
				t.Errorf("limit %d, want %d", got, tc.want)
			}
		})
	}
	root := t.TempDir()
	must(t, os.WriteFile(filepath.Join(root, "memory.max"), []byte("67108864"), 0o644))
	if got := SetMemoryLimit(func(k string) string { return map[string]string{"GOMEMLIMIT": "1GiB"}[k] }, root); got != 0 {
		t.Errorf("GOMEMLIMIT set, yet a limit was set: %d", got)
	}
}
