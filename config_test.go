package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// kustomize is the pinned kustomize binary from the Makefile; the test is
// skipped without it, except in CI.
func kustomize(t *testing.T, dir string) []map[string]any {
	t.Helper()
	bin := os.Getenv("KUSTOMIZE")
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("KUSTOMIZE is not set: run make unit, which builds it into bin/")
		}
		t.Skip("KUSTOMIZE is not set: run make unit, which builds it into bin/")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "build", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kustomize build %s: %v\n%s", dir, err, stderr.String())
	}
	var docs []map[string]any
	for doc := range strings.SplitSeq(string(out), "\n---\n") {
		m := map[string]any{}
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("kustomize build %s: document %q: %v", dir, doc, err)
		}
		docs = append(docs, m)
	}
	return docs
}

func TestKustomizeDefault(t *testing.T) {
	kinds := map[string]int{}
	var operatorArgs []any
	var operatorImage string
	for _, d := range kustomize(t, "config/default") {
		kind, _ := d["kind"].(string)
		kinds[kind]++
		meta, _ := d["metadata"].(map[string]any)
		if ns, ok := meta["namespace"]; ok && ns != "pkgindex-system" {
			t.Errorf("%s %v in namespace %v", kind, meta["name"], ns)
		}
		if kind == "Deployment" {
			spec := d["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
			c := spec["containers"].([]any)[0].(map[string]any)
			operatorArgs, _ = c["args"].([]any)
			operatorImage, _ = c["image"].(string)
		}
	}
	for _, kind := range []string{"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount", "Deployment", "Namespace"} {
		if kinds[kind] == 0 {
			t.Errorf("no %s in config/default (kinds: %v)", kind, kinds)
		}
	}
	// The indexes' default image follows the operator's own.
	if want := "--image=" + operatorImage; len(operatorArgs) < 2 || operatorArgs[1] != want {
		t.Errorf("operator args %v, want %q second", operatorArgs, want)
	}
}

func TestKustomizeSamples(t *testing.T) {
	docs := kustomize(t, "config/samples")
	if len(docs) != 1 || docs[0]["kind"] != "PackageIndex" {
		t.Fatalf("config/samples: %v", docs)
	}
}

func TestOperatorFlagErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"empty image", []string{"operator", "--image="}, "--image"},
		{"log format", []string{"operator", "--log-format=xml"}, "--log-format"},
		{"stray argument", []string{"operator", "extra"}, "unexpected arguments"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q does not name %q", stderr.String(), tc.want)
			}
		})
	}
}
