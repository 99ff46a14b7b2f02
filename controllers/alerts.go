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

// upstreamAlerts are the rules of an index with an upstream, on the
// server's pkgindex_upstream_* counters.
func upstreamAlerts(sel string) []alert {
	ratio := func(num, den string) string {
		return fmt.Sprintf(`sum by (namespace, service) (rate(%[1]s{%[3]s}[10m])) / sum by (namespace, service) (rate(%[2]s{%[3]s}[10m]))`, num, den, sel)
	}
	return []alert{
		{
			Name:     "PackageIndexUpstreamErrors",
			Expr:     ratio("pkgindex_upstream_errors_total", "pkgindex_upstream_requests_total") + " > 0.1",
			For:      "10m",
			Severity: "warning",
			Summary:  "Package index {{ $labels.namespace }}/{{ $labels.service }}'s upstream fails more than 10% of page requests",
			Description: "{{ $value | humanizePercentage }} of requests to the upstreams failed or timed out. Cached projects are served stale; " +
				"projects never fetched answer 502. The server's log names the upstream and the error (DNS, TLS, credentials, egress refused by the NetworkPolicy).",
		},
		{
			Name:     "PackageIndexUpstreamStale",
			Expr:     fmt.Sprintf(`sum by (namespace, service) (increase(pkgindex_upstream_stale_total{%s}[15m])) > 0`, sel),
			For:      "30m",
			Severity: "warning",
			Summary:  "Package index {{ $labels.namespace }}/{{ $labels.service }} serves stale upstream pages",
			Description: "Cached upstream pages were served because the upstream could not revalidate them, for half an hour: " +
				"new releases upstream are not seen. Answers carry X-Pkgindex-Upstream: stale.",
		},
		{
			Name: "PackageIndexUpstreamFileFailures",
			Expr: fmt.Sprintf(`sum by (namespace, service) (increase(pkgindex_upstream_file_failures_total{%s}[15m])) > 0`, sel),
			// A client that gives up mid-download is no failure; one
			// failure in a quarter of an hour, for a quarter of an hour, is.
			For:      "15m",
			Severity: "warning",
			Summary:  "Package index {{ $labels.namespace }}/{{ $labels.service }} fails to fetch upstream files",
			Description: "Upstream file fetches failed and nothing was kept: a digest that does not match the upstream's page, " +
				"a truncated body or an upstream error. Clients get 502; the server's log names the file.",
		},
		{
			Name:     "PackageIndexUpstreamSlow",
			Expr:     ratio("pkgindex_upstream_latency_seconds_total", "pkgindex_upstream_requests_total") + " > 2",
			For:      "15m",
			Severity: "info",
			Summary:  "Package index {{ $labels.namespace }}/{{ $labels.service }}'s upstream is slow",
			Description: "Upstream requests took {{ $value | humanizeDuration }} on average: every cache miss and revalidation waits that long. " +
				"A longer upstream.ttl revalidates less often.",
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
	rules := alerts(sel, deploy)
	if idx.Spec.Upstream != nil {
		rules = append(rules, upstreamAlerts(sel)...)
	}
	var groupRules []any
	for _, a := range rules {
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
		groupRules = append(groupRules, rule)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{
		"groups": []any{map[string]any{"name": "pkgindex-" + idx.Namespace + "-" + idx.Name, "rules": groupRules}},
	}}}
	u.SetGroupVersionKind(PrometheusRuleGVK)
	u.SetName(idx.Name)
	u.SetNamespace(idx.Namespace)
	u.SetLabels(mergeLabels(commonLabels(idx), pr.Labels))
	return u
}
