package session

import (
	"veil/fixed"
	"veil/mpc"
)

// Summary is the traffic and timing of a loopback run, with the JSON
// names veil demo and veil eval print it under.
type Summary struct {
	WallS           float64 `json:"wall_s"`
	MsPerInference  float64 `json:"ms_per_inference"` // the client's Report.Median
	BytesSent       []int64 `json:"bytes_sent_per_party"`
	BytesTotal      int64   `json:"bytes_total"`
	BytesPerInfer   int64   `json:"bytes_per_inference"`
	Rounds          int     `json:"rounds"`
	RoundsPerInfer  int     `json:"rounds_per_inference"`
	SecureAgreement float64 `json:"agreement_with_cleartext"` // top-1 agreement with the cleartext outputs
	Malicious       bool    `json:"malicious,omitempty"`
}

// Summary summarizes the run: its wall time, the client's median
// inference time, the bytes each party sent (in all and per inference),
// the client's rounds, and how often the secure top-1 agrees with clear,
// the cleartext executor's outputs for the same inputs (none: 0).
func (r *Result) Summary(clear [][]float64) Summary {
	s := Summary{WallS: r.Wall.Seconds(), BytesSent: make([]int64, len(r.Reports)), Malicious: r.Malicious}
	for p, rep := range r.Reports {
		s.BytesSent[p] = rep.Net.TotalSent()
		s.BytesTotal += s.BytesSent[p]
	}
	client := r.Reports[mpc.P0]
	s.Rounds = client.Cost.Rounds
	if n := len(r.Outputs); n > 0 {
		s.BytesPerInfer = s.BytesTotal / int64(n)
		s.RoundsPerInfer = s.Rounds / n
		s.MsPerInference = float64(client.Median().Microseconds()) / 1000
	}
	if clear != nil {
		s.SecureAgreement, _ = fixed.Compare(r.Outputs, clear)
	}
	return s
}
