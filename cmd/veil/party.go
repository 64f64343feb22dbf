package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"veil/attest"
	"veil/data"
	"veil/fixed"
	"veil/ir"
	"veil/model"
	"veil/mpc"
	"veil/mpc/aramis"
	"veil/mpc/session"
	"veil/mpc/transport"
)

// testInterpose, set only by this package's tests (never by the
// command), puts a misbehaving host between a malicious-mode party's
// attested protocol code and its network.
var testInterpose func(me mpc.Party, nw mpc.Network) mpc.Network

// partyResult is what `veil party --json` prints.
type partyResult struct {
	Role        string       `json:"role"`
	Program     string       `json:"program"`
	N           int          `json:"n"`
	Predictions []prediction `json:"predictions,omitempty"`
	Accuracy    *float64     `json:"accuracy,omitempty"`
	WallS       float64      `json:"wall_s"`
	BytesSent   int64        `json:"bytes_sent"`
	BytesRecv   int64        `json:"bytes_recv"`
	Rounds      int          `json:"rounds"`
	MsMedian    float64      `json:"ms_per_inference"` // median over the inferences
	CPUSeconds  float64      `json:"cpu_s"`            // user + system CPU time of this process
	PeakRSS     int64        `json:"peak_rss_bytes"`   // largest resident set of this process
	Malicious   bool         `json:"malicious,omitempty"`
	// Attested is what each peer's evidence established (malicious only).
	Attested map[string]string `json:"attested_peers,omitempty"`
}

func partyCmd() *cobra.Command {
	var (
		df      dataFlags
		role    string
		backend string
		cfgPath string
		keyPath string
		progArg string
		asJSON  bool
		rawIn   string
		repeat  int
		mal     bool
		profile string

		insecureSim bool
	)
	cmd := &cobra.Command{
		Use:   "party --role client|server|helper --config FILE [IMAGE...]",
		Short: "Run one party of a secure (3-party Porthos) inference as this process",
		Long: `party runs one of the three parties, connecting to the other two as the
configuration file says (addresses and pinned certificates; see veil keygen
and mpc/transport/CONFIG.md):

  server (P1)  holds the model: --program PROGRAM (from veil compile)
  client (P0)  holds the images: --data D or IMAGE arguments; gets the output
  helper (P2)  supplies correlated randomness; has no input and no output

The server sends the client and the helper the program's public part (its
architecture, never its weights). Only the client learns the predictions.
If any party dies, stalls or misbehaves, the others stop with an error naming
it and no output is released.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			me, err := mpc.ParseRole(role)
			if err != nil {
				return err
			}
			opt, err := secureOptions(backend)
			if err != nil {
				return err
			}
			cfg, err := transport.LoadConfig(cfgPath)
			if err != nil {
				return err
			}
			id, err := cfg.Identity(me, keyPath)
			if err != nil {
				return err
			}
			var prog *fixed.Program
			switch me {
			case mpc.P1:
				if progArg == "" {
					return fmt.Errorf("the server needs --program (a program made by veil compile)")
				}
				if prog, err = fixed.ReadFile(progArg); err != nil {
					return err
				}
			default:
				if progArg != "" {
					return fmt.Errorf("only the server takes --program; the %s receives the public program from the server", me.Role())
				}
			}
			var samples []data.Sample
			var names []string
			if me == mpc.P0 && rawIn == "" {
				if samples, names, err = clientSamples(&df, args); err != nil {
					return err
				}
			} else if me == mpc.P0 {
				for i := 0; i < max(repeat, 1); i++ {
					names = append(names, rawIn)
				}
			} else if len(args) > 0 || df.spec != "" || rawIn != "" {
				return fmt.Errorf("only the client takes images")
			}
			var settings *aramis.Settings
			var attester attest.Attester
			if insecureSim && !mal {
				return fmt.Errorf("--insecure-simulated-attestation is only meaningful with --malicious")
			}
			if mal { // configuration errors before connecting
				if settings, err = aramis.ParseSettings(cfg.Attestation, cfg.Dir); err != nil {
					return err
				}
				if err := settings.CheckSimulated(insecureSim, cfgPath); err != nil {
					return err
				}
				if settings.UsesSimulated() {
					fmt.Fprintln(cmd.ErrOrStderr(), aramis.SimulatedWarning)
				}
				if attester, err = settings.NewAttester(me); err != nil {
					return err
				}
			}
			if profile != "" {
				f, err := os.Create(profile)
				if err != nil {
					return err
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
			setMemoryLimit(prog)
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			nw, err := transport.Connect(cctx, cfg, me, id)
			cancel()
			if err != nil {
				return err
			}
			defer nw.Close()
			var net mpc.Network = nw
			res := partyResult{Role: me.Role(), Malicious: mal}
			if mal && testInterpose != nil {
				net = testInterpose(me, nw)
			}
			if mal {
				var xs [][]float32
				switch {
				case me == mpc.P0 && rawIn != "":
					x, err := data.ReadFloat32s(rawIn)
					if err != nil {
						return err
					}
					for range max(repeat, 1) {
						xs = append(xs, x)
					}
				case me == mpc.P0:
					for i := range samples {
						xs = append(xs, samples[i].Pixels)
					}
				}
				commitment, err := session.Commitment(me, prog, xs)
				if err != nil {
					return err
				}
				an, err := aramis.Secure(net, aramis.Config{Attester: attester, Policy: settings.Policy, Commitment: commitment, Timeout: cfg.Timeout})
				if err != nil {
					return err
				}
				defer an.Close()
				net = an
				res.Attested = an.AttestedPeers()
			}
			var rep *session.Report
			switch me {
			case mpc.P0:
				var outs [][]float64
				var pub *fixed.Program
				pub, outs, rep, err = session.Client(ctx, net, opt, func(p *fixed.Program) ([][]float32, error) {
					if rawIn != "" {
						x, err := readFloat32s(rawIn, p.Tensors[p.Inputs[0]].Shape.Size())
						xs := make([][]float32, max(repeat, 1))
						for i := range xs {
							xs[i] = x
						}
						return xs, err
					}
					return programInputs(p, samples)
				})
				if err != nil {
					return err
				}
				right := 0
				for i, y := range outs {
					pr := prediction{Image: names[i], Output: y, Top1: fixed.Top1(y)}
					if i < len(samples) && samples[i].Label >= 0 && pr.Top1 == samples[i].Label {
						right++
					}
					res.Predictions = append(res.Predictions, pr)
				}
				if len(samples) > 0 && samples[0].Label >= 0 {
					acc := float64(right) / float64(len(samples))
					res.Accuracy = &acc
				}
				res.Program = pub.Name
			case mpc.P1:
				rep, err = session.Server(ctx, net, prog, opt)
			case mpc.P2:
				rep, err = session.Helper(ctx, net, opt)
			}
			if err != nil {
				return err
			}
			if res.Program == "" {
				res.Program = rep.Program
			}
			res.N, res.WallS = rep.N, rep.Wall.Seconds()
			res.BytesSent, res.BytesRecv, res.Rounds = rep.Net.TotalSent(), rep.Net.TotalRecv(), rep.Cost.Rounds
			res.CPUSeconds, res.PeakRSS = processUsage()
			res.MsMedian = float64(rep.Median().Microseconds()) / 1000
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(res)
			}
			printParty(w, me, res)
			return nil
		},
	}
	df.register(cmd, "the client's labelled images (image folder, IDX pair, CSV, JSON)")
	cmd.Flags().StringVar(&role, "role", "", "client, server or helper")
	backendFlag(cmd, &backend)
	cmd.Flags().StringVar(&cfgPath, "config", "", "the parties' configuration file (see veil keygen --loopback)")
	cmd.Flags().StringVar(&keyPath, "key", "", "this party's private key (default: the config's \"key\" for the role)")
	cmd.Flags().StringVar(&progArg, "program", "", "the server's compiled program")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().StringVar(&rawIn, "input-raw", "", "the client's one input as little-endian float32 values in the program's input layout (used by veil bench)")
	cmd.Flags().MarkHidden("input-raw")
	cmd.Flags().BoolVar(&mal, "malicious", false, "malicious security (Aramis): check the peers' attestation evidence against the parties file's \"attestation\" policy, and authenticate, number and chain every message; any deviation stops all parties")
	cmd.Flags().BoolVar(&insecureSim, "insecure-simulated-attestation", false, "with --malicious: accept a parties file whose attestation uses the simulated attester or allows simulated evidence. INSECURE: simulated evidence proves nothing about the code the parties run; for tests and demos only")
	cmd.Flags().IntVar(&repeat, "repeat", 1, "with --input-raw: run that input this many times")
	cmd.Flags().StringVar(&profile, "cpuprofile", "", "write this party's CPU profile to the file")
	cmd.Flags().MarkHidden("repeat")
	cmd.MarkFlagRequired("role")
	cmd.MarkFlagRequired("config")
	return cmd
}

// clientSamples loads the client's images, --data and IMAGE arguments,
// and names each.
func clientSamples(df *dataFlags, args []string) ([]data.Sample, []string, error) {
	opt, err := df.options(df.limit)
	if err != nil {
		return nil, nil, err
	}
	var samples []data.Sample
	var names []string
	if df.spec != "" {
		ds, err := data.Load(df.spec, opt)
		if err != nil {
			return nil, nil, err
		}
		for i := range ds.Samples {
			names = append(names, fmt.Sprintf("%s#%d", df.spec, i))
		}
		samples = ds.Samples
	}
	for _, a := range args {
		s, err := data.LoadImage(a, opt)
		if err != nil {
			return nil, nil, err
		}
		samples, names = append(samples, s), append(names, a)
	}
	if len(samples) == 0 {
		return nil, nil, fmt.Errorf("the client needs images: --data D or IMAGE arguments")
	}
	return samples, names, nil
}

// programInputs converts samples into inputs of p's (single) input.
func programInputs(p *fixed.Program, samples []data.Sample) ([][]float32, error) {
	if len(p.Inputs) != 1 {
		return nil, fmt.Errorf("program %q has %d inputs; veil feeds one image input", p.Name, len(p.Inputs))
	}
	shape := p.Tensors[p.Inputs[0]].Shape
	xs := make([][]float32, len(samples))
	for i, s := range samples {
		t, err := model.Input(s, shape, p.InputLayout())
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		xs[i] = t.F
	}
	return xs, nil
}

func printParty(w io.Writer, me mpc.Party, r partyResult) {
	for _, p := range r.Predictions {
		fmt.Fprintf(w, "%s: top-1 %d\n", p.Image, p.Top1)
	}
	if r.Accuracy != nil {
		fmt.Fprintf(w, "accuracy %.2f%% on %d images\n", 100**r.Accuracy, r.N)
	}
	fmt.Fprintf(w, "%s: %d secure inferences of %q in %.2f s; sent %s, received %s; %d rounds\n",
		me, r.N, r.Program, r.WallS, ir.FormatBytes(r.BytesSent), ir.FormatBytes(r.BytesRecv), r.Rounds)
}
