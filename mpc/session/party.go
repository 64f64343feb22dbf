package session

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"veil/fixed"
	"veil/internal/rusage"
	"veil/mpc"
	"veil/mpc/aramis"
	"veil/mpc/transport"
)

// PartyConfig is one party of a session run by this process (veil
// party): it connects to its peers as the parties file says, secures
// the connections with Aramis if asked, and runs its role.
type PartyConfig struct {
	// Me is this party's role.
	Me mpc.Party
	// Transport is the parties file: addresses, pinned certificates,
	// timeout. Identity is this party's TLS identity
	// (transport.Config.Identity).
	Transport *transport.Config
	Identity  tls.Certificate
	// Options are the session's backend and its options; every party
	// must use the same.
	Options Options
	// Program is the server's compiled program, with its weights. Only
	// the server has one: the others receive its public part.
	Program *fixed.Program
	// Data is the client's data as it holds them, one slice per input:
	// image pixels, or inputs already in the program's shape. Only the
	// client has data; under Aramis it commits to them (Commitment).
	Data [][]float32
	// Inputs turns the client's data into inputs of the public program
	// once the server has sent it; nil means that Data are the inputs.
	Inputs func(*fixed.Program) ([][]float32, error)
	// Names and Labels name each of the client's inputs and give its
	// class (-1 if unknown), for the report's predictions and accuracy.
	Names  []string
	Labels []int
	// Aramis, if set, makes the session maliciously secure under these
	// settings (mpc/aramis): the peers' evidence checked against the
	// policy, every message authenticated, numbered and chained. The
	// caller has refused simulated attestation without the user's word
	// (aramis.Settings.CheckSimulated).
	Aramis *aramis.Settings
	// Host, if set, stands between the connected network and everything
	// that runs over it, Aramis included: what this party's host may do
	// to its messages (tests inject faults here).
	Host func(mpc.Party, mpc.Network) mpc.Network
	// ConnectTimeout bounds connecting to the peers; zero means 60 s.
	ConnectTimeout time.Duration
	// MemoryLimit, for a process that runs this one party, sizes the
	// process's soft memory limit to the session's program once the party
	// knows it (SetMemoryLimit): the server's at once, the client's and
	// the helper's when the public program arrives.
	MemoryLimit bool
	// Latency, if set, holds every message this party receives that long
	// after it arrived (mpc.WithLatency): a wide-area link emulated for
	// measurements.
	Latency time.Duration
}

// PartyReport is one party's account of a session run by RunParty, with
// the JSON names veil party --json prints and veil bench reads.
type PartyReport struct {
	Role        string       `json:"role"`
	Program     string       `json:"program"`
	N           int          `json:"n"`
	Predictions []Prediction `json:"predictions,omitempty"` // the client's
	Accuracy    *float64     `json:"accuracy,omitempty"`    // the client's, where its inputs have labels
	WallS       float64      `json:"wall_s"`
	BytesSent   int64        `json:"bytes_sent"`
	BytesRecv   int64        `json:"bytes_recv"`
	Rounds      int          `json:"rounds"`
	MsMedian    float64      `json:"ms_per_inference"`   // Report.Median
	MsFirst     float64      `json:"ms_first_inference"` // the first inference's time, its offline phase included
	CPUSeconds  float64      `json:"cpu_s"`              // user + system CPU time of this process
	PeakRSS     int64        `json:"peak_rss_bytes"`     // largest resident set of this process
	// OfflineBytesSent and OfflineS are the part of BytesSent and of the
	// wall time spent ahead of the inputs (2PC's precomputed OTs).
	OfflineBytesSent int64   `json:"offline_bytes_sent,omitempty"`
	OfflineS         float64 `json:"offline_s,omitempty"`
	Malicious        bool    `json:"malicious,omitempty"`
	// Attested is what each peer's evidence established (under Aramis).
	Attested map[string]string `json:"attested_peers,omitempty"`
}

// Prediction is the client's output for one input.
type Prediction struct {
	Image  string    `json:"image"`
	Output []float64 `json:"output"` // the decoded first output, Post applied
	Top1   int       `json:"top1"`
	// More holds the program's further outputs, decoded, by name (a
	// detector's boxes and scores).
	More map[string][]float64 `json:"more_outputs,omitempty"`
}

// check refuses a configuration whose inputs do not fit its role.
func (c *PartyConfig) check() error {
	switch {
	case c.Transport == nil:
		return errors.New("no parties file")
	case c.Me == mpc.P1 && c.Program == nil:
		return errors.New("the server needs its compiled program")
	case c.Me != mpc.P1 && c.Program != nil:
		return fmt.Errorf("only the server holds the program; the %s receives the public program from the server", c.Me.Role())
	case c.Me == mpc.P0 && len(c.Data) == 0:
		return errors.New("the client needs inputs")
	case c.Me != mpc.P0 && (len(c.Data) > 0 || c.Inputs != nil):
		return fmt.Errorf("only the client has inputs, not the %s", c.Me.Role())
	case c.Latency < 0:
		return fmt.Errorf("negative emulated latency %v", c.Latency)
	}
	return nil
}

// RunParty runs party c.Me of a session: it checks the configuration
// (and, under Aramis, makes its attester and input commitment) before
// connecting, connects to the peers, runs its role, and reports. Only
// the client's report holds predictions; an error stops the party
// without releasing any.
func RunParty(ctx context.Context, c PartyConfig) (*PartyReport, error) {
	me := c.Me
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("session: %s: %w", me, err)
	}
	var secure aramis.Config
	if c.Aramis != nil {
		commitment, err := Commitment(me, c.Program, c.Data)
		if err != nil {
			return nil, fmt.Errorf("session: %s: commitment: %w", me, err)
		}
		if secure, err = c.Aramis.Config(me, commitment, c.Transport.Timeout); err != nil {
			return nil, err
		}
	}
	timeout := c.ConnectTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	tn, err := transport.Connect(cctx, c.Transport, me, c.Identity)
	cancel()
	if err != nil {
		return nil, err
	}
	defer tn.Close()
	net := tn
	if c.Latency > 0 {
		net = mpc.WithLatency(net, c.Latency)
	}
	if c.Host != nil {
		net = c.Host(me, net)
	}
	res := &PartyReport{Role: me.Role(), Malicious: c.Aramis != nil}
	if c.Aramis != nil {
		an, err := aramis.Secure(net, secure)
		if err != nil {
			return nil, err
		}
		defer an.Close()
		net = an
		res.Attested = an.AttestedPeers()
	}
	known := func(*fixed.Program) {}
	if c.MemoryLimit {
		known = func(p *fixed.Program) { SetMemoryLimit(p, c.Options) }
	}
	var rep *Report
	switch {
	case me == mpc.P0:
		var pub *fixed.Program
		var outs [][][]float64
		prepare := func(p *fixed.Program) ([][]float32, error) {
			known(p)
			if c.Inputs == nil {
				return c.Data, nil
			}
			return c.Inputs(p)
		}
		if pub, outs, rep, err = Client(ctx, net, c.Options, prepare); err != nil {
			return nil, err
		}
		res.Program = pub.Name
		res.predictions(pub, outs, c.Names, c.Labels)
	case me == mpc.P1:
		known(c.Program)
		rep, err = Server(ctx, net, c.Program, c.Options)
	default:
		rep, err = helper(ctx, net, c.Options, known)
	}
	if err != nil {
		return nil, err
	}
	if res.Program == "" {
		res.Program = rep.Program
	}
	res.N, res.WallS = rep.N, rep.Wall.Seconds()
	res.BytesSent, res.BytesRecv, res.Rounds = rep.Net.TotalSent(), rep.Net.TotalRecv(), rep.Cost.Rounds
	res.MsMedian = float64(rep.Median().Microseconds()) / 1000
	if len(rep.PerInfer) > 0 {
		res.MsFirst = float64(rep.PerInfer[0].Microseconds()) / 1000
	}
	offSent, offTime := rep.Cost.Offline()
	res.OfflineBytesSent, res.OfflineS = offSent, offTime.Seconds()
	if u, ok := rusage.Self(); ok {
		res.CPUSeconds, res.PeakRSS = u.CPU().Seconds(), rusage.PeakRSS()
	}
	return res, nil
}

// predictions fills the client's predictions and, where its inputs have
// labels, its accuracy.
func (r *PartyReport) predictions(prog *fixed.Program, outs [][][]float64, names []string, labels []int) {
	r.Predictions, r.Accuracy = Predictions(prog, outs, names, labels)
}

// Predictions turns a client's decoded outputs of prog (one entry per
// inference, as Client returns them) into predictions named by names,
// and, where labels (−1: unknown) are known, the accuracy.
func Predictions(prog *fixed.Program, outs [][][]float64, names []string, labels []int) (preds []Prediction, accuracy *float64) {
	right := 0
	ports := prog.OutputPorts()
	for i, ys := range outs {
		p := Prediction{Output: ys[0], Top1: fixed.Top1(ys[0])}
		for j, y := range ys[1:] {
			if p.More == nil {
				p.More = map[string][]float64{}
			}
			p.More[ports[j+1].Name] = y
		}
		if i < len(names) {
			p.Image = names[i]
		}
		if i < len(labels) && labels[i] >= 0 && p.Top1 == labels[i] {
			right++
		}
		preds = append(preds, p)
	}
	if len(labels) > 0 && labels[0] >= 0 {
		acc := float64(right) / float64(len(labels))
		accuracy = &acc
	}
	return preds, accuracy
}

// workingSetAllowance is the memory a party is expected to need besides
// the model's weights when its backend names none (mpc.Backend's
// WorkingSet): activations and the comparison protocol's temporaries of
// the largest layer.
const workingSetAllowance = 192 << 20

// liveFactor is the memory a party is expected to need per element of
// the program's working set in the clear (fixed.Program.PeakLiveElements)
// where that exceeds the backend's working set (a batch, a wide network):
// eight ring elements, twice the shares, masks and temporaries veil bench
// measures per live element.
const liveFactor = 8 * 8

// SetMemoryLimit gives the Go runtime of a party's process a soft memory
// limit sized to prog (see memoryLimit), so that the garbage collector
// works harder near it instead of letting the heap grow to twice the live
// data; a party that really needs more still gets it. It also sets the
// backend's GCPercent, if it names one. An explicit GOMEMLIMIT or GOGC in
// the environment wins.
func SetMemoryLimit(prog *fixed.Program, opt Options) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit(prog, opt))
	}
	if b, err := opt.backend(); err == nil && b.GCPercent > 0 && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(b.GCPercent)
	}
}

// memoryLimit is the memory a party of prog (the server's, with weights,
// or the public program; nil if unknown) is expected to need: the
// backend's working set, or liveFactor bytes per element of prog's
// working set in the clear where that is more, plus the weights the
// party holds.
func memoryLimit(prog *fixed.Program, opt Options) int64 {
	limit := int64(workingSetAllowance)
	if b, err := opt.backend(); err == nil && b.WorkingSet > 0 {
		limit = b.WorkingSet
	}
	if prog != nil {
		limit = max(limit, liveFactor*int64(prog.PeakLiveElements()))
		for _, t := range prog.Tensors {
			limit += t.ValueBytes()
		}
	}
	return limit
}
