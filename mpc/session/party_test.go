package session

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"veil/fixed"
	"veil/fixed/fixedtest"
	"veil/mpc"
	"veil/mpc/aramis"
	"veil/mpc/mpctest"
	"veil/mpc/transport"
)

// partiesFile writes identities and a loopback parties file for n
// parties (with the simulated attestation section if malicious) and
// returns it loaded, with each party's identity.
func partiesFile(t *testing.T, n int, malicious bool) (*transport.Config, []PartyConfig) {
	t.Helper()
	dir := t.TempDir()
	for _, p := range mpc.PartiesOf(n) {
		if err := transport.GenerateIdentity(p, dir); err != nil {
			t.Fatal(err)
		}
	}
	path, err := WriteLoopbackConfig(dir, n, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if malicious {
		section, err := aramis.WriteSimulated(dir, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := aramis.AddSection(path, section); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := transport.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	pcs := make([]PartyConfig, n)
	for _, p := range mpc.PartiesOf(n) {
		id, err := cfg.Identity(p, "")
		if err != nil {
			t.Fatal(err)
		}
		pcs[p] = PartyConfig{Me: p, Transport: cfg, Identity: id, ConnectTimeout: 10 * time.Second}
	}
	return cfg, pcs
}

// TestRunParty runs the three parties as RunParty does in three
// processes, semi-honest and under Aramis: the client's report holds
// its named predictions, equal in top-1 to the cleartext executor's,
// and its accuracy; every report counts the inferences and the traffic;
// under Aramis every party names its attested peers.
func TestRunParty(t *testing.T) {
	p, xs := lenetProgram(t)
	xs = xs[:3]
	for _, malicious := range []bool{false, true} {
		t.Run(fmt.Sprintf("malicious=%v", malicious), func(t *testing.T) {
			cfg, pcs := partiesFile(t, 3, malicious)
			var settings *aramis.Settings
			if malicious {
				var err error
				if settings, err = aramis.ParseSettings(cfg.Attestation, cfg.Dir); err != nil {
					t.Fatal(err)
				}
			}
			labels := make([]int, len(xs))
			for i, x := range xs {
				y, err := p.Predict(x)
				if err != nil {
					t.Fatal(err)
				}
				labels[i] = fixed.Top1(y)
			}
			labels[2] = (labels[2] + 1) % 10 // one wrong label: accuracy 2/3
			pcs[mpc.P0].Data, pcs[mpc.P0].Names, pcs[mpc.P0].Labels = xs, []string{"a", "b", "c"}, labels
			pcs[mpc.P1].Program = p
			reports := make([]*PartyReport, 3)
			errs := mpctest.Parties(3, func(q mpc.Party) error {
				c := pcs[q]
				c.Aramis = settings
				var err error
				reports[q], err = RunParty(context.Background(), c)
				return err
			})
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			client := reports[mpc.P0]
			if len(client.Predictions) != 3 || client.Accuracy == nil || *client.Accuracy != 2.0/3 || client.Program != p.Name {
				t.Fatalf("client report %+v", client)
			}
			for i, pr := range client.Predictions {
				want := labels[i]
				if i == 2 {
					want = (labels[2] + 9) % 10
				}
				if pr.Image != []string{"a", "b", "c"}[i] || pr.Top1 != want || pr.Top1 != fixed.Top1(pr.Output) {
					t.Errorf("prediction %d: %+v, want top-1 %d", i, pr, want)
				}
			}
			for q, r := range reports {
				if r.Role != mpc.Party(q).Role() || r.N != 3 || r.BytesSent == 0 || r.BytesRecv == 0 || r.Rounds == 0 || r.Malicious != malicious ||
					(q != 0 && len(r.Predictions) != 0) || (malicious && len(r.Attested) != 2) || (!malicious && r.Attested != nil) {
					t.Errorf("%s's report %+v", mpc.Party(q), r)
				}
			}
		})
	}
}

// TestRunPartyRefuses: a configuration whose inputs do not fit its role
// is refused before connecting (no peer runs here).
func TestRunPartyRefuses(t *testing.T) {
	p, xs := lenetProgram(t)
	_, pcs := partiesFile(t, 3, false)
	inputs := func(*fixed.Program) ([][]float32, error) { return xs, nil }
	for _, c := range []struct {
		name string
		edit func(*PartyConfig)
		me   mpc.Party
		want string
	}{
		{"server without program", func(*PartyConfig) {}, mpc.P1, "the server needs its compiled program"},
		{"helper with program", func(c *PartyConfig) { c.Program = p }, mpc.P2, "only the server holds the program; the helper"},
		{"client with program", func(c *PartyConfig) { c.Program, c.Data = p, xs }, mpc.P0, "only the server holds the program; the client"},
		{"client without data", func(*PartyConfig) {}, mpc.P0, "the client needs inputs"},
		{"server with data", func(c *PartyConfig) { c.Program, c.Data = p, xs }, mpc.P1, "only the client has inputs, not the server"},
		{"helper with an input function", func(c *PartyConfig) { c.Inputs = inputs }, mpc.P2, "only the client has inputs, not the helper"},
		{"no parties file", func(c *PartyConfig) { c.Transport = nil }, mpc.P2, "no parties file"},
		{"negative latency", func(c *PartyConfig) { c.Latency = -time.Millisecond }, mpc.P2, "negative emulated latency -1ms"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pc := pcs[c.me]
			c.edit(&pc)
			start := time.Now()
			_, err := RunParty(context.Background(), pc)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("RunParty: %v, want %q", err, c.want)
			}
			if time.Since(start) > 2*time.Second {
				t.Errorf("took %v: it tried to connect", time.Since(start))
			}
		})
	}
}

// testWorkingSet is the working set of a backend registered for
// TestMemoryLimit only.
const testWorkingSet = 3 << 30

func init() {
	mpc.Register(mpc.Backend{Name: "test-working-set", Parties: 2, WorkingSet: testWorkingSet, GCPercent: 250,
		New: func(mpc.Network, mpc.Options) (mpc.Engine, error) { return nil, errors.New("not for running") }})
}

// TestMemoryLimit: the backend's working set (the default allowance
// where it names none), or liveFactor bytes per element of the program's
// working set in the clear where that is more, plus eight bytes a weight
// value.
func TestMemoryLimit(t *testing.T) {
	p, _ := lenetProgram(t)
	// A program whose working set in the clear (an input and a ReLU of 4
	// Mi elements each) needs more than the default allowance.
	const wide = 4 << 20
	w := fixedtest.ReluProgram(wide)
	if err := w.Validate(); err != nil {
		t.Fatal(err)
	}
	weights := 0
	for _, tn := range p.Tensors {
		weights += len(tn.Data)
	}
	const big = testWorkingSet
	for _, c := range []struct {
		name string
		prog *fixed.Program
		opt  Options
		want int64
	}{
		{"no program", nil, Options{}, workingSetAllowance},
		{"public program", p.Public(), Options{}, workingSetAllowance},
		{"server's program", p, Options{}, workingSetAllowance + 8*int64(weights)},
		{"backend's working set", p, Options{Backend: "test-working-set"}, big + 8*int64(weights)},
		{"wide program", w, Options{}, liveFactor * 2 * wide},
		{"wide program, backend's working set", w, Options{Backend: "test-working-set"}, big},
	} {
		if got := memoryLimit(c.prog, c.opt); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	if weights == 0 {
		t.Error("the test program has no weights")
	}
}

// TestSetMemoryLimit: the process gets the limit and the backend's GC
// target, unless the environment sets them.
func TestSetMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	SetMemoryLimit(nil, Options{Backend: "test-working-set"})
	if got := debug.SetMemoryLimit(-1); got != testWorkingSet {
		t.Errorf("memory limit %d, want %d", got, testWorkingSet)
	}
	if got := debug.SetGCPercent(100); got != 250 {
		t.Errorf("GC percent %d, want the backend's 250", got)
	}
	t.Setenv("GOGC", "150")
	SetMemoryLimit(nil, Options{Backend: "test-working-set"})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent %d with GOGC set, want it left alone (100)", got)
	}
}
