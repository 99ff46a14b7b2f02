package charts

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// TestKustomize renders each kustomize entry point users apply with
// kubectl apply -k, with the kubectl of the API server's release, and
// applies the output with a server-side dry run.
func TestKustomize(t *testing.T) {
	prepareCluster(t)
	for _, tc := range []struct {
		dir string
		// namespace of objects that name none (the sample).
		namespace string
		// check looks at the rendered objects beyond what the API server
		// validates.
		check func(t *testing.T, docs [][]byte)
	}{
		{dir: "default", check: checkManager},
		{dir: "prometheus"},
		{dir: "samples", namespace: "team-a"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			out, _, err := run(nil, kubectl(t), "kustomize", filepath.Join("..", "config", tc.dir))
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, splitYAML(out))
			}
			var args []string
			if tc.namespace != "" {
				args = append(args, "--namespace="+tc.namespace)
			}
			applyDryRun(t, out, args...)
		})
	}
}

// checkManager checks that the operator Deployment elects a leader, has
// both probes and runs its own image as the indexes' default image.
func checkManager(t *testing.T, docs [][]byte) {
	t.Helper()
	for _, doc := range docs {
		var d appsv1.Deployment
		if err := yaml.Unmarshal(doc, &d); err != nil || d.Kind != "Deployment" {
			continue
		}
		if d.Namespace != "pkgindex-system" {
			t.Errorf("Deployment %s is in namespace %q, want pkgindex-system", d.Name, d.Namespace)
		}
		c := d.Spec.Template.Spec.Containers[0]
		if !slices.Contains(c.Args, "--leader-elect") {
			t.Errorf("operator args %q lack --leader-elect", c.Args)
		}
		if !slices.Contains(c.Args, "--image="+c.Image) {
			t.Errorf("operator args %q do not give its own image %s as the indexes' default", c.Args, c.Image)
		}
		if c.ReadinessProbe == nil || c.LivenessProbe == nil {
			t.Error("operator container lacks a readiness or liveness probe")
		}
		return
	}
	t.Error("config/default renders no Deployment")
}

// splitYAML splits a multi-document YAML stream.
func splitYAML(data []byte) [][]byte {
	var docs [][]byte
	for _, doc := range strings.Split(string(data), "\n---\n") {
		if strings.TrimSpace(doc) != "" {
			docs = append(docs, []byte(doc))
		}
	}
	return docs
}
