package charts

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const chartDir = "pkgindex"

// template renders the chart as the release pkgindex in pkgindex-system for
// the envtest API server's version.
func template(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	args = append([]string{"template", "pkgindex", chartDir, "--namespace", "pkgindex-system",
		"--kube-version", k8sVersion}, args...)
	out, _, err := run(nil, helm(t), args...)
	return out, err
}

func TestHelmLint(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"defaults", nil},
		{"every option", []string{"-f", filepath.Join("testdata", "every-option.yaml")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"lint", "--strict", chartDir, "--kube-version", k8sVersion}, tc.args...)
			if _, _, err := run(nil, helm(t), args...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestHelmTemplate renders the chart with each set of values and applies
// the result with a server-side dry run, and checks what each set should
// change.
func TestHelmTemplate(t *testing.T) {
	prepareCluster(t)
	for _, tc := range []struct {
		name string
		args []string
		// want are strings the rendered output must hold.
		want []string
	}{
		{
			name: "defaults",
			want: []string{
				"kind: ClusterRoleBinding",
				"- --image=ghcr.io/pkgindex/pkgindex:v0.1.0",
				"- --leader-elect=true",
				"- --leader-election-namespace=pkgindex-system",
				"helm.sh/hook: test",
			},
		},
		{
			name: "every option",
			args: []string{"-f", filepath.Join("testdata", "every-option.yaml")},
			want: []string{
				"kind: ServiceMonitor",
				"kind: PackageIndex",
				"name: pkgindex-operator-sa",
				"- --namespace=team-a",
				"- --metrics-bind-address=:9090",
				"- --image=registry.example/pkgindex:v9.9.9",
				"name: pkgindex-operator-volumes-team-a",
				"grafana_dashboard: \"1\"",
				`"title": "pkgindex"`,
				"credentialsSecret:\n      name: pypi-mirror\n",
			},
		},
		{
			name: "namespace scope, one replica, no metrics",
			args: []string{"--set", "rbac.scope=namespace", "--set", "replicaCount=1",
				"--set", "leaderElection.enabled=false", "--set", "metrics.enabled=false"},
			want: []string{"- --namespace=pkgindex-system", "- --metrics-bind-address=0", "- --leader-elect=false"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := template(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("rendered chart lacks %q", w)
				}
			}
			applyDryRun(t, out)
		})
	}
}

// TestHelmSchema checks that values.schema.json refuses wrong values
// before anything is rendered, naming the value.
func TestHelmSchema(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  string
		want string
	}{
		{"replica count not a number", "replicaCount=two", "replicaCount"},
		{"unknown scope", "rbac.scope=galaxy", "scope"},
		{"unknown log level", "logLevel=verbose", "logLevel"},
		{"port out of range", "metrics.port=70000", "port"},
		{"misspelt value", "replicas=3", "replicas"},
		{"index without spec", "indexes[0].name=pypi", "spec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := template(t, "--set", tc.set)
			if err == nil {
				t.Fatalf("--set %s rendered; the schema should refuse it", tc.set)
			}
			if !strings.Contains(err.Error(), "values don't meet the specifications of the schema") ||
				!strings.Contains(err.Error(), tc.want) {
				t.Errorf("--set %s: error does not come from the schema or does not name %q:\n%v", tc.set, tc.want, err)
			}
		})
	}
}

// TestEveryOptionCovered keeps testdata/every-option.yaml in step with
// values.yaml: each documented value must be set there, so TestHelmTemplate
// renders every option.
func TestEveryOptionCovered(t *testing.T) {
	defaults := readValues(t, filepath.Join(chartDir, "values.yaml"))
	every := readValues(t, filepath.Join("testdata", "every-option.yaml"))
	var missing []string
	for _, path := range leaves(defaults, "") {
		if !has(every, path) {
			missing = append(missing, path)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("testdata/every-option.yaml does not set %s", strings.Join(missing, ", "))
	}
}

func readValues(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	return v
}

// leaves lists the dotted paths of the values that are not maps of further
// values: scalars, lists and empty maps.
func leaves(v map[string]any, prefix string) []string {
	var out []string
	for k, val := range v {
		path := prefix + k
		if m, ok := val.(map[string]any); ok && len(m) > 0 {
			out = append(out, leaves(m, path+".")...)
			continue
		}
		out = append(out, path)
	}
	return out
}

// has reports whether the dotted path is set in v.
func has(v map[string]any, path string) bool {
	key, rest, nested := strings.Cut(path, ".")
	val, ok := v[key]
	if !ok || !nested {
		return ok
	}
	m, ok := val.(map[string]any)
	return ok && has(m, rest)
}

// TestChartCRDsInSync fails when the chart's copies of generated files
// differ from config/ (make chart-sync copies them); CI runs make
// verify-chart for the same, this catches it in a plain go test.
func TestChartCRDsInSync(t *testing.T) {
	for _, tc := range []struct{ chart, config string }{
		{"crds/index.pkgindex.dev_packageindices.yaml", "../config/crd/bases/index.pkgindex.dev_packageindices.yaml"},
		{"files/role.yaml", "../config/rbac/role.yaml"},
		{"files/packageindex_editor_role.yaml", "../config/rbac/packageindex_editor_role.yaml"},
		{"files/packageindex_viewer_role.yaml", "../config/rbac/packageindex_viewer_role.yaml"},
		{"files/dashboard.json", "../config/grafana/dashboard.json"},
	} {
		t.Run(tc.chart, func(t *testing.T) {
			a, err := os.ReadFile(filepath.Join(chartDir, tc.chart))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(tc.config)
			if err != nil {
				t.Fatal(err)
			}
			if string(a) != string(b) {
				t.Errorf("%s differs from %s: run make chart-sync", tc.chart, tc.config)
			}
		})
	}
}
