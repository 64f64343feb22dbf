//go:build unix

package main

import (
	"bytes"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

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
			cfg, prog := partySetup(t, lenet)
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
