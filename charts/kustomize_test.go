package charts

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
		{dir: "default", check: checkDefault},
		{dir: "prometheus"},
		{dir: "grafana", namespace: "team-a"},
		{dir: "samples", namespace: "team-a", check: checkSample},
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

// checkDefault checks that the default install has every kind of object
// the operator needs, each namespaced one in pkgindex-system, and a sound
// operator Deployment.
func checkDefault(t *testing.T, docs [][]byte) {
	t.Helper()
	kinds := map[string]int{}
	for _, doc := range docs {
		var obj metav1.PartialObjectMetadata
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			t.Fatalf("rendered object %q: %v", doc, err)
		}
		kinds[obj.Kind]++
		if obj.Namespace != "" && obj.Namespace != "pkgindex-system" {
			t.Errorf("%s %s is in namespace %s, want pkgindex-system", obj.Kind, obj.Name, obj.Namespace)
		}
	}
	for _, kind := range []string{"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount", "Deployment", "Namespace"} {
		if kinds[kind] == 0 {
			t.Errorf("no %s in config/default (kinds: %v)", kind, kinds)
		}
	}
	checkManager(t, docs)
}

// checkSample checks that the sample is one PackageIndex.
func checkSample(t *testing.T, docs [][]byte) {
	t.Helper()
	var obj metav1.PartialObjectMetadata
	if len(docs) != 1 || yaml.Unmarshal(docs[0], &obj) != nil || obj.Kind != "PackageIndex" {
		t.Errorf("config/samples renders %d objects, want one PackageIndex:\n%s", len(docs), bytes.Join(docs, []byte("\n---\n")))
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
