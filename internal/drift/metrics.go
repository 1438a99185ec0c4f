package drift

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics holds drift's Prometheus collectors in a private registry.
// Counters read the runner's own atomics, so there is one source of truth.
type metrics struct {
	reg      *prometheus.Registry
	findings *prometheus.GaugeVec
}

func newMetrics(r *Runner) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		findings: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "netpolgen_drift_findings",
			Help: "Findings of the last evaluation, by kind (uncovered, stale, unprotected) and namespace.",
		}, []string{"kind", "namespace"}),
	}
	counter := func(name, help string, v func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, v)
	}
	gauge := func(name, help string, v func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, v)
	}
	m.reg.MustRegister(
		m.findings,
		counter("netpolgen_drift_flows_processed_total", "Flows folded into the learned graph by this process.",
			func() float64 { return float64(r.flows.Load()) }),
		counter("netpolgen_drift_lost_events_total", "Events Hubble reported lost.",
			func() float64 { return float64(r.lost.Load()) }),
		counter("netpolgen_drift_stream_reconnects_total", "Times the Hubble stream was reopened after breaking.",
			func() float64 { return float64(r.reconnects()) }),
		gauge("netpolgen_drift_last_flow_timestamp_seconds", "Flow time of the latest flow seen, in Unix seconds.",
			func() float64 { return unixSeconds(r.watermark()) }),
		counter("netpolgen_drift_evaluations_total", "Evaluations of the learned graph against the policies.",
			func() float64 { return float64(r.evaluations.Load()) }),
		counter("netpolgen_drift_evaluation_errors_total", "Evaluations that failed (policies unreadable or rejected by Cilium).",
			func() float64 { return float64(r.evalErrors.Load()) }),
		gauge("netpolgen_drift_stream_connected", "1 while the Hubble stream is up.",
			func() float64 {
				if r.connected() {
					return 1
				}
				return 0
			}),
	)
	return m
}

// setFindings replaces the findings gauge with one evaluation's counts.
func (m *metrics) setFindings(fs []Finding) {
	m.findings.Reset()
	for _, k := range []Kind{KindUncovered, KindStale, KindUnprotected} {
		// Zero series per kind keep "no findings" visible as 0, not absent.
		m.findings.WithLabelValues(string(k), "").Set(0)
	}
	for _, f := range fs {
		m.findings.WithLabelValues(string(f.Kind), f.Namespace).Inc()
	}
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// Handler serves /metrics and /healthz. /healthz fails when no evaluation
// has completed for three intervals: the loop is stuck, and a restart is
// the fix. A Hubble outage does not fail it (a restart would not help); it
// shows in the report and the metrics.
func (r *Runner) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(r.metrics.reg, promhttp.HandlerOpts{Registry: r.metrics.reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		last := time.Unix(0, r.lastEval.Load())
		started := time.Unix(0, r.started.Load())
		since := last
		if r.lastEval.Load() == 0 {
			since = started
		}
		healthy := time.Since(since) < 3*r.opts.Interval+10*time.Second
		w.Header().Set("Content-Type", "application/json")
		if !healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		body := map[string]any{"ok": healthy, "connected": r.connected(), "flows": r.flows.Load()}
		if r.lastEval.Load() != 0 {
			body["lastEvaluation"] = last.UTC().Format(time.RFC3339)
		}
		_ = json.NewEncoder(w).Encode(body)
	})
	return mux
}
