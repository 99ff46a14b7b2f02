// Package metrics exposes the server's Prometheus metrics: requests by route
// and status, their latency, bytes sent, and the store's work (directory
// checks and reads, digest cache hits and misses).
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"pkgindex.dev/pkgindex/server/recorder"
	"pkgindex.dev/pkgindex/server/store"
	"pkgindex.dev/pkgindex/server/upstream"
)

// Metrics holds the collectors of one server.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	sent     prometheus.Counter
	uploads  *prometheus.CounterVec
	upBytes  prometheus.Counter
	removals prometheus.Counter
	access   *prometheus.CounterVec
}

// New registers the server's metrics, reading the store's counters at
// scrape time.
func New(st *store.Stats) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pkgindex_http_requests_total",
			Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pkgindex_http_request_duration_seconds",
			Help:    "Time to answer a request, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route"}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pkgindex_http_response_bytes_total",
			Help: "Bytes of response bodies sent.",
		}),
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pkgindex_uploads_total",
			Help: "Write requests (uploads, removals) by result: published or refused.",
		}, []string{"result"}),
		upBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pkgindex_uploaded_bytes_total",
			Help: "Bytes of distribution files published by uploads.",
		}),
		removals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pkgindex_removed_files_total",
			Help: "Distribution files removed.",
		}),
		access: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pkgindex_access_decisions_total",
			Help: "Decisions of the policy (--policy), by identity kind, right and outcome: allowed, refused, or unauthenticated (credentials that prove nobody).",
		}, []string{"kind", "right", "outcome"}),
	}
	reg.MustRegister(
		m.requests, m.latency, m.sent, m.uploads, m.upBytes, m.removals, m.access,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		counter("pkgindex_store_checks_total", "Rounds checking every directory of the tree.", st.Checks.Load),
		counter("pkgindex_store_dir_checks_total", "Directories asked for fresh attributes: on NFS, a round trip each.", st.DirChecks.Load),
		histogram{prometheus.NewDesc("pkgindex_store_dir_check_seconds",
			"Time a directory check took once it had its I/O slot: the file system's fresh attributes, and the listing when it changed. On NFS a round trip or two; what the storage-slow alert watches.",
			nil, nil), &st.DirCheckTime},
		counter("pkgindex_store_dir_reads_total", "Directories listed from disk.", st.DirReads.Load),
		counter("pkgindex_store_rebuilds_total", "Listings rebuilt after a change on disk.", st.Rebuilds.Load),
		counter("pkgindex_digest_cache_hits_total", "File digests and metadata answered from the cache.", st.FactsHits.Load),
		counter("pkgindex_digest_cache_misses_total", "File digests and metadata computed from the file.", st.FactsMisses.Load),
		counter("pkgindex_digest_cache_recorded_total", "Cache misses answered from the facts records an upload or another replica left.", st.FactsRecorded.Load),
		counter("pkgindex_facts_records_written_total", "Project facts records written with facts this replica computed.", st.FactsRecordWrites.Load),
		counter("pkgindex_hashed_bytes_total", "Bytes read to compute digests.", st.HashedBytes.Load),
		counter("pkgindex_skipped_files_total", "Files left out of a page because they vanished or could not be read.", st.SkippedFiles.Load),
	)
	return m
}

// histogram is a histogram read from h at scrape time.
type histogram struct {
	desc *prometheus.Desc
	h    *store.Histogram
}

// Describe implements prometheus.Collector.
func (c histogram) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c histogram) Collect(ch chan<- prometheus.Metric) {
	n, sum, buckets := c.h.Read()
	ch <- prometheus.MustNewConstHistogram(c.desc, n, sum, buckets)
}

// counter is a counter read from v at scrape time.
func counter(name, help string, v func() uint64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
		func() float64 { return float64(v()) })
}

// Upstream registers the upstream cache's counters, read at scrape time.
func (m *Metrics) Upstream(st *upstream.Stats) {
	m.reg.MustRegister(
		counter("pkgindex_upstream_page_hits_total", "Upstream project pages answered from the cache within their TTL.", st.PageHits.Load),
		counter("pkgindex_upstream_page_fetches_total", "Upstream project pages fetched whole (misses), including not-found answers.", st.PageFetches.Load),
		counter("pkgindex_upstream_page_revalidations_total", "Cached upstream pages the upstream confirmed unchanged (304).", st.PageRevalidations.Load),
		counter("pkgindex_upstream_stale_total", "Cached upstream pages served because the upstream failed (stale-if-error).", st.PageStale.Load),
		counter("pkgindex_upstream_file_hits_total", "Upstream files served from the cache.", st.FileHits.Load),
		counter("pkgindex_upstream_file_fetches_total", "Upstream files fetched, checked and cached.", st.FileFetches.Load),
		counter("pkgindex_upstream_file_failures_total", "Upstream file fetches that failed (digest mismatch, truncation, upstream errors); nothing was kept.", st.FileFailures.Load),
		counter("pkgindex_upstream_fetched_bytes_total", "Bytes read from upstreams.", st.FetchedBytes.Load),
		counter("pkgindex_upstream_evicted_total", "Cached upstream files evicted by the cache size limit.", st.Evicted.Load),
		counter("pkgindex_upstream_errors_total", "Upstream requests for pages that failed or timed out.", st.Errors.Load),
		counter("pkgindex_upstream_requests_total", "Requests sent to upstreams.", st.Requests.Load),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pkgindex_upstream_latency_seconds_total", Help: "Time upstreams took to answer, summed over pkgindex_upstream_requests_total."},
			func() float64 { return float64(st.LatencyNs.Load()) / 1e9 }),
	)
}

// Uploaded counts a published file of the given size.
func (m *Metrics) Uploaded(size int64) {
	m.uploads.WithLabelValues("published").Inc()
	m.upBytes.Add(float64(size))
}

// UploadRefused counts a write request that changed nothing.
func (m *Metrics) UploadRefused() { m.uploads.WithLabelValues("refused").Inc() }

// Removed counts a removed file.
func (m *Metrics) Removed() { m.removals.Inc() }

// Access counts one decision on a request's access: kind is the
// identity's kind, right what it asked, outcome allowed, refused or
// unauthenticated.
func (m *Metrics) Access(kind, right, outcome string) {
	m.access.WithLabelValues(kind, right, outcome).Inc()
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Instrument counts and times the requests h answers under the route label.
func (m *Metrics) Instrument(route string, h http.Handler) http.Handler {
	obs := m.latency.WithLabelValues(route)
	codes := map[int]prometheus.Counter{}
	for _, c := range []int{200, 206, 301, 302, 304, 400, 401, 403, 404, 405, 406, 413, 416, 500, 503} {
		codes[c] = m.requests.WithLabelValues(route, strconv.Itoa(c))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := recorder.New(w)
		h.ServeHTTP(rw, r)
		obs.Observe(time.Since(start).Seconds())
		if c, ok := codes[rw.Code]; ok {
			c.Inc()
		} else {
			m.requests.WithLabelValues(route, strconv.Itoa(rw.Code)).Inc()
		}
		m.sent.Add(float64(rw.Bytes))
	})
}
