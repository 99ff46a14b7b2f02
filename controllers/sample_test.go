package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// TestSample runs the sample from config/samples in the default namespace
// and prints what `kubectl get` would show, using the API server's own
// table printing (which kubectl uses too):
//
//	go test ./controllers -run TestSample -v
func TestSample(t *testing.T) {
	needEnv(t)
	raw, err := os.ReadFile(filepath.Join("..", "config", "samples", "index_v1alpha1_packageindex.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	idx := &v1alpha1.PackageIndex{}
	if err := yaml.UnmarshalStrict(raw, idx); err != nil {
		t.Fatalf("reading the sample: %v", err)
	}
	idx.Namespace = "default"
	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: idx.Spec.Server.Auth.SecretName, Namespace: idx.Namespace},
		Data:       map[string][]byte{"htpasswd": []byte("uploader:$2y$05$abcdefghijklmnopqrstuv")},
	})
	create(t, idx)
	markAvailable(t, idx.Namespace, idx.Name)
	condition(t, idx, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)

	var out strings.Builder
	fmt.Fprintln(&out, "$ kubectl get pkgidx")
	table(t, &out, "/apis/index.pkgindex.dev/v1alpha1/namespaces/default/packageindices", "")
	fmt.Fprintln(&out, "\n$ kubectl get deploy,svc,hpa,pdb,pvc,pv")
	// kubectl names each kind when several are listed.
	sel := "?labelSelector=" + labelInstance + "%3D" + idx.Name
	for _, kind := range []struct{ prefix, path string }{
		{"deployment.apps", "/apis/apps/v1/namespaces/default/deployments"},
		{"service", "/api/v1/namespaces/default/services"},
		{"horizontalpodautoscaler.autoscaling", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers"},
		{"poddisruptionbudget.policy", "/apis/policy/v1/namespaces/default/poddisruptionbudgets"},
		{"persistentvolumeclaim", "/api/v1/namespaces/default/persistentvolumeclaims"},
		{"persistentvolume", "/api/v1/persistentvolumes"},
	} {
		fmt.Fprintln(&out)
		table(t, &out, kind.path+sel, kind.prefix)
	}
	got := getIndex(t, idx)
	fmt.Fprintln(&out, "\n$ kubectl get pkgidx pypi -o jsonpath='{.status}'")
	status, err := json.MarshalIndent(got.Status, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(&out, string(status))
	t.Log("\n" + out.String())
}

// table prints the API server's table for path like kubectl get does,
// with prefix/ before each name when not empty.
func table(t *testing.T, w io.Writer, path, prefix string) {
	t.Helper()
	hc, err := rest.HTTPClientFor(restConfig)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, strings.TrimSuffix(restConfig.Host, "/")+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v: %s", path, resp.Status, err, body)
	}
	var tbl metav1.Table
	if err := json.Unmarshal(body, &tbl); err != nil {
		t.Fatalf("decoding the table of %s: %v", path, err)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	var header bytes.Buffer
	var wide []int // columns kubectl shows without -o wide
	for i, c := range tbl.ColumnDefinitions {
		if c.Priority != 0 {
			continue
		}
		wide = append(wide, i)
		header.WriteString(strings.ToUpper(c.Name) + "\t")
	}
	fmt.Fprintln(tw, strings.TrimSuffix(header.String(), "\t"))
	for _, row := range tbl.Rows {
		var cells []string
		for n, i := range wide {
			cell := fmt.Sprint(row.Cells[i])
			if n == 0 && prefix != "" {
				cell = prefix + "/" + cell
			}
			cells = append(cells, cell)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
}
