package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"

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
// command), puts a misbehaving host between a party's protocol code
// (its Aramis layer, with --malicious) and its network
// (session.PartyConfig.Host).
var testInterpose func(me mpc.Party, nw mpc.Network) mpc.Network

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
		inFlags []string
		mal     bool
		profile string
		latency time.Duration

		insecureSim bool
	)
	cmd := &cobra.Command{
		Use:   "party --role client|server|helper --config FILE [IMAGE... | --input NAME=FILE...]",
		Short: "Run one party of a secure inference (3PC, or 2PC with --backend 2pc) as this process",
		Long: `party runs one of the three parties, connecting to the other two as the
configuration file says (addresses and pinned certificates; see veil keygen
and mpc/transport/CONFIG.md):

  server (P1)  holds the model: --program PROGRAM (from veil compile)
  client (P0)  holds the inputs: images (--data D or IMAGE arguments), or
               one inference's inputs by name (--input NAME=FILE for each
               input of the model: an image, .npy, .f32/.raw or .csv);
               gets every output
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
			pc := session.PartyConfig{Me: me, Transport: cfg, Identity: id, Options: opt, Host: testInterpose}
			switch {
			case me == mpc.P1 && progArg == "":
				return fmt.Errorf("the server needs --program (a program made by veil compile)")
			case me == mpc.P1:
				if pc.Program, err = fixed.ReadFileCompact(progArg); err != nil { // held for the whole session
					return err
				}
			case progArg != "":
				return fmt.Errorf("only the server takes --program; the %s receives the public program from the server", me.Role())
			}
			switch {
			case me == mpc.P0 && rawIn != "":
				x, err := data.ReadFloat32s(rawIn)
				if err != nil {
					return err
				}
				for range max(repeat, 1) {
					pc.Data, pc.Names = append(pc.Data, x), append(pc.Names, rawIn)
				}
			case me == mpc.P0 && len(inFlags) > 0:
				if len(args) > 0 || df.spec != "" {
					return usagef("give the client's inputs as IMAGE arguments and --data, or as --input flags, not both")
				}
				if err := clientNamedInputs(&pc, &df, inFlags, mal); err != nil {
					return err
				}
			case me == mpc.P0:
				samples, names, err := clientSamples(&df, args)
				if err != nil {
					return err
				}
				for _, s := range samples {
					pc.Data, pc.Labels = append(pc.Data, s.Pixels), append(pc.Labels, s.Label)
				}
				pc.Names = names
				pc.Inputs = func(p *fixed.Program) ([][]float32, error) {
					// The server's program says how its images were
					// preprocessed; the client follows it.
					changed, err := followServer(&df, p, mal)
					if err != nil {
						return nil, err
					}
					if changed {
						if samples, _, err = clientSamples(&df, args); err != nil {
							return nil, err
						}
					}
					return model.Inputs(samples, p.InputShape(), p.InputLayout())
				}
			case len(args) > 0 || df.spec != "" || rawIn != "" || len(inFlags) > 0:
				return fmt.Errorf("only the client takes inputs")
			}
			if insecureSim && !mal {
				return fmt.Errorf("--insecure-simulated-attestation is only meaningful with --malicious")
			}
			if mal { // configuration errors before connecting
				if pc.Aramis, err = aramis.ParseSettings(cfg.Attestation, cfg.Dir); err != nil {
					return err
				}
				if err := pc.Aramis.CheckSimulated(insecureSim, cfgPath); err != nil {
					return err
				}
				if pc.Aramis.UsesSimulated() {
					fmt.Fprintln(cmd.ErrOrStderr(), aramis.SimulatedWarning)
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
			pc.MemoryLimit, pc.Latency = true, latency
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			b := newProgress(cmd.ErrOrStderr(), asJSON).spin(fmt.Sprintf("%v: connecting to the other parties, then the session", me))
			rep, err := session.RunParty(ctx, pc)
			b.done()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(rep)
			}
			printParty(w, me, rep)
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
	cmd.Flags().StringArrayVar(&inFlags, "input", nil, "the client's NAME=FILE: one named input of one inference (an image, .npy, .f32/.raw or .csv/.txt); repeat for each input of the model")
	cmd.Flags().StringVar(&rawIn, "input-raw", "", "the client's one input as little-endian float32 values in the program's input layout (used by veil bench)")
	cmd.Flags().MarkHidden("input-raw")
	cmd.Flags().BoolVar(&mal, "malicious", false, "malicious security (Aramis): check the peers' attestation evidence against the parties file's \"attestation\" policy, and authenticate, number and chain every message; any deviation stops all parties")
	cmd.Flags().BoolVar(&insecureSim, "insecure-simulated-attestation", false, "with --malicious: accept a parties file whose attestation uses the simulated attester or allows simulated evidence. INSECURE: simulated evidence proves nothing about the code the parties run; for tests and demos only")
	cmd.Flags().IntVar(&repeat, "repeat", 1, "with --input-raw: run that input this many times")
	cmd.Flags().StringVar(&profile, "cpuprofile", "", "write this party's CPU profile to the file")
	cmd.Flags().DurationVar(&latency, "emulate-latency", 0, "hold every message this party receives this long after it arrives, as if its links were that much longer (a measurement aid: veil bench --latency)")
	cmd.Flags().MarkHidden("repeat")
	cmd.MarkFlagRequired("role")
	cmd.MarkFlagRequired("config")
	return cmd
}

// followServer makes the client's flags follow the preprocessing the
// server's program p records and reports whether they changed; under
// --malicious (mal) a change is an error, since the client committed to
// its inputs before the program arrived.
func followServer(df *dataFlags, p *fixed.Program, mal bool) (bool, error) {
	changed, err := df.follow(p.Preprocess, fmt.Sprintf("%q (the server's)", p.Name))
	if err != nil {
		return false, err
	}
	if changed && mal {
		return false, usagef("the server's program %q was compiled with other preprocessing than the client's flags (%+v); under --malicious the client commits to its inputs before the program arrives: give the program's preprocessing flags", p.Name, *p.Preprocess)
	}
	return changed, nil
}

// clientNamedInputs makes the client's one inference from --input
// NAME=FILE flags: the files are read now (the data the client holds and,
// under Aramis, commits to) and fed to the inputs of the server's program
// by name once it arrives, preprocessed as the program says.
func clientNamedInputs(pc *session.PartyConfig, df *dataFlags, flags []string, mal bool) error {
	opt, err := df.options(0)
	if err != nil {
		return err
	}
	files, err := readInputFiles(flags, opt)
	if err != nil {
		return err
	}
	var held []float32
	for _, f := range files {
		held = append(held, f.values()...)
	}
	pc.Data, pc.Names, pc.Labels = [][]float32{held}, []string{strings.Join(flags, " ")}, []int{-1}
	pc.Inputs = func(p *fixed.Program) ([][]float32, error) {
		changed, err := followServer(df, p, mal)
		if err != nil {
			return nil, err
		}
		if changed {
			if opt, err = df.options(0); err != nil {
				return nil, err
			}
			if files, err = readInputFiles(flags, opt); err != nil {
				return nil, err
			}
		}
		x, err := assembleInputs(files, p.InputPorts(), p.InputLayout())
		if err != nil {
			return nil, err
		}
		return [][]float32{x}, nil
	}
	return nil
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

func printParty(w io.Writer, me mpc.Party, r *session.PartyReport) {
	for _, p := range r.Predictions {
		fmt.Fprintf(w, "%s: top-1 %d\n", p.Image, p.Top1)
	}
	if r.Accuracy != nil {
		fmt.Fprintf(w, "accuracy %.2f%% on %d images\n", 100**r.Accuracy, r.N)
	}
	fmt.Fprintf(w, "%s: %d secure inferences of %q in %.2f s; sent %s, received %s; %d rounds\n",
		me, r.N, r.Program, r.WallS, ir.FormatBytes(r.BytesSent), ir.FormatBytes(r.BytesRecv), r.Rounds)
}
