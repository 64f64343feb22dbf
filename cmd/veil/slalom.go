package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"veil/ir"
	"veil/slalom"
	"veil/slalom/device"
	"veil/zoo"
)

// slalomCmd is `veil slalom`: the trusted executor T outsourcing every
// linear layer to an untrusted device D in another process (Slalom).
func slalomCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "slalom",
		Short: "Slalom: a trusted executor outsourcing linear layers to a verified, blinded device",
		Long: `Slalom (Tramèr & Boneh, ICLR 2019): the trusted executor T quantizes the network
into Z_p (p = 2^24 − 3), runs every non-linear step itself and sends each
linear layer to an untrusted device D (a separate process; a TLS 1.3
handshake with pinned Ed25519 keys, then frames sealed with AES-256-GCM under
keys exported from it). --verify checks every answer with Freivalds' algorithm
(k = 2, soundness 2^-48 per layer); --blind sends only X + R mod p, with
U = f(R) precomputed by T and sealed with AES-GCM. See slalom/README.md.`,
	}
	c.AddCommand(slalomKeygenCmd(), slalomDeviceCmd(), slalomRunCmd(), slalomBenchCmd(), slalomServeCmd(), slalomClientCmd())
	return c
}

func slalomKeygenCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "keygen --dir DIR",
		Short: "make Ed25519 identities for T and D (DIR/{trusted,device}.{key,pub}); never replaces keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Nothing is written if any of the four files is there.
			for _, f := range []string{"trusted.key", "trusted.pub", "device.key", "device.pub"} {
				if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
					return fmt.Errorf("%s already exists: keys are never replaced (remove the old ones first)", filepath.Join(dir, f))
				}
			}
			for _, name := range []string{"trusted", "device"} {
				id, err := device.NewIdentity(name)
				if err != nil {
					return err
				}
				if err := id.Save(dir, name); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s/{trusted,device}.{key,pub}\n", dir)
			return nil
		},
	}
	c.Flags().StringVar(&dir, "dir", "slalom-keys", "directory for the keys")
	return c
}

func slalomDeviceCmd() *cobra.Command {
	var listen, keys string
	var idle time.Duration
	c := &cobra.Command{
		Use:   "device --listen ADDR --keys DIR",
		Short: "run the untrusted device worker D (accepts only T's pinned key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, err := device.LoadIdentity(keys, "device")
			if err != nil {
				return err
			}
			peer, err := device.LoadPublic(keys, "trusted")
			if err != nil {
				return err
			}
			ln, err := device.Listen(listen, id, peer)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "slalom device listening on %s\n", ln.Addr())
			d := &device.Device{CPUSeconds: slalom.ProcessCPU, IdleTimeout: idle}
			return d.ServeListener(ln, func(f string, a ...any) { fmt.Fprintf(cmd.ErrOrStderr(), "slalom device: "+f+"\n", a...) })
		},
	}
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "address to listen on")
	c.Flags().StringVar(&keys, "keys", "slalom-keys", "directory with device.key and trusted.pub")
	c.Flags().DurationVar(&idle, "idle-timeout", device.DefaultDeviceIdleTimeout, "give up on a T that sends nothing, not even a heartbeat (every "+device.HeartbeatInterval.String()+"), for this long")
	return c
}

// slalomFlags are shared by run and bench.
type slalomFlags struct {
	verify, blind bool
	check         string
	device, keys  string
	lx, lw        int
	seed          uint64
	deviceCPU     string
	mf            modelFlags
}

func (f *slalomFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.BoolVar(&f.verify, "verify", false, "check every linear layer with Freivalds' algorithm")
	fl.BoolVar(&f.blind, "blind", false, "blind every linear layer's input (X + R mod p; U = f(R) sealed offline)")
	fl.StringVar(&f.check, "check", "preprocessed", "Freivalds variant: preprocessed (secret s, s̃ = f^T(s) per epoch), structured (s = r_ch⊗r_sp) or fly (fresh r per convolution)")
	fl.StringVar(&f.device, "device", "", "address of a running device (veil slalom device); default: start one as a child process")
	fl.StringVar(&f.keys, "keys", "slalom-keys", "with --device: directory with trusted.key and device.pub")
	fl.IntVar(&f.lx, "lx", 0, "activation scale l_x (0: automatic)")
	fl.IntVar(&f.lw, "lw", 0, "weight scale l_w (0: automatic)")
	fl.Uint64Var(&f.seed, "seed", 1, "weight seed for zoo networks")
	fl.StringVar(&f.deviceCPU, "device-cpus", "1", "with a child device: CPU list to pin it to with taskset (\"\" for none)")
	f.mf.register(c)
}

func (f *slalomFlags) mode() (slalom.Mode, error) {
	m := slalom.Mode{Verify: f.verify, Blind: f.blind}
	switch f.check {
	case "preprocessed", "pre":
	case "fly", "on-the-fly":
		m.Check = slalom.OnTheFly
	case "structured":
		m.Check = slalom.Structured
	default:
		return m, fmt.Errorf("--check %q: want preprocessed, structured or fly", f.check)
	}
	return m, nil
}

// slalomModel loads a model file, or builds a zoo network by name
// (mobilenetv1 included), optimized; an NHWC (TensorFlow) model is
// converted to NCHW (ir.ToNCHW), Slalom's layout, and takes NCHW inputs.
func slalomModel(f *slalomFlags, name string) (*ir.Graph, string, error) {
	if _, err := os.Stat(name); err == nil {
		g, _, err := f.mf.load(name)
		if err != nil {
			return nil, "", err
		}
		if g, err = ir.ToNCHW(g); err != nil {
			return nil, "", fmt.Errorf("%s: converting to NCHW for Slalom: %w", name, err)
		}
		return g, "", err
	}
	var nw zoo.Network
	switch {
	case strings.EqualFold(name, "mobilenetv1") || strings.EqualFold(name, "mobilenet"):
		nw = zoo.MobileNetV1Network
	case strings.EqualFold(name, "mobilenetv1-sep"):
		nw = zoo.MobileNetV1SepNetwork
	default:
		var err error
		if nw, err = zoo.Lookup(name); err != nil {
			return nil, "", fmt.Errorf("%s is neither a model file nor a zoo network: %w", name, err)
		}
	}
	g, err := nw.Build(f.seed)
	if err != nil {
		return nil, "", err
	}
	if _, err := ir.Optimize(g); err != nil {
		return nil, "", err
	}
	return g, nw.Paper + " (seeded random weights)", nil
}

// slalomCompile compiles at the given scales, or picks them: by agreement
// with float on val when given, else the first candidate that compiles.
func slalomCompile(f *slalomFlags, g *ir.Graph, val [][]float32) (*slalom.Program, error) {
	if f.lx > 0 || f.lw > 0 {
		return slalom.Compile(g, slalom.Options{Lx: f.lx, Lw: f.lw})
	}
	if len(val) > 0 {
		o, _, err := slalom.SelectScales(g, val)
		if err != nil {
			return nil, err
		}
		return slalom.Compile(g, o)
	}
	var last error
	for _, o := range slalom.ScaleCandidates {
		p, err := slalom.Compile(g, o)
		if err == nil {
			return p, nil
		}
		last = err
	}
	return nil, last
}

// startTrusted connects to (or starts) the device and sets T up on it,
// with the check secrets prepared and pairs sealed for offline inferences.
func startTrusted(f *slalomFlags, p *slalom.Program, mode slalom.Mode, stderr io.Writer, offline int) (*slalom.Trusted, func(), error) {
	dev, closeDev, err := connectDevice(f, stderr)
	if err != nil {
		return nil, nil, err
	}
	t, err := slalom.NewTrusted(p, mode, dev, nil)
	if err != nil {
		closeDev()
		return nil, nil, err
	}
	t.Prepare()
	t.Offline(offline)
	return t, closeDev, nil
}

// valInputs loads up to 100 validation inputs from val (none if val is
// empty) for choosing the scales.
func valInputs(df dataFlags, val string, g *ir.Graph) ([][]float32, error) {
	if val == "" {
		return nil, nil
	}
	shape, err := g.InputShape()
	if err != nil {
		return nil, err
	}
	ex, err := df.loadExamples(val, 100, shape, g.Layout)
	if err != nil {
		return nil, err
	}
	var vx [][]float32
	for _, e := range ex {
		vx = append(vx, e.Input)
	}
	return vx, nil
}

// connectDevice dials --device, or starts a device child process with
// fresh keys and dials it. close ends the connection (and the child).
func connectDevice(f *slalomFlags, stderr io.Writer) (*device.Remote, func(), error) {
	keys := f.keys
	var child *exec.Cmd
	addr := f.device
	cleanup := func() {}
	if addr == "" {
		dir, err := os.MkdirTemp("", "veil-slalom-keys")
		if err != nil {
			return nil, nil, err
		}
		for _, name := range []string{"trusted", "device"} {
			id, err := device.NewIdentity(name)
			if err != nil {
				return nil, nil, err
			}
			if err := id.Save(dir, name); err != nil {
				return nil, nil, err
			}
		}
		keys = dir
		exe, err := os.Executable()
		if err != nil {
			return nil, nil, err
		}
		args := []string{exe, "slalom", "device", "--listen", "127.0.0.1:0", "--keys", dir}
		if f.deviceCPU != "" {
			if ts, err := exec.LookPath("taskset"); err == nil {
				args = append([]string{ts, "-c", f.deviceCPU}, args...)
			}
		}
		child = exec.Command(args[0], args[1:]...)
		child.Env = append(os.Environ(), "VEIL_TEST_AS_COMMAND=1", "GOMAXPROCS=1")
		child.Stderr = stderr
		out, err := child.StdoutPipe()
		if err != nil {
			return nil, nil, err
		}
		if err := child.Start(); err != nil {
			return nil, nil, err
		}
		cleanup = func() {
			child.Process.Kill()
			child.Wait()
			os.RemoveAll(dir)
		}
		// The child prints its address first; one that hangs before it
		// is given up on (and killed) rather than waited for forever.
		type lineErr struct {
			line string
			err  error
		}
		first := make(chan lineErr, 1)
		go func() {
			line, err := bufio.NewReader(out).ReadString('\n')
			first <- lineErr{line, err}
		}()
		var line string
		select {
		case r := <-first:
			if r.err != nil {
				cleanup()
				return nil, nil, fmt.Errorf("device process: %v", r.err)
			}
			line = r.line
		case <-time.After(device.HandshakeTimeout):
			cleanup()
			return nil, nil, fmt.Errorf("device process: no address printed within %v", device.HandshakeTimeout)
		}
		go io.Copy(io.Discard, out)
		i := strings.LastIndex(line, " ")
		addr = strings.TrimSpace(line[i+1:])
	}
	id, err := device.LoadIdentity(keys, "trusted")
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	peer, err := device.LoadPublic(keys, "device")
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	c, nc, err := device.Dial(addr, id, peer)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return &device.Remote{C: c}, func() { nc.Close(); cleanup() }, nil
}

func slalomRunCmd() *cobra.Command {
	var f slalomFlags
	var df dataFlags
	var val string
	var n int
	var asJSON bool
	c := &cobra.Command{
		Use:   "run MODEL [--verify] [--blind] [--device ADDR] [--data D]",
		Short: "run inferences through T and D and compare every output with the cleartext quantized reference",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mode, err := f.mode()
			if err != nil {
				return err
			}
			g, variant, err := slalomModel(&f, args[0])
			if err != nil {
				return err
			}
			shape, err := g.InputShape()
			if err != nil {
				return err
			}
			var xs [][]float32
			var labels []int
			if df.spec != "" {
				ex, err := df.loadExamples(df.spec, n, shape, g.Layout)
				if err != nil {
					return err
				}
				for _, e := range ex {
					xs, labels = append(xs, e.Input), append(labels, e.Label)
				}
			} else {
				rng := rand.New(rand.NewPCG(f.seed, 99))
				for i := 0; i < max(n, 1); i++ {
					x := make([]float32, shape.Size())
					for j := range x {
						x[j] = rng.Float32()
					}
					xs, labels = append(xs, x), append(labels, -1)
				}
			}
			vx, err := valInputs(df, val, g)
			if err != nil {
				return err
			}
			p, err := slalomCompile(&f, g, vx)
			if err != nil {
				return err
			}
			t, closeDev, err := startTrusted(&f, p, mode, os.Stderr, len(xs))
			if err != nil {
				return err
			}
			defer closeDev()
			start := time.Now()
			var correct, labelled, same int
			for i, x := range xs {
				out, err := t.Infer(x)
				if err != nil {
					return fmt.Errorf("image %d: %w", i, err)
				}
				want, err := p.Oracle(x)
				if err != nil {
					return err
				}
				if slices.Equal(out, want) {
					same++
				}
				if labels[i] >= 0 {
					labelled++
					if slalom.ArgMax(out) == labels[i] {
						correct++
					}
				}
				if !asJSON && len(xs) <= 20 {
					fmt.Fprintf(cmd.OutOrStdout(), "image %d: class %d (label %d), equals the quantized reference: %v\n", i, slalom.ArgMax(out), labels[i], slices.Equal(out, want))
				}
			}
			res := map[string]any{"model": p.Name, "mode": mode.String(), "n": len(xs), "equal_to_reference": same,
				"l_x": p.Lx, "l_w": p.Lw, "seconds": time.Since(start).Seconds(), "verified": same == len(xs)}
			if variant != "" {
				res["variant"] = variant
			}
			if mode.Verify {
				res["check"] = mode.Check.String()
			}
			if labelled > 0 {
				res["accuracy"] = float64(correct) / float64(labelled)
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s, %s: %d/%d outputs equal the cleartext quantized reference", p.Name, mode, same, len(xs))
			if labelled > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), ", top-1 %.2f%%", 100*float64(correct)/float64(labelled))
			}
			fmt.Fprintf(cmd.OutOrStdout(), " (%.2f s)\n", time.Since(start).Seconds())
			if same != len(xs) {
				return fmt.Errorf("%d outputs differ from the reference", len(xs)-same)
			}
			return nil
		},
	}
	f.register(c)
	df.register(c, "labelled images to run (default: random inputs)")
	c.Flags().StringVar(&val, "val", "", "labelled validation images for choosing the scales (default: l_x = l_w = 8, lowered if the range bound fails)")
	c.Flags().IntVarP(&n, "n", "n", 20, "number of images")
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return c
}

func slalomBenchCmd() *cobra.Command {
	var f slalomFlags
	var runs, threads int
	var asJSON, quiet bool
	var profile string
	c := &cobra.Command{
		Use:   "bench MODEL [--verify] [--blind] [--device ADDR] [--json]",
		Short: "T's CPU time with outsourcing against T computing every layer itself, in one run",
		Long: `bench measures, in one process and run, the trusted side's CPU time
(getrusage of T's process) per inference when it computes every layer itself
(the baseline, same field kernels) and when it outsources the linear layers
to D (a separate process, pinned with taskset to --device-cpus), plus the
offline costs: s̃ per key epoch (--verify) and R, U = f(R) and sealing per
pair (--blind). MODEL is a model file or a zoo network (vgg16, mobilenetv1,
mobilenetv2, ...). The input is a seeded random image.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mode, err := f.mode()
			if err != nil {
				return err
			}
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
			g, variant, err := slalomModel(&f, args[0])
			if err != nil {
				return err
			}
			shape, err := g.InputShape()
			if err != nil {
				return err
			}
			p, err := slalomCompile(&f, g, nil)
			if err != nil {
				return err
			}
			g = nil
			runtime.GC()
			x := make([]float32, shape.Size())
			rng := rand.New(rand.NewPCG(f.seed, 7))
			for i := range x {
				x[i] = rng.Float32()
			}
			dev, closeDev, err := connectDevice(&f, os.Stderr)
			if err != nil {
				return err
			}
			defer closeDev()
			logf := func(s string, a ...any) {
				if !quiet {
					fmt.Fprintf(cmd.ErrOrStderr(), s+"\n", a...)
				}
			}
			if profile != "" {
				pf, err := os.Create(profile)
				if err != nil {
					return err
				}
				slalom.OnlineHook = func(start bool) {
					if start {
						pprof.StartCPUProfile(pf)
					} else {
						pprof.StopCPUProfile()
						pf.Close()
					}
				}
			}
			r, err := slalom.Bench(p, mode, dev, x, runs, logf)
			if err != nil {
				return err
			}
			r.Variant = variant
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(r)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s (%s), %s", r.Model, filepath.Base(args[0]), r.Mode)
			if r.Check != "" {
				fmt.Fprintf(w, ", %s checks", r.Check)
			}
			fmt.Fprintf(w, ": %d linear layers, %.2f G MACs, l_x=%d l_w=%d, T on %d thread(s), median of %d runs\n", r.Layers, float64(r.MACs)/1e9, r.Lx, r.Lw, r.Threads, r.Runs)
			fmt.Fprintf(w, "  baseline (T computes everything): cpu %.3f s (wall %.3f s)\n", r.BaselineCPU, r.BaseWall)
			fmt.Fprintf(w, "  outsourced: T cpu %.4f s per inference (wall %.3f s); D cpu %.3f s\n", r.TrustedCPU, r.TrustedWall, r.DeviceCPU)
			fmt.Fprintf(w, "  work ratio T_base/T_tr = %.1f×\n", r.Ratio)
			if r.PrepareCPU > 0 {
				fmt.Fprintf(w, "  offline, per key epoch (s, s̃): cpu %.3f s\n", r.PrepareCPU)
			}
			if r.OfflineCPU > 0 {
				fmt.Fprintf(w, "  offline, per inference (R, U = f(R), sealing): cpu %.3f s\n", r.OfflineCPU)
			}
			fmt.Fprintf(w, "  traffic per inference: %.1f MB to D, %.1f MB from D; outputs equal the quantized reference: %v\n", float64(r.BytesToD)/1e6, float64(r.BytesFrom)/1e6, r.Verified)
			return nil
		},
	}
	f.register(c)
	c.Flags().IntVar(&runs, "runs", 5, "measured runs after one warm-up (medians are reported)")
	c.Flags().IntVar(&threads, "threads", 1, "T's threads (GOMAXPROCS); the paper's T is single-threaded")
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress on stderr")
	c.Flags().StringVar(&profile, "cpuprofile", "", "write a CPU profile of T's online phase to this file")
	return c
}
