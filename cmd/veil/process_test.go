package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"veil/data"
	"veil/fixed"
	"veil/model"
)

// TestMain lets the test binary act as the veil command, so that tests
// can start parties as separate OS processes without building anything.
func TestMain(m *testing.M) {
	if os.Getenv("VEIL_TEST_AS_COMMAND") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// veilProcess starts the veil command (this test binary) as a process.
func veilProcess(t *testing.T, stdout *bytes.Buffer, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "VEIL_TEST_AS_COMMAND=1")
	cmd.Stdout, cmd.Stderr = stdout, stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// partySetup makes keys, a loopback config and a compiled LeNet program.
func partySetup(t *testing.T) (cfg, prog string) {
	t.Helper()
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	if out, err := veil(t, "keygen", "--dir", keys, "--loopback"); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	prog = filepath.Join(dir, "lenet.vp")
	if out, err := veil(t, "compile", lenet, "--scale", "12", "-o", prog); err != nil {
		t.Fatalf("compile: %v\n%s", err, out)
	}
	return filepath.Join(keys, "parties.json"), prog
}

// TestPartiesAsProcesses runs the client, the server and the helper as
// three OS processes over TLS and checks the client's secure predictions
// against the cleartext fixed-point executor on real test images.
func TestPartiesAsProcesses(t *testing.T) {
	cfg, prog := partySetup(t)
	var sout, hout, cout bytes.Buffer
	server := veilProcess(t, &sout, "party", "--role", "server", "--config", cfg, "--program", prog, "--json")
	helper := veilProcess(t, &hout, "party", "--role", "helper", "--config", cfg, "--json")
	const n = 40
	client := veilProcess(t, &cout, "party", "--role", "client", "--config", cfg, "--data", fashionT, "--limit", "40", "--json")
	for name, c := range map[string]*exec.Cmd{"client": client, "server": server, "helper": helper} {
		if err := c.Wait(); err != nil {
			t.Fatalf("%s: %v\nclient: %s\nserver: %s\nhelper: %s", name, err, cout.String(), sout.String(), hout.String())
		}
	}
	var res partyResult
	if err := json.Unmarshal(cout.Bytes(), &res); err != nil {
		t.Fatalf("client output %q: %v", cout.String(), err)
	}
	p, err := fixed.ReadFile(prog)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := data.Load(fashionT, data.Options{Limit: n})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Predictions) != n {
		t.Fatalf("%d predictions, want %d", len(res.Predictions), n)
	}
	for i, s := range ds.Samples {
		x, err := model.Input(s, p.Tensors[p.Inputs[0]].Shape, programLayout(p))
		if err != nil {
			t.Fatal(err)
		}
		y, err := p.Predict(x.F)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := res.Predictions[i].Top1, fixed.Top1(p.ApplyPost(y)); got != want {
			t.Errorf("image %d: secure top-1 %d, cleartext %d", i, got, want)
		}
	}
	for name, out := range map[string]*bytes.Buffer{"server": &sout, "helper": &hout} {
		var r partyResult
		if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.N != n || len(r.Predictions) != 0 || r.BytesSent == 0 {
			t.Errorf("%s reported %q (%v)", name, out.String(), err)
		}
	}
}

// TestPartyFailureStopsOthers kills or stops the server in the middle of
// a run and checks that the client and the helper exit with an error
// naming it, promptly, and that the client released no predictions.
func TestPartyFailureStopsOthers(t *testing.T) {
	cases := []struct {
		name   string
		signal syscall.Signal
		within time.Duration
		want   string
	}{
		{"killed", syscall.SIGKILL, 3 * time.Second, "P1 (server)"},
		{"stalled", syscall.SIGSTOP, 8 * time.Second, "P1 (server)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, prog := partySetup(t)
			var sout, hout, cout bytes.Buffer
			server := veilProcess(t, &sout, "party", "--role", "server", "--config", cfg, "--program", prog)
			helper := veilProcess(t, &hout, "party", "--role", "helper", "--config", cfg)
			client := veilProcess(t, &cout, "party", "--role", "client", "--config", cfg, "--data", fashionT)
			time.Sleep(1500 * time.Millisecond) // well inside the 10,000 inferences
			if err := server.Process.Signal(c.signal); err != nil {
				t.Fatal(err)
			}
			stopped := time.Now()
			for name, p := range map[string]*exec.Cmd{"client": client, "helper": helper} {
				err := p.Wait()
				took := time.Since(stopped)
				out := map[string]*bytes.Buffer{"client": &cout, "helper": &hout}[name].String()
				if err == nil {
					t.Fatalf("%s exited cleanly after the server was %s:\n%s", name, c.name, out)
				}
				if !strings.Contains(out, c.want) {
					t.Errorf("%s's error does not name the server:\n%s", name, out)
				}
				if took > c.within+time.Second {
					t.Errorf("%s took %v to stop", name, took)
				}
			}
			if strings.Contains(cout.String(), "top-1") {
				t.Errorf("the client released predictions after a failed session:\n%s", cout.String())
			}
			if c.signal == syscall.SIGSTOP {
				server.Process.Signal(syscall.SIGKILL)
			}
		})
	}
}
