package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"veil/attest"
	"veil/ir"
	"veil/slalom"
	"veil/slalom/service"
)

// slalomAttester returns T's attester (attest.Choose): the platform's
// (SEV-SNP or TDX) for "tee"; the simulated one only with the explicit
// insecure flag and a platform key file (created if missing, as veil
// attest produce does).
func slalomAttester(kind string, insecure bool, keyFile string, logf func(string, ...any)) (attest.Attester, error) {
	switch kind {
	case attest.KindTEE:
		if insecure || keyFile != "" {
			return nil, fmt.Errorf("--insecure-simulated-attestation and --platform-key-file apply only with --attester %s", attest.FormatSimulated)
		}
	case attest.FormatSimulated:
		if !insecure {
			return nil, fmt.Errorf("--attester %s refused: simulated evidence proves nothing about the code T runs (whoever reads the platform key can sign any claim); pass --insecure-simulated-attestation to use it anyway, for tests and demos only", attest.FormatSimulated)
		}
		if keyFile == "" {
			return nil, fmt.Errorf("--attester %s needs --platform-key-file (the simulated platform's key, created if missing; clients pin its public key)", attest.FormatSimulated)
		}
	default:
		return nil, fmt.Errorf("--attester %q: want tee or %s", kind, attest.FormatSimulated)
	}
	a, created, err := attest.Choose(kind, keyFile)
	if err != nil && kind == attest.KindTEE {
		return nil, fmt.Errorf("--attester tee: %w (for tests and demos on such a machine: --attester %s --insecure-simulated-attestation --platform-key-file FILE)", err, attest.FormatSimulated)
	} else if err != nil {
		return nil, err
	}
	if s, ok := a.(*attest.Simulated); ok {
		logf("WARNING: simulated attestation is insecure: it proves nothing about the code T runs")
		if created {
			logf("wrote simulated platform key %s", keyFile)
		}
		logf("simulated platform key: %x", s.PlatformKey())
		logf("measurement (SHA-384 of this executable): %x", s.Measurement)
	}
	return a, nil
}

// slalomServeProgram loads (or builds) the served model and compiles
// it for Slalom, with a spinner from pr: the service's start-up.
func slalomServeProgram(pr progress, f *slalomFlags, name, val string, pixelMax float64) (*ir.Graph, string, *slalom.Program, error) {
	b := pr.spin("loading " + name)
	defer b.done()
	g, variant, err := slalomModel(f, name)
	if err != nil {
		return nil, "", nil, err
	}
	vx, err := valInputs(dataFlags{pixelMax: pixelMax}, val, g)
	if err != nil {
		return nil, "", nil, err
	}
	b.describe("compiling " + name + " for Slalom")
	p, err := slalomCompile(f, g, vx)
	return g, variant, p, err
}

func slalomServeCmd() *cobra.Command {
	var f slalomFlags
	var listen, attester, keyFile, writePolicy, val string
	var insecure bool
	var pixelMax float64
	var offline int
	c := &cobra.Command{
		Use:   "serve MODEL --listen ADDR [--verify] [--blind] [--device ADDR --keys DIR] [--attester tee|simulated-insecure]",
		Short: "run T as an attested service: clients verify T's evidence, then send inputs over an encrypted channel",
		Long: `serve runs the trusted executor T for clients (veil slalom client). Per
connection, T makes a fresh X25519 key and answers the client's nonce with a
statement of what it runs (model hash M, mode, p, k, l_x, l_w, input shape)
and evidence whose report data binds the key, a session id hashing the
statement, and the nonce. The client checks the evidence against its policy,
then sends inputs encrypted (AES-256-GCM, keys from X25519 + HKDF-SHA256);
T runs each with D as veil slalom run would (same model resolution and
device handling) and returns the logits, or the error (e.g. a failed
Freivalds check naming the layer), to that client only.

--attester tee (the default) asks the platform (SEV-SNP or TDX) for evidence
and fails where there is none. --attester simulated-insecure signs with a
software platform key (--platform-key-file, created if missing) and needs
--insecure-simulated-attestation: it proves nothing. --write-policy writes a
client policy accepting exactly this simulated platform and executable.
The first line on stdout is "slalom service listening on ADDR".`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			logf := func(s string, a ...any) { fmt.Fprintf(cmd.ErrOrStderr(), "slalom serve: "+s+"\n", a...) }
			mode, err := f.mode()
			if err != nil {
				return err
			}
			a, err := slalomAttester(attester, insecure, keyFile, logf)
			if err != nil {
				return err
			}
			if writePolicy != "" {
				sim, ok := a.(*attest.Simulated)
				if !ok {
					return errors.New("--write-policy applies only to the simulated attester (on a TEE, write the policy with your build's launch measurement)")
				}
				b, err := attest.SimulatedPolicy(sim.Measurement, sim.PlatformKey()).MarshalJSON()
				if err != nil {
					return err
				}
				if err := os.WriteFile(writePolicy, append(b, '\n'), 0o644); err != nil {
					return fmt.Errorf("--write-policy: %w", err)
				}
				logf("wrote client policy %s (accepts this simulated platform: INSECURE)", writePolicy)
			}
			g, variant, p, err := slalomServeProgram(newProgress(cmd.ErrOrStderr(), false), &f, args[0], val, pixelMax)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen: %w", err)
			}
			defer ln.Close()
			t, closeDev, err := startTrusted(&f, p, mode, cmd.ErrOrStderr(), offline)
			if err != nil {
				return err
			}
			defer closeDev()
			srv := &service.Server{T: t, Attester: a, Layout: g.Layout, Logf: logf}
			st, err := srv.Statement()
			if err != nil {
				return err
			}
			name := st.Name
			if variant != "" {
				name += " (" + variant + ")"
			}
			logf("model %s, M = %x", name, st.Model)
			logf("mode %s, p = %d, l_x = %d, l_w = %d, input %v %s, attester %s", st.ModeString(), st.P, st.Lx, st.Lw, st.Input, st.Layout, a.Format())
			// SIGINT or SIGTERM stop the service (and a device child) cleanly.
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() { <-ctx.Done(); ln.Close() }()
			fmt.Fprintf(cmd.OutOrStdout(), "slalom service listening on %s\n", ln.Addr())
			err = srv.Serve(ln)
			if ctx.Err() != nil {
				logf("stopped")
				return nil
			}
			return err
		},
	}
	f.register(c)
	fl := c.Flags()
	fl.StringVar(&listen, "listen", "127.0.0.1:0", "address to serve clients on")
	fl.StringVar(&attester, "attester", "tee", "tee (SEV-SNP or TDX evidence from this platform) or simulated-insecure (needs --insecure-simulated-attestation)")
	fl.BoolVar(&insecure, "insecure-simulated-attestation", false, "allow --attester simulated-insecure: a software key signs T's evidence. INSECURE: it proves nothing about the code T runs; for tests and demos only")
	fl.StringVar(&keyFile, "platform-key-file", "", "simulated attester: the platform's private key (PEM), created if missing")
	fl.StringVar(&writePolicy, "write-policy", "", "simulated attester: write a client policy (JSON) accepting this platform key and executable")
	fl.StringVar(&val, "val", "", "labelled validation images for choosing the scales (as in veil slalom run)")
	fl.Float64Var(&pixelMax, "pixel-max", 0, "with --val: divide raw pixel values by this (default 255)")
	fl.IntVar(&offline, "offline", 0, "with --blind: blinding pairs to precompute at start (more are made on demand)")
	return c
}

func slalomClientCmd() *cobra.Command {
	var df dataFlags
	var policyFile, modelHash string
	var reqVerify, reqBlind, asJSON bool
	var n int
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "client ADDR --policy FILE --data PATH [--model-hash HEX] [--require-verify] [--require-blind] [-n N] [--json]",
		Short: "attest T (veil slalom serve), send it images over the encrypted channel and print its predictions",
		Long: `client connects to T at ADDR, sends a fresh nonce and checks T's evidence
with the policy file (attest.ParsePolicy's JSON: measurements, allow_debug,
min_tcb; simulated evidence only with insecure_allow_simulated and a pinned
simulated_platform_keys entry) against the report data it computes from T's
key, T's statement and its nonce. It then checks the statement: --model-hash
pins M (without it, M is printed so that you can pin it), --require-verify
demands Freivalds checks, --require-blind blinding. Only then does it send
the images of --data (shaped as T's statement says) and print T's answers;
with labels, the top-1 accuracy.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if policyFile == "" {
				return errors.New("--policy is required (the attestation policy T's evidence must meet)")
			}
			if df.spec == "" {
				return errors.New("--data is required")
			}
			pol, err := attest.LoadPolicy(policyFile)
			if err != nil {
				return err
			}
			req := service.Requirements{Verify: reqVerify, Blind: reqBlind}
			if modelHash != "" {
				h, err := hex.DecodeString(modelHash)
				if err != nil || len(h) != 32 {
					return fmt.Errorf("--model-hash %q: want 32 bytes of hex (SHA-256)", modelHash)
				}
				req.ModelHash = h
			}
			cl, err := service.DialService(args[0], pol, req)
			if err != nil {
				return err
			}
			defer cl.Close()
			cl.Timeout = timeout
			st := cl.Statement
			info := cmd.OutOrStdout()
			if asJSON {
				info = cmd.ErrOrStderr()
			}
			fmt.Fprintf(info, "attested T: %s evidence, measurement %x, debug %v, TCB %#016x\n", cl.Claims.Format, cl.Claims.Measurement, cl.Claims.Debug, cl.Claims.TCB)
			if req.ModelHash == nil {
				fmt.Fprintf(info, "T runs model %s, M = %x (not pinned: pass --model-hash %x to require it)\n", st.Name, st.Model, st.Model)
			} else {
				fmt.Fprintf(info, "T runs model %s, M = %x (pinned)\n", st.Name, st.Model)
			}
			fmt.Fprintf(info, "mode %s, p = %d, l_x = %d, l_w = %d\n", st.ModeString(), st.P, st.Lx, st.Lw)
			ex, err := df.loadExamples(df.spec, n, st.Input, st.InputLayout())
			if err != nil {
				return err
			}
			xs := make([][]float32, len(ex))
			for i, e := range ex {
				xs[i] = e.Input
			}
			start := time.Now()
			rs, err := cl.InferAll(xs)
			if err != nil {
				return err
			}
			secs := time.Since(start).Seconds()
			var preds, labels []int
			var outputs [][]int64
			var values [][]float64
			var errs []string
			correct, labelled := 0, 0
			for i, r := range rs {
				pred := -1
				if r.Err != nil {
					errs = append(errs, fmt.Sprintf("image %d: %v", i, r.Err))
				} else {
					pred = slalom.ArgMax(r.Logits)
				}
				preds, labels, outputs = append(preds, pred), append(labels, ex[i].Label), append(outputs, r.Logits)
				values = append(values, st.Values(r.Logits))
				if ex[i].Label >= 0 {
					labelled++
					if pred == ex[i].Label {
						correct++
					}
				}
				if !asJSON && len(rs) <= 20 {
					if r.Err != nil {
						fmt.Fprintf(cmd.OutOrStdout(), "image %d: refused: %v\n", i, r.Err)
					} else {
						fmt.Fprintf(cmd.OutOrStdout(), "image %d: class %d (label %d)\n", i, pred, ex[i].Label)
					}
				}
			}
			if asJSON {
				res := map[string]any{"model": st.Name, "model_hash": hex.EncodeToString(st.Model[:]), "mode": st.Mode().String(),
					"p": st.P, "k": st.K, "l_x": st.Lx, "l_w": st.Lw, "out_scale": st.OutScale,
					"attestation": map[string]any{"format": cl.Claims.Format, "measurement": hex.EncodeToString(cl.Claims.Measurement),
						"debug": cl.Claims.Debug, "tcb": cl.Claims.TCB, "signer": cl.Claims.Signer},
					"n": len(rs), "predictions": preds, "labels": labels, "outputs": outputs, "values": values, "post": st.Post, "refused": len(errs), "seconds": secs}
				if st.Verify {
					res["check"] = st.Check.String()
				}
				if len(errs) > 0 {
					res["errors"] = errs
				}
				if labelled > 0 {
					res["accuracy"] = float64(correct) / float64(labelled)
				}
				if err := json.NewEncoder(cmd.OutOrStdout()).Encode(res); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "%d images answered by T", len(rs)-len(errs))
				if labelled > 0 {
					fmt.Fprintf(cmd.OutOrStdout(), ", top-1 %.2f%%", 100*float64(correct)/float64(labelled))
				}
				fmt.Fprintf(cmd.OutOrStdout(), " (%.2f s)\n", secs)
			}
			if len(errs) > 0 {
				return fmt.Errorf("T refused %d of %d images (%s)", len(errs), len(rs), errs[0])
			}
			return nil
		},
	}
	df.register(c, "labelled images to send (shaped as T's statement says)")
	fl := c.Flags()
	fl.StringVar(&policyFile, "policy", "", "attestation policy (JSON, attest.ParsePolicy form) T's evidence must meet")
	fl.StringVar(&modelHash, "model-hash", "", "pin T's model hash M (hex SHA-256 of the quantized model)")
	fl.BoolVar(&reqVerify, "require-verify", false, "refuse T unless it checks every layer with Freivalds' algorithm")
	fl.BoolVar(&reqBlind, "require-blind", false, "refuse T unless it blinds every layer's input")
	fl.IntVarP(&n, "n", "n", 20, "number of images")
	fl.BoolVar(&asJSON, "json", false, "print one JSON object (with every output's logits)")
	fl.DurationVar(&timeout, "timeout", service.DefaultClientTimeout, "give up on T when it sends nothing, neither an answer nor a heartbeat, for this long (0: wait forever)")
	return c
}
