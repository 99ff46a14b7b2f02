package controllers

import (
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// PrometheusRuleGVK is the Prometheus Operator's PrometheusRule, built as
// unstructured like the ServiceMonitor.
var PrometheusRuleGVK = schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "PrometheusRule"}

// alert is one alerting rule of an index.
type alert struct {
	Name     string
	Expr     string
	For      string
	Severity string
	Summary  string
	// Description says what to look at; Prometheus fills in $labels.
	Description string
}

// probeRoutes answer the kubelet and Prometheus, not users.
const probeRoutes = `route!~"readyz|healthz|metrics"`

// alerts are the alerting rules of the index whose server series carry the
// labels that sel matches and whose Deployment kube-state-metrics' series
// that deploy matches. The thresholds are meant to need no tuning for an
// index; a team that wants others copies the rules.
func alerts(sel, deploy string) []alert {
	return []alert{
		{
			Name:     "PackageIndexDown",
			Expr:     fmt.Sprintf(`sum by (namespace, service) (up{%[1]s}) == 0 or absent(up{%[1]s})`, sel),
			For:      "5m",
			Severity: "critical",
			Summary:  "Package index {{ $labels.namespace }}/{{ $labels.service }} is unavailable",
			Description: "No replica of the index answers Prometheus's scrape: pip and uploads fail. " +
				"kubectl describe pkgidx shows the conditions; see the pods' events and /readyz.",
		},
		{
			Name:     "PackageIndexPodsNotReady",
			Expr:     fmt.Sprintf(`kube_deployment_status_replicas_ready{%[1]s} < kube_deployment_spec_replicas{%[1]s}`, deploy),
			For:      "15m",
			Severity: "warning",
			Summary:  "Package index {{ $labels.namespace }}/{{ $labels.deployment }} runs fewer ready pods than asked",
			Description: "{{ $value }} pods ready. Pods fail /readyz while a package directory is unreadable " +
				"(storage not mounted) or cannot start (image, scheduling): kubectl describe deployment.",
		},
		{
			Name: "PackageIndexErrors",
			Expr: fmt.Sprintf(`sum by (namespace, service) (rate(pkgindex_http_requests_total{%[1]s, code=~"5..", %[2]s}[5m]))`+
				` / sum by (namespace, service) (rate(pkgindex_http_requests_total{%[1]s, %[2]s}[5m])) > 0.05`, sel, probeRoutes),
			For:      "10m",
			Severity: "warning",
			Summary:  "Package index {{ $labels.namespace }}/{{ $labels.service }} answers more than 5% of requests with 5xx",
			Description: "{{ $value | humanizePercentage }} of requests failed. 503 means the storage did not answer " +
				"within --storage-timeout or is read-only; the server's log names the cause.",
		},
		{
			Name: "PackageIndexUploadsRefusedForStorage",
			Expr: fmt.Sprintf(`sum by (namespace, service, code) (increase(pkgindex_http_requests_total{%[1]s, route="upload", code=~"503|507"}[15m])) > 0`,
				sel),
			Severity: "warning",
			Summary:  "Package index {{ $labels.namespace }}/{{ $labels.service }} refuses uploads for its storage ({{ $labels.code }})",
			Description: "507: the volume is full (or over quota); 503: it is read-only or did not answer in time. " +
				"Clients are told to try later; free or grow the storage.",
		},
		{
			Name: "PackageIndexStorageSlow",
			Expr: fmt.Sprintf(`histogram_quantile(0.9, sum by (namespace, service, le) (rate(pkgindex_store_dir_check_seconds_bucket{%[1]s}[10m]))) > 0.1`,
				sel),
			For:      "15m",
			Severity: "warning",
			Summary:  "Package index {{ $labels.namespace }}/{{ $labels.service }}'s storage is slow",
			Description: "A directory check, a round trip to the file system (a few milliseconds on EFS), took {{ $value | humanizeDuration }} " +
				"at the 90th percentile: every page pays it. Look at the file system's latency (EFS burst credits, throughput mode).",
		},
	}
}

// alertSelectors match the series of idx: those the ServiceMonitor's
// scrape labels with the Service, and kube-state-metrics' of its
// Deployment.
func alertSelectors(idx *v1alpha1.PackageIndex) (sel, deploy string) {
	return fmt.Sprintf(`namespace=%q, service=%q`, idx.Namespace, idx.Name),
		fmt.Sprintf(`namespace=%q, deployment=%q`, idx.Namespace, idx.Name)
}

// prometheusRuleFor builds the PrometheusRule of idx, or nil when none is
// asked for.
func prometheusRuleFor(idx *v1alpha1.PackageIndex) *unstructured.Unstructured {
	pr := idx.Spec.PrometheusRule
	if pr == nil {
		return nil
	}
	sel, deploy := alertSelectors(idx)
	var rules []any
	for _, a := range alerts(sel, deploy) {
		labels := map[string]any{"severity": a.Severity}
		for _, k := range slices.Sorted(maps.Keys(pr.AlertLabels)) {
			labels[k] = pr.AlertLabels[k]
		}
		rule := map[string]any{
			"alert":       a.Name,
			"expr":        a.Expr,
			"labels":      labels,
			"annotations": map[string]any{"summary": a.Summary, "description": a.Description},
		}
		if a.For != "" {
			rule["for"] = a.For
		}
		rules = append(rules, rule)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{
		"groups": []any{map[string]any{"name": "pkgindex-" + idx.Namespace + "-" + idx.Name, "rules": rules}},
	}}}
	u.SetGroupVersionKind(PrometheusRuleGVK)
	u.SetName(idx.Name)
	u.SetNamespace(idx.Namespace)
	u.SetLabels(mergeLabels(commonLabels(idx), pr.Labels))
	return u
}
