package controllers

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"

	"pkgindex.dev/pkgindex/api/v1alpha1"
	"pkgindex.dev/pkgindex/server/metrics"
	"pkgindex.dev/pkgindex/server/store"
	"pkgindex.dev/pkgindex/server/upstream"
)

// externalMetrics are the series the alerts and the dashboard read that
// the server does not export: Prometheus's own up, and kube-state-metrics'
// view of the Deployment.
var externalMetrics = []string{"up", "kube_deployment_spec_replicas", "kube_deployment_status_replicas_ready"}

// serverMetrics are the names of every series the server exports, read
// from its registry after each labelled family has had a sample.
func serverMetrics(t *testing.T) []string {
	t.Helper()
	m := metrics.New(&store.Stats{})
	h := m.Instrument("upload", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	m.Uploaded(1)
	m.UploadRefused()
	m.Removed()
	m.Upstream(&upstream.Stats{})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	var names []string
	for line := range strings.Lines(rec.Body.String()) {
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "#" || f[1] != "TYPE" {
			continue
		}
		names = append(names, f[2])
		switch f[3] {
		case "histogram":
			names = append(names, f[2]+"_bucket", f[2]+"_sum", f[2]+"_count")
		case "summary":
			names = append(names, f[2]+"_sum", f[2]+"_count")
		}
	}
	if !slices.Contains(names, "pkgindex_http_requests_total") {
		t.Fatalf("the server's metrics lack pkgindex_http_requests_total:\n%s", rec.Body.String())
	}
	return names
}

// unknownMetrics lists the metrics expr reads that are neither the
// server's (known) nor a known external one; read says how many it reads.
func unknownMetrics(expr string, known []string) (unknown []string, read int, err error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, 0, err
	}
	for _, sel := range parser.ExtractSelectors(e) {
		for _, m := range sel {
			if m.Name != model.MetricNameLabel {
				continue
			}
			read++
			if !slices.Contains(known, m.Value) && !slices.Contains(externalMetrics, m.Value) {
				unknown = append(unknown, m.Value)
			}
		}
	}
	return unknown, read, nil
}

// checkNames fails for every metric expr reads that does not exist.
func checkNames(t *testing.T, what, expr string, known []string) {
	t.Helper()
	unknown, read, err := unknownMetrics(expr, known)
	switch {
	case err != nil:
		t.Errorf("%s: %v\n%s", what, err, expr)
	case read == 0:
		t.Errorf("%s reads no metric: %s", what, expr)
	case len(unknown) > 0:
		t.Errorf("%s reads %q, which the server does not export", what, unknown)
	}
}

// The check itself finds a misspelt metric, in a selector or a bare name.
func TestUnknownMetrics(t *testing.T) {
	known := serverMetrics(t)
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`rate(pkgindex_http_requests_total{code="500"}[5m])`, nil},
		{`rate(pkgindex_http_request_total[5m]) / up`, []string{"pkgindex_http_request_total"}},
		{`histogram_quantile(0.9, rate(pkgindex_store_dir_check_duration_seconds_bucket[5m]))`, []string{"pkgindex_store_dir_check_duration_seconds_bucket"}},
	} {
		got, _, err := unknownMetrics(tc.expr, known)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: unknown %q (%v), want %q", tc.expr, got, err, tc.want)
		}
	}
}

// The PrometheusRule's groups pass Prometheus's own rule file checks (as
// promtool check rules does) and read only metrics that exist; an index
// with an upstream has the upstream's alerts too.
func TestAlertsAreValidRules(t *testing.T) {
	known := serverMetrics(t)
	for name, want := range map[string]int{"existing-claim-everything": 5, "class-upstream": 9} {
		t.Run(name, func(t *testing.T) {
			idx := goldenCases()[name]
			idx.Spec.PrometheusRule = &v1alpha1.PrometheusRuleSpec{AlertLabels: map[string]string{"team": "python"}}
			pr := prometheusRuleFor(idx)
			groups, err := yaml.Marshal(pr.Object["spec"])
			if err != nil {
				t.Fatal(err)
			}
			rgs, errs := rulefmt.Parse(groups, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
			for _, err := range errs {
				t.Errorf("rule file: %v", err)
			}
			if rgs == nil || len(rgs.Groups) != 1 || len(rgs.Groups[0].Rules) != want {
				t.Fatalf("groups %+v, want one of %d rules", rgs, want)
			}
			for _, r := range rgs.Groups[0].Rules {
				checkNames(t, "alert "+r.Alert, r.Expr, known)
				if !strings.Contains(r.Expr, `namespace="python"`) {
					t.Errorf("alert %s does not select the index's namespace: %s", r.Alert, r.Expr)
				}
			}
		})
	}
}

// Every query of the dashboard, in config/ and in the chart, parses and
// reads only metrics that exist.
func TestDashboardReadsExportedMetrics(t *testing.T) {
	known := serverMetrics(t)
	for _, path := range []string{
		filepath.Join("..", "config", "grafana", "dashboard.json"),
		filepath.Join("..", "charts", "pkgindex", "files", "dashboard.json"),
	} {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var dash struct {
			Panels []struct {
				Title   string
				Targets []struct{ Expr string }
			}
		}
		if err := json.Unmarshal(raw, &dash); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		// Grafana's variables, as Grafana fills them in.
		vars := strings.NewReplacer("$__rate_interval", "1m", "$namespace", "python", "$index", "pypi")
		n := 0
		for _, p := range dash.Panels {
			for _, tg := range p.Targets {
				n++
				checkNames(t, path+": panel "+p.Title, vars.Replace(tg.Expr), known)
			}
		}
		if n < 10 {
			t.Errorf("%s: only %d queries", path, n)
		}
	}
}
