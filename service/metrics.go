package service

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are a daemon's Prometheus collectors: the counters of Stats,
// read when scraped, and the latency histograms by model.
type metrics struct {
	reg        *prometheus.Registry
	sessionDur *prometheus.HistogramVec
	inferDur   *prometheus.HistogramVec
}

func newMetrics(st *Stats, active func() float64) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string, v func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "veil", Subsystem: "service", Name: name, Help: help},
			func() float64 { return float64(v()) })
	}
	m.sessionDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "veil", Subsystem: "service", Name: "session_seconds",
		Help: "Duration of completed sessions, from the request to the last inference.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 16)}, []string{"model"})
	m.inferDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "veil", Subsystem: "service", Name: "inference_seconds",
		Help: "Duration of one secure inference.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 18)}, []string{"model"})
	m.reg.MustRegister(
		counter("connections_total", "Connections that completed the authenticated handshake.", st.Connections.Load),
		counter("handshakes_refused_total", "Handshakes refused: clients not admitted, malformed or too slow.", st.Refused.Load),
		counter("sessions_total", "Sessions accepted.", st.Sessions.Load),
		counter("sessions_busy_total", "Requests refused because the server ran as many sessions as it may.", st.Busy.Load),
		counter("sessions_failed_total", "Sessions that ended with an error (a client gone, a protocol error, a shutdown).", st.Failed.Load),
		counter("requests_refused_total", "Requests refused for an unknown model, another program or a malformed request.", st.Rejected.Load),
		counter("inferences_total", "Secure inferences completed.", st.Inferences.Load),
		counter("sent_bytes_total", "Bytes the server sent in sessions.", st.BytesSent.Load),
		counter("received_bytes_total", "Bytes the server received in sessions.", st.BytesRecv.Load),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "veil", Subsystem: "service", Name: "active_sessions", Help: "Sessions running now."}, active),
		m.sessionDur, m.inferDur,
		prometheus.NewGoCollector(),
	)
	return m
}

// Handler serves the server's operations endpoints: /metrics
// (Prometheus), /healthz (200 while the process runs) and /readyz (200
// while the server accepts sessions, 503 once it shuts down). Serve it
// on an address of its own, apart from the clients'.
func (s *Server) Handler() http.Handler {
	if err := s.init(); err != nil {
		return failing(err)
	}
	return s.opsHandler(s.metrics)
}

// Handler serves the helper's operations endpoints, as Server.Handler
// does (its latency histograms stay empty: the helper does not learn
// the model).
func (h *Helper) Handler() http.Handler {
	if err := h.init(); err != nil {
		return failing(err)
	}
	return h.opsHandler(h.metrics)
}

func failing(err error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	})
}

// opsHandler serves /metrics from m, /healthz and /readyz.
func (d *daemon) opsHandler(m *metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if d.draining.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	return mux
}
