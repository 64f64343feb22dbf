// Package bench measures secure inference as veil bench does: a network
// compiled to a fixed-point program and one session of its secure
// backend, with every party a process of its own on this machine over
// loopback TLS (so that each party's CPU time and memory are its own),
// reported per inference: time, each party's CPU time, bytes and peak
// memory, rounds, comparisons, and whether the secure output matched the
// cleartext fixed-point executor.
//
// The package writes the parties' files and reads their reports; how a
// party process is started (the command line of veil party) is the
// caller's [Command].
package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"veil/data"
	"veil/fixed"
	"veil/ir"
	"veil/mpc"
	"veil/mpc/aramis"
	"veil/mpc/session"
	"veil/mpc/transport"
)

// Spec is one network to measure.
type Spec struct {
	// Name is the network's name in the result.
	Name string
	// Load builds or imports the network's float graph; with the
	// optimization and compilation after it, it counts as compile time.
	Load  func() (*ir.Graph, error)
	Scale int // the fixed-point scale
	// Session is the secure backend and its options.
	Session session.Options
	// Inferences is the number of inferences in the one session (at
	// least 1), all of the same random input.
	Inferences int
	// Batch is the examples one inference takes (the network as Load
	// built it; 0 means 1), for the throughput.
	Batch int
	// Seed seeds the random input.
	Seed uint64
	// Malicious runs the parties under Aramis with simulated attestation
	// (aramis.WriteSimulated), which proves nothing: only on the user's
	// explicit word (aramis.CheckLoopback).
	Malicious bool
}

// Party is one party process to start, with the files written for it.
type Party struct {
	Role mpc.Party
	// Config is the parties file: identities and loopback addresses,
	// and with Malicious the attestation section.
	Config string
	// Program is the server's compiled program ("" for the others).
	Program string
	// Input is the client's input in package data's raw format, to run
	// Repeat times ("" for the others).
	Input  string
	Repeat int
	// Session and Malicious are the spec's.
	Session   session.Options
	Malicious bool
}

// Command returns the process of one party (not started): it must run
// that party (veil party) and print its session.PartyReport as JSON on
// its standard output, and nothing else there.
type Command func(Party) *exec.Cmd

// Runner starts the parties of each measurement.
type Runner struct {
	Command Command
	// Addrs, if set, are the parties' addresses by party (the client's
	// unused: it only dials), for parties that Command runs elsewhere
	// than on loopback (in network namespaces, say); nil means free
	// loopback ports.
	Addrs []string
	// Progress, if set, is called when the parties have started; the
	// function it returns is called once they have all ended.
	Progress func(network string) (done func())
}

// Result is one network's measurement: the JSON object veil bench --json
// prints per network. Bytes, rounds and CPU time are per inference.
type Result struct {
	Network        string    `json:"network"`
	Backend        string    `json:"backend"`
	Compare        string    `json:"compare"` // the comparison protocol
	Scale          int       `json:"scale"`
	WallS          float64   `json:"wall_s"` // the whole session, setup included
	Inferences     int       `json:"inferences"`
	MsPerInference float64   `json:"ms_per_inference"`   // session.Report.Median; setup excluded
	MsFirst        float64   `json:"ms_first_inference"` // its offline phase included (a plan's, for several)
	Batch          int       `json:"batch"`              // examples per inference
	ExamplesPerS   float64   `json:"examples_per_s"`     // Batch per MsPerInference
	CPUS           []float64 `json:"cpu_s_per_party"`
	BytesSent      []int64   `json:"bytes_sent_per_party"`
	BytesTotal     int64     `json:"bytes_total"`
	Rounds         int       `json:"rounds"`
	// OfflineMs and OfflineBytes are the part of an inference's time (the
	// client's) and of its bytes (all parties) spent ahead of the input.
	OfflineMs     float64 `json:"offline_ms_per_inference,omitempty"`
	OfflineBytes  int64   `json:"offline_bytes,omitempty"`
	PeakRSS       int64   `json:"peak_rss_bytes"` // the largest of the parties
	PeakRSSParty  []int64 `json:"peak_rss_bytes_per_party"`
	ReluCount     int     `json:"relu_count"`
	Comparisons   int     `json:"comparisons"` // ReLUs plus MaxPool/ArgMax comparisons
	BytesPerRelu  float64 `json:"bytes_per_comparison"`
	Verified      bool    `json:"verified"`
	MaxDeviation  float64 `json:"max_logit_deviation_units"`
	Params        int     `json:"params"`
	MACs          int64   `json:"macs"`
	CompileS      float64 `json:"compile_s"`
	VerifyProblem string  `json:"verify_problem,omitempty"`
	Malicious     bool    `json:"malicious"`
	// LatencyMs is the one-way latency the parties added to every link
	// (veil bench --latency), if any.
	LatencyMs float64 `json:"latency_ms,omitempty"`
}

// Run measures spec: it compiles the network, writes the program, a
// random input, the parties' identities and parties file (with simulated
// attestation if Malicious) to a temporary directory, starts every party
// with r.Command, waits for all of them and turns their reports into
// per-inference figures. A party that fails makes Run fail, naming it
// with what it printed; a secure output that does not match the
// cleartext executor is not an error but Verified false and
// VerifyProblem.
func (r Runner) Run(spec Spec) (*Result, error) {
	repeat := max(spec.Inferences, 1)
	opt := spec.Session
	if opt.Backend == "" {
		opt.Backend = session.DefaultBackend
	}
	b, err := mpc.Lookup(opt.Backend)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	g, err := spec.Load()
	if err != nil {
		return nil, err
	}
	p, err := Compile(g, spec.Scale, spec.Seed)
	if err != nil {
		return nil, err
	}
	res := &Result{Network: spec.Name, Backend: opt.Backend, Compare: opt.BackendOptions["compare"], Scale: spec.Scale, Malicious: spec.Malicious,
		ReluCount: p.Stats.ReluElems, Comparisons: p.Stats.Comparisons, Params: p.Stats.Params, MACs: p.Stats.MACs, CompileS: time.Since(t0).Seconds()}

	dir, err := os.MkdirTemp("", "veil-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	x := Input(p, spec.Seed)
	if r.Addrs != nil && len(r.Addrs) < b.Parties {
		return nil, fmt.Errorf("bench: %d addresses for the %d parties of %s", len(r.Addrs), b.Parties, opt.Backend)
	}
	parties, err := writeFiles(dir, p, x, b.Parties, spec.Malicious, r.Addrs)
	if err != nil {
		return nil, err
	}
	for i := range parties {
		parties[i].Repeat, parties[i].Session, parties[i].Malicious = repeat, opt, spec.Malicious
		if parties[i].Role != mpc.P0 {
			parties[i].Repeat = 0
		}
	}
	reports, err := r.start(spec.Name, parties)
	if err != nil {
		return nil, err
	}
	if err := res.fill(reports, repeat); err != nil {
		return nil, err
	}
	res.Batch = max(spec.Batch, 1)
	if res.MsPerInference > 0 {
		res.ExamplesPerS = float64(res.Batch) * 1000 / res.MsPerInference
	}
	res.MaxDeviation, err = p.VerifyOutput(x, reports[mpc.P0].Predictions[0].Output)
	res.Verified = err == nil
	if err != nil {
		res.VerifyProblem = err.Error()
	}
	return res, nil
}

// Compile optimizes g and compiles it at scale as a measurement does:
// secure functions on a bounded range (LayerNorm's rsqrt, division by a
// computed value, exp) and the comparison bound are traced on the
// measured input (Input(p, seed)) and two more drawn like it.
func Compile(g *ir.Graph, scale int, seed uint64) (*fixed.Program, error) {
	if _, err := ir.Optimize(g); err != nil {
		return nil, err
	}
	var examples []fixed.Example
	for i := uint64(0); i < 3; i++ {
		examples = append(examples, fixed.Example{Input: randomInput(g.Values[g.Inputs[0]].Shape.Size(), seed+i)})
	}
	ranges, err := fixed.TraceRanges(g, examples)
	if err != nil {
		return nil, err
	}
	return fixed.CompileWith(g, scale, fixed.Options{Ranges: ranges, Calibration: examples})
}

// Input is the random input of a measurement: uniform in [0, 1), one
// value per element of p's input, from seed.
func Input(p *fixed.Program, seed uint64) []float32 {
	return randomInput(p.InputShape().Size(), seed)
}

func randomInput(n int, seed uint64) []float32 {
	x := make([]float32, n)
	r := rand.New(rand.NewPCG(seed, 0x696e707574))
	for i := range x {
		x[i] = r.Float32()
	}
	return x
}

// writeFiles writes into dir the program, the input, an identity per
// party and the loopback parties file (with the simulated attestation
// section if malicious), and returns each party's files.
func writeFiles(dir string, p *fixed.Program, x []float32, n int, malicious bool, addrs []string) ([]Party, error) {
	progPath, inPath := filepath.Join(dir, "program.vp"), filepath.Join(dir, "input.f32")
	if err := p.WriteFile(progPath); err != nil {
		return nil, err
	}
	if err := data.WriteFloat32s(inPath, x); err != nil {
		return nil, err
	}
	roles := mpc.PartiesOf(n)
	for _, q := range roles {
		if err := transport.GenerateIdentity(q, dir); err != nil {
			return nil, err
		}
	}
	var cfg string
	var err error
	if addrs != nil {
		cfg, err = session.WriteHostsConfig(dir, addrs[:n], session.DefaultTimeout)
	} else {
		cfg, err = session.WriteLoopbackConfig(dir, n, session.DefaultTimeout)
	}
	if err != nil {
		return nil, err
	}
	if malicious {
		section, err := aramis.WriteSimulated(dir, n)
		if err != nil {
			return nil, err
		}
		if err := aramis.AddSection(cfg, section); err != nil {
			return nil, err
		}
	}
	parties := make([]Party, n)
	for i, q := range roles {
		parties[i] = Party{Role: q, Config: cfg}
		switch q {
		case mpc.P0:
			parties[i].Input = inPath
		case mpc.P1:
			parties[i].Program = progPath
		}
	}
	return parties, nil
}

// start runs one process per party and returns their reports, or an
// error naming every party that failed with what it printed.
func (r Runner) start(name string, parties []Party) ([]session.PartyReport, error) {
	outs, errs := make([]bytes.Buffer, len(parties)), make([]bytes.Buffer, len(parties)) // the JSON report; errors and warnings
	procs := make([]*exec.Cmd, len(parties))
	for i, pt := range parties {
		c := r.Command(pt)
		c.Stdout, c.Stderr = &outs[i], &errs[i]
		if err := c.Start(); err != nil {
			for _, started := range procs[:i] {
				started.Process.Kill()
				started.Wait()
			}
			return nil, err
		}
		procs[i] = c
	}
	done := func() {}
	if r.Progress != nil {
		done = r.Progress(name)
	}
	var failed []string
	for i, c := range procs {
		if err := c.Wait(); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v: %s", parties[i].Role, err, strings.TrimSpace(errs[i].String()+outs[i].String())))
		}
	}
	done()
	if len(failed) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(failed, "\n"))
	}
	reports := make([]session.PartyReport, len(parties))
	for i := range reports {
		if err := json.Unmarshal(outs[i].Bytes(), &reports[i]); err != nil {
			return nil, fmt.Errorf("%s printed %q: %v", parties[i].Role, outs[i].String(), err)
		}
	}
	return reports, nil
}

// fill sets the session's figures from the parties' reports of repeat
// inferences: bytes, rounds and CPU per inference, peak memory, the
// client's wall and median time.
func (res *Result) fill(reports []session.PartyReport, repeat int) error {
	n := len(reports)
	res.CPUS, res.BytesSent, res.PeakRSSParty = make([]float64, n), make([]int64, n), make([]int64, n)
	for i, rep := range reports {
		res.CPUS[i] = rep.CPUSeconds / float64(repeat)
		res.BytesSent[i] = rep.BytesSent / int64(repeat)
		res.BytesTotal += rep.BytesSent
		res.OfflineBytes += rep.OfflineBytesSent
		res.PeakRSSParty[i] = rep.PeakRSS
		res.PeakRSS = max(res.PeakRSS, rep.PeakRSS)
	}
	client := reports[mpc.P0]
	res.BytesTotal /= int64(repeat)
	res.OfflineBytes /= int64(repeat)
	res.OfflineMs = client.OfflineS * 1000 / float64(repeat)
	res.WallS, res.MsPerInference, res.MsFirst = client.WallS, client.MsMedian, client.MsFirst
	res.Inferences, res.Rounds = repeat, client.Rounds/repeat
	if res.Comparisons > 0 {
		res.BytesPerRelu = float64(res.BytesTotal) / float64(res.Comparisons)
	}
	if len(client.Predictions) != repeat {
		return fmt.Errorf("the client returned %d outputs for %d inferences", len(client.Predictions), repeat)
	}
	return nil
}
