package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"veil/internal/bench"
	"veil/ir"
	"veil/zoo"
)

func benchCmd() *cobra.Command {
	var (
		asJSON   bool
		markdown bool
		seed     uint64
		scale    int
		repeat   int
		batch    int
		chart    string
		mf       modelFlags
		mal      maliciousFlags
		backend  string
		profiles string
		netns    string
		latency  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "bench [NETWORK|MODEL...]",
		Short: "Measure secure inference: time, CPU, bytes, rounds and memory per party",
		Long: `bench compiles each network (a zoo name, or a model file) and runs one inference
through a secure backend (--backend: 3pc, Porthos with the client, the
server and the helper; 2pc, the client and the server alone), each party a
process of this program on loopback TLS. It reports wall
time, each party's CPU time, bytes and peak memory, rounds, the ReLU and
comparison counts, and whether the secure output matched the cleartext
fixed-point executor (same top-1, every logit within the propagated
truncation bound). With no arguments it runs the bundled Fashion-MNIST LeNet,
embedded in veil, so from any directory; a MODEL path is read from disk.
With --malicious the parties run Aramis (attested evidence, every message
authenticated, numbered and chained; see veil party --malicious).

Zoo networks (seeded random weights; their cost does not depend on them):
` + strings.Join(zoo.Names(), ", ") + `.

The ResNet scaling run (the paper's Figure 10):
  veil bench --chart scaling.png resnet18 resnet34 resnet50 resnet101 resnet152 resnet200`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if latency < 0 {
				return fmt.Errorf("--latency %v: a latency cannot be negative", latency)
			}
			if len(args) == 0 {
				d, err := extractDemoFiles()
				if err != nil {
					return err
				}
				defer d.remove()
				args = []string{d.lenet()}
			}
			w := cmd.OutOrStdout()
			opt, err := secureOptions(backend)
			if err != nil {
				return err
			}
			if mal.on {
				if err := mal.loopback(cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			if profiles != "" {
				if err := os.MkdirAll(profiles, 0o755); err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
			}
			pr := newProgress(cmd.ErrOrStderr(), asJSON)
			var results []bench.Result
			for _, name := range args {
				// One spinner per network, from its start-up (building,
				// compiling, starting the parties) to the parties' end.
				short := strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
				b := pr.spin(short + ": compiling")
				command := partyProcess
				if profiles != "" {
					command = profiledPartyProcess(profiles, short)
				}
				if latency > 0 {
					command = withLatency(latency, command)
				}
				var addrs []string
				if netns != "" {
					command, addrs = inNetns(netns, command), netnsAddrs
				}
				runner := bench.Runner{Command: command, Addrs: addrs, Progress: func(network string) func() {
					b.describe(network + ": secure inference")
					return func() {}
				}}
				r, err := runner.Run(bench.Spec{
					Name:       short,
					Load:       func() (*ir.Graph, error) { return benchBatch(&mf, name, seed, batch) },
					Scale:      scale,
					Session:    opt,
					Inferences: repeat,
					Batch:      batch,
					Seed:       seed,
					Malicious:  mal.on,
				})
				b.done()
				if err != nil {
					return fmt.Errorf("bench %s: %w", name, err)
				}
				r.LatencyMs = float64(latency.Microseconds()) / 1000
				results = append(results, *r)
				if asJSON {
					if err := json.NewEncoder(w).Encode(r); err != nil {
						return err
					}
				}
			}
			switch {
			case asJSON:
			case markdown:
				printBenchMarkdown(w, results)
			default:
				printBenchTable(w, results)
			}
			if chart != "" {
				if err := writeScalingChart(chart, results); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", chart)
			}
			for _, r := range results {
				if !r.Verified {
					return fmt.Errorf("%s: the secure output did not match the cleartext executor: %s", r.Network, r.VerifyProblem)
				}
			}
			return nil
		},
	}
	mf.register(cmd)
	mal.register(cmd.Flags())
	backendFlag(cmd, &backend)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per network")
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print a markdown table")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the random weights (zoo networks) and the random input")
	cmd.Flags().IntVar(&scale, "scale", defaultScale, "fixed-point scale")
	cmd.Flags().IntVarP(&repeat, "inferences", "n", 1, "inferences per network in one session (bytes, rounds and CPU are reported per inference, time as the median online time plus the offline time per inference)")
	cmd.Flags().IntVar(&batch, "batch", 1, "examples per inference: the network built for a batch of this many (time is per inference, throughput per example)")
	cmd.Flags().StringVar(&netns, "netns", "", "run each party in network namespace PREFIX-ROLE, as scripts/netns up makes them (root; the parties at 10.77.0.1-3)")
	cmd.Flags().DurationVar(&latency, "latency", 0, "add this one-way latency to every link (each party holds what it receives this long: veil party --emulate-latency), as on a wide-area network; with --netns for a rate as well")
	cmd.Flags().StringVar(&profiles, "cpuprofile", "", "write each party's CPU profile to this directory, as NETWORK-ROLE.prof (go tool pprof reads them)")
	cmd.Flags().StringVar(&chart, "chart", "", "write a PNG of time and communication against depth (for a scaling run such as resnet18 … resnet200)")
	return cmd
}

// benchNetwork builds (zoo) or loads (model file) the named network.
func benchNetwork(mf *modelFlags, name string, seed uint64) (*ir.Graph, error) {
	if _, err := os.Stat(name); err == nil {
		g, _, err := mf.load(name)
		return g, err
	}
	return buildZoo(name, seed)
}

// benchBatch is benchNetwork built for a batch of n examples.
func benchBatch(mf *modelFlags, name string, seed uint64, n int) (*ir.Graph, error) {
	g, err := benchNetwork(mf, name, seed)
	if err != nil {
		return nil, err
	}
	return g.WithBatch(n)
}

// partyProcess is the veil party process of one party of veil bench
// (this executable, or the test binary acting as it).
func partyProcess(p bench.Party) *exec.Cmd {
	args := []string{"party", "--compare=" + compareFlag, "--backend", p.Session.Backend, "--role", p.Role.Role(), "--config", p.Config, "--json"}
	for _, k := range slices.Sorted(maps.Keys(p.Session.BackendOptions)) {
		if k != "compare" { // --compare above
			args = append(args, "--backend-option", k+"="+p.Session.BackendOptions[k])
		}
	}
	if p.Input != "" {
		args = append(args, "--input-raw", p.Input, "--repeat", fmt.Sprint(p.Repeat))
	}
	if p.Program != "" {
		args = append(args, "--program", p.Program)
	}
	if p.Malicious {
		args = append(args, "--malicious", "--insecure-simulated-attestation")
	}
	exe, _ := os.Executable() // "" fails to start, with the error
	c := exec.Command(exe, args...)
	c.Env = append(os.Environ(), "VEIL_TEST_AS_COMMAND=1")
	return c
}

// profiledPartyProcess is partyProcess with each party writing its CPU
// profile to dir/network-role.prof.
func profiledPartyProcess(dir, network string) bench.Command {
	return func(p bench.Party) *exec.Cmd {
		c := partyProcess(p)
		c.Args = append(c.Args, "--cpuprofile", filepath.Join(dir, network+"-"+p.Role.Role()+".prof"))
		return c
	}
}

// withLatency is command with each party holding every message it
// receives d after its arrival (veil party --emulate-latency).
func withLatency(d time.Duration, command bench.Command) bench.Command {
	return func(p bench.Party) *exec.Cmd {
		c := command(p)
		c.Args = append(c.Args, "--emulate-latency", d.String())
		return c
	}
}

// netnsAddrs are the parties' addresses in the namespaces scripts/netns
// makes: the server at 10.77.0.2 and the helper at 10.77.0.3, on the
// ports veil keygen --host uses.
var netnsAddrs = []string{"", "10.77.0.2:7101", "10.77.0.3:7102"}

// inNetns runs each party's process of command in the network
// namespace prefix-ROLE (ip netns exec).
func inNetns(prefix string, command bench.Command) bench.Command {
	return func(p bench.Party) *exec.Cmd {
		c := command(p)
		args := append([]string{"netns", "exec", prefix + "-" + p.Role.Role()}, c.Args...)
		n := exec.Command("ip", args...)
		n.Env = c.Env
		return n
	}
}

func printBenchTable(w io.Writer, rs []bench.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "network\tbatch\tms/inference\texamples/s\toffline ms\tCPU s P0/P1/…\tsent P0/P1/…\ttotal\toffline\trounds\tpeak RSS\tReLUs\tcomparisons\tB/cmp\tverified\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%d\t%.0f\t%v\t\n", r.Network, r.Batch, r.MsPerInference, r.ExamplesPerS, offlineMs(r),
			perParty(r.CPUS, "/", func(v float64) string { return fmt.Sprintf("%.2f", v) }), perParty(r.BytesSent, "/", ir.FormatBytes),
			ir.FormatBytes(r.BytesTotal), offlineBytes(r), r.Rounds, ir.FormatBytes(r.PeakRSS), r.ReluCount, r.Comparisons, r.BytesPerRelu, r.Verified)
	}
	tw.Flush()
}

// offlineMs and offlineBytes format the offline phase's part of an
// inference ("—" for a backend without one).
func offlineMs(r bench.Result) string {
	if r.OfflineMs == 0 && r.OfflineBytes == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f", r.OfflineMs)
}

func offlineBytes(r bench.Result) string {
	if r.OfflineMs == 0 && r.OfflineBytes == 0 {
		return "—"
	}
	return ir.FormatBytes(r.OfflineBytes)
}

func printBenchMarkdown(w io.Writer, rs []bench.Result) {
	fmt.Fprintln(w, "| network | batch | time per inference (offline part) | examples/s | CPU s P0 / P1 / … | total bytes (offline part) | rounds | peak RSS (max party) | ReLUs | comparisons | bytes/comparison | verified |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		t, b := fmtMs(r.MsPerInference), ir.FormatBytes(r.BytesTotal)
		if r.OfflineMs != 0 || r.OfflineBytes != 0 {
			t += " (" + fmtMs(r.OfflineMs) + ")"
			b += " (" + ir.FormatBytes(r.OfflineBytes) + ")"
		}
		fmt.Fprintf(w, "| %s | %d | %s | %.1f | %s | %s | %d | %s | %d | %d | %.0f | %v |\n", r.Network, r.Batch, t, r.ExamplesPerS, perParty(r.CPUS, " / ", func(v float64) string { return fmt.Sprintf("%.2f", v) }),
			b, r.Rounds, ir.FormatBytes(r.PeakRSS), r.ReluCount, r.Comparisons, r.BytesPerRelu, r.Verified)
	}
}

func fmtMs(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.2f s", ms/1000)
	}
	return fmt.Sprintf("%.1f ms", ms)
}

// perParty formats one value per party, joined by sep.
func perParty[T any](vs []T, sep string, f func(T) string) string {
	ss := make([]string, len(vs))
	for i, v := range vs {
		ss[i] = f(v)
	}
	return strings.Join(ss, sep)
}
