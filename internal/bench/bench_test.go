package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"veil/data"
	"veil/fixed"
	"veil/internal/testmodel"
	"veil/ir"
	"veil/model"
	"veil/mpc"
	"veil/mpc/aramis"
	_ "veil/mpc/porthos" // the 3pc backend
	"veil/mpc/session"
	"veil/mpc/transport"
)

// TestMain lets the test binary act as a party process (a small veil
// party), so that Run starts real processes: PARTY_MODE=run runs the
// party; fail, garbage and short misbehave as a broken party would.
func TestMain(m *testing.M) {
	if mode := os.Getenv("PARTY_MODE"); mode != "" {
		if err := party(mode, os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "party:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func party(mode string, args []string) error {
	fs := flag.NewFlagSet("party", flag.ContinueOnError)
	role := fs.String("role", "", "")
	cfgPath := fs.String("config", "", "")
	progPath := fs.String("program", "", "")
	input := fs.String("input", "", "")
	repeat := fs.Int("repeat", 1, "")
	malicious := fs.Bool("malicious", false, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch mode {
	case "fail":
		return errors.New("refusing to run")
	case "garbage":
		fmt.Println("not a report")
		return nil
	case "short":
		return json.NewEncoder(os.Stdout).Encode(session.PartyReport{Role: *role, N: 1})
	}
	me, err := mpc.ParseRole(*role)
	if err != nil {
		return err
	}
	cfg, err := transport.LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	id, err := cfg.Identity(me, "")
	if err != nil {
		return err
	}
	pc := session.PartyConfig{Me: me, Transport: cfg, Identity: id}
	if *progPath != "" {
		if pc.Program, err = fixed.ReadFile(*progPath); err != nil {
			return err
		}
	}
	if *input != "" {
		x, err := data.ReadFloat32s(*input)
		if err != nil {
			return err
		}
		for range *repeat {
			pc.Data = append(pc.Data, x)
		}
	}
	if *malicious {
		if pc.Aramis, err = aramis.ParseSettings(cfg.Attestation, cfg.Dir); err != nil {
			return err
		}
	}
	rep, err := session.RunParty(context.Background(), pc)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// command starts this test binary as the party, in mode.
func command(mode string) Command {
	return func(p Party) *exec.Cmd {
		args := []string{"--role", p.Role.Role(), "--config", p.Config}
		if p.Program != "" {
			args = append(args, "--program", p.Program)
		}
		if p.Input != "" {
			args = append(args, "--input", p.Input, "--repeat", fmt.Sprint(p.Repeat))
		}
		if p.Malicious {
			args = append(args, "--malicious")
		}
		c := exec.Command(os.Args[0], args...)
		c.Env = append(os.Environ(), "PARTY_MODE="+mode)
		return c
	}
}

func lenet() (*ir.Graph, error) {
	return model.Load(testmodel.Path("models/fashion_lenet.onnx"), model.Options{})
}

// TestRun measures LeNet with the parties as processes, semi-honest and
// under Aramis, for one and for two inferences: the secure output is
// verified, the figures are per inference and add up, and the progress
// hooks run once.
func TestRun(t *testing.T) {
	for _, c := range []struct {
		inferences int
		malicious  bool
	}{{1, false}, {2, false}, {1, true}} {
		t.Run(fmt.Sprintf("n=%d,malicious=%v", c.inferences, c.malicious), func(t *testing.T) {
			started, ended := 0, 0
			r := Runner{Command: command("run"), Progress: func(name string) func() {
				if name != "lenet" {
					t.Errorf("progress for %q", name)
				}
				started++
				return func() { ended++ }
			}}
			spec := Spec{Name: "lenet", Load: lenet, Scale: 12, Inferences: c.inferences, Seed: 1, Malicious: c.malicious,
				Session: session.Options{Backend: "3pc", BackendOptions: mpc.Options{"compare": "fast"}}}
			res, err := r.Run(spec)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Verified || res.VerifyProblem != "" || res.Inferences != c.inferences || res.Malicious != c.malicious ||
				res.Network != "lenet" || res.Backend != "3pc" || res.Compare != "fast" || res.Scale != 12 {
				t.Errorf("result %+v", res)
			}
			if res.ReluCount != 1780 || res.Comparisons != 6508 || res.Params == 0 || res.MACs == 0 || res.CompileS <= 0 {
				t.Errorf("program figures %+v", res)
			}
			var sum int64
			for _, b := range res.BytesSent {
				sum += b
			}
			if len(res.BytesSent) != 3 || len(res.CPUS) != 3 || len(res.PeakRSSParty) != 3 || sum < res.BytesTotal-3 || sum > res.BytesTotal ||
				res.Rounds == 0 || res.WallS <= 0 || res.MsPerInference <= 0 || res.BytesPerRelu != float64(res.BytesTotal)/6508 {
				t.Errorf("session figures %+v", res)
			}
			if started != 1 || ended != 1 {
				t.Errorf("progress started %d times, ended %d", started, ended)
			}
		})
	}
}

// TestRunFails: a party that fails, prints no report, or returns the
// wrong number of outputs makes Run fail, saying which and why.
func TestRunFails(t *testing.T) {
	spec := Spec{Name: "lenet", Load: lenet, Scale: 12}
	for _, c := range []struct {
		name, mode string
		spec       Spec
		want       []string
	}{
		{"a party fails", "fail", spec, []string{"P0 (client): exit status 1: party: refusing to run", "P1 (server)", "P2 (helper)"}},
		{"no report", "garbage", spec, []string{`P0 (client) printed "not a report\n"`}},
		{"too few outputs", "short", spec, []string{"the client returned 0 outputs for 1 inferences"}},
		{"no network", "run", Spec{Name: "x", Load: func() (*ir.Graph, error) { return nil, errors.New("no such network") }}, []string{"no such network"}},
		{"unknown backend", "run", Spec{Name: "lenet", Load: lenet, Session: session.Options{Backend: "4pc"}}, []string{"4pc"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Runner{Command: command(c.mode)}.Run(c.spec)
			if err == nil {
				t.Fatal("Run succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestFill: per-inference figures from the parties' reports.
func TestFill(t *testing.T) {
	reports := []session.PartyReport{
		{WallS: 2, MsMedian: 7, Rounds: 40, BytesSent: 100, CPUSeconds: 1, PeakRSS: 10, Predictions: make([]session.Prediction, 4)},
		{BytesSent: 300, CPUSeconds: 2, PeakRSS: 30},
		{BytesSent: 1, CPUSeconds: 0.5, PeakRSS: 20},
	}
	res := &Result{Comparisons: 10}
	if err := res.fill(reports, 4); err != nil {
		t.Fatal(err)
	}
	want := Result{Comparisons: 10, CPUS: []float64{0.25, 0.5, 0.125}, BytesSent: []int64{25, 75, 0}, BytesTotal: 100, PeakRSS: 30,
		PeakRSSParty: []int64{10, 30, 20}, WallS: 2, MsPerInference: 7, Inferences: 4, Rounds: 10, BytesPerRelu: 10}
	if fmt.Sprint(*res) != fmt.Sprint(want) {
		t.Errorf("fill:\n%+v, want\n%+v", *res, want)
	}
	if err := (&Result{}).fill(reports, 3); err == nil || !strings.Contains(err.Error(), "4 outputs for 3 inferences") {
		t.Errorf("four outputs for three inferences: %v", err)
	}
}

// TestInput: the same seed gives the same input, another seed another;
// values lie in [0, 1).
func TestInput(t *testing.T) {
	p := testmodel.Program(t, "fashion_lenet", 12)
	a, b, c := Input(p, 1), Input(p, 1), Input(p, 2)
	if len(a) != p.InputShape().Size() || fmt.Sprint(a) != fmt.Sprint(b) || fmt.Sprint(a) == fmt.Sprint(c) {
		t.Fatalf("inputs of %d values; seed 1 twice equal: %v; seeds 1 and 2 differ: %v", len(a), fmt.Sprint(a) == fmt.Sprint(b), fmt.Sprint(a) != fmt.Sprint(c))
	}
	for _, v := range a {
		if v < 0 || v >= 1 {
			t.Fatalf("value %v", v)
		}
	}
}
