package logging

import (
	"bytes"
	"strings"
	"testing"
)

func TestLevels(t *testing.T) {
	for _, tc := range []struct {
		format, level string
		want          []string
		not           []string
	}{
		{"text", "debug", []string{"level=DEBUG msg=verbose", "level=DEBUG msg=more", "level=INFO msg=said", "level=WARN msg=refused user=bob"}, []string{"DEBUG+"}},
		{"json", "debug", []string{`"level":"DEBUG","msg":"verbose"`, `"level":"WARN","msg":"refused"`}, []string{"DEBUG+"}},
		{"text", "info", []string{"level=INFO msg=said", "level=WARN msg=refused"}, []string{"verbose", "more"}},
		{"text", "warn", []string{"level=WARN msg=refused"}, []string{"said"}},
		{"text", "error", nil, []string{"refused"}},
	} {
		t.Run(tc.format+" "+tc.level, func(t *testing.T) {
			var buf bytes.Buffer
			log := New(&buf, tc.format, tc.level)
			log.V(1).Info("verbose")
			log.V(2).Info("more")
			log.Info("said")
			Warn(log.WithName("auth"), "refused", "user", "bob")
			out := buf.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("log lacks %s:\n%s", w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("log has %s:\n%s", n, out)
				}
			}
		})
	}
}
