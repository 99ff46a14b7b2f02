package charts

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

var argocdDir = filepath.Join("..", "config", "argocd")

// health runs the health check as Argo CD does: the object as the global
// obj, only the libraries Argo CD opens, the returned table read for
// status and message.
func health(t *testing.T, script string, obj map[string]any) (status, message string) {
	t.Helper()
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
	} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(script); err != nil {
		t.Fatalf("running the health check: %v", err)
	}
	hs, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("the health check returned %s, not a table", L.Get(-1).Type())
	}
	return lua.LVAsString(hs.RawGetString("status")), lua.LVAsString(hs.RawGetString("message"))
}

// toLua converts a decoded JSON value the way Argo CD hands objects to
// health scripts: objects and arrays become tables (arrays 1-based),
// numbers become Lua numbers.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := L.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	case []any:
		t := L.NewTable()
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case nil:
		return lua.LNil
	}
	panic(fmt.Sprintf("no Lua value for %T", v))
}

// condition renders one status condition as YAML.
func condition(typ, status, reason string, generation int) string {
	return fmt.Sprintf(`
    - type: %s
      status: "%s"
      reason: %s
      message: %s message
      observedGeneration: %d`, typ, status, reason, reason, generation)
}

func TestArgoCDHealth(t *testing.T) {
	script, err := os.ReadFile(filepath.Join(argocdDir, "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	const head = `
apiVersion: index.pkgindex.dev/v1alpha1
kind: PackageIndex
metadata:
  name: pypi
  generation: 3
spec:
  storage:
    existingClaim: packages
`
	for _, tc := range []struct {
		name   string
		status string
		// observed is status.observedGeneration; 0 means the current 3.
		observed    int
		wantStatus  string
		wantMessage string
	}{
		{
			name:        "no status",
			wantStatus:  "Progressing",
			wantMessage: "Waiting for the operator to report a status",
		},
		{
			name: "rolling out",
			status: condition("Ready", "False", "Unavailable", 3) +
				condition("Progressing", "True", "RollingOut", 3) +
				condition("Degraded", "False", "AsExpected", 3),
			wantStatus:  "Progressing",
			wantMessage: "RollingOut: RollingOut message",
		},
		{
			name: "claim pending",
			status: condition("Ready", "False", "ClaimPending", 3) +
				condition("Progressing", "True", "ClaimPending", 3) +
				condition("Degraded", "False", "AsExpected", 3),
			wantStatus:  "Progressing",
			wantMessage: "ClaimPending: ClaimPending message",
		},
		{
			name: "available",
			status: condition("Ready", "True", "Available", 3) +
				condition("Progressing", "False", "RolloutComplete", 3) +
				condition("Degraded", "False", "AsExpected", 3),
			wantStatus:  "Healthy",
			wantMessage: "Available: Available message",
		},
		{
			name: "available while a new spec rolls out",
			status: condition("Ready", "True", "Available", 3) +
				condition("Progressing", "True", "RollingOut", 3) +
				condition("Degraded", "False", "AsExpected", 3),
			wantStatus:  "Progressing",
			wantMessage: "RollingOut: RollingOut message",
		},
		{
			name: "degraded",
			status: condition("Ready", "False", "AuthSecretMissing", 3) +
				condition("Progressing", "True", "RollingOut", 3) +
				condition("Degraded", "True", "AuthSecretMissing", 3),
			wantStatus:  "Degraded",
			wantMessage: "AuthSecretMissing: AuthSecretMissing message",
		},
		{
			name: "degraded though serving",
			status: condition("Ready", "True", "Available", 3) +
				condition("Progressing", "False", "RolloutComplete", 3) +
				condition("Degraded", "True", "RolloutFailed", 3),
			wantStatus:  "Degraded",
			wantMessage: "RolloutFailed: RolloutFailed message",
		},
		{
			name: "suspended",
			status: condition("Ready", "False", "Suspended", 3) +
				condition("Progressing", "False", "Suspended", 3) +
				condition("Degraded", "False", "AsExpected", 3),
			wantStatus:  "Suspended",
			wantMessage: "Suspended: Suspended message",
		},
		{
			name:     "stale observedGeneration",
			observed: 2,
			status: condition("Ready", "True", "Available", 2) +
				condition("Progressing", "False", "RolloutComplete", 2) +
				condition("Degraded", "False", "AsExpected", 2),
			wantStatus:  "Progressing",
			wantMessage: "Waiting for the operator to observe generation 3",
		},
		{
			name: "stale conditions in a current status",
			status: condition("Ready", "True", "Available", 2) +
				condition("Degraded", "True", "ApplyFailed", 2),
			wantStatus:  "Progressing",
			wantMessage: "Waiting for the Ready condition",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := head
			if tc.status != "" {
				gen := 3
				if tc.observed != 0 {
					gen = tc.observed
				}
				doc += fmt.Sprintf("status:\n  observedGeneration: %d\n  conditions:%s\n", gen, tc.status)
			}
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				t.Fatalf("parsing the test object: %v\n%s", err, doc)
			}
			status, message := health(t, string(script), obj)
			if status != tc.wantStatus || message != tc.wantMessage {
				t.Errorf("health = %s %q, want %s %q", status, message, tc.wantStatus, tc.wantMessage)
			}
		})
	}
}

// TestArgoCDConfig checks that the argocd-cm snippet carries health.lua
// unchanged under the key Argo CD reads, and that the example Application
// points at the chart.
func TestArgoCDConfig(t *testing.T) {
	script, err := os.ReadFile(filepath.Join(argocdDir, "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	readYAML(t, filepath.Join(argocdDir, "argocd-cm.yaml"), &cm)
	const key = "resource.customizations.health.index.pkgindex.dev_PackageIndex"
	if got := cm.Data[key]; got != string(script) {
		t.Errorf("argocd-cm.yaml %s differs from health.lua:\n%s", key, got)
	}

	var app struct {
		Spec struct {
			Source struct {
				Path string `json:"path"`
			} `json:"source"`
		} `json:"spec"`
	}
	readYAML(t, filepath.Join(argocdDir, "application.yaml"), &app)
	if _, err := os.Stat(filepath.Join("..", app.Spec.Source.Path, "Chart.yaml")); err != nil {
		t.Errorf("application.yaml source path %q is not the chart: %v", app.Spec.Source.Path, err)
	}
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
}
