package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/mpc"
)

// tamperer returns the test hook of a corrupt host (VEIL_TEST_TAMPER =
// "ROLE:N": flip a payload byte of the N-th message this party's attested
// code sends to ROLE).
func tamperer(spec string) func(mpc.Party, mpc.Network) mpc.Network {
	role, n, _ := strings.Cut(spec, ":")
	victim, err := mpc.ParseRole(role)
	if err != nil {
		panic("VEIL_TEST_TAMPER: " + err.Error())
	}
	at, err := strconv.Atoi(n)
	if err != nil {
		panic("VEIL_TEST_TAMPER: " + err.Error())
	}
	return func(_ mpc.Party, nw mpc.Network) mpc.Network {
		return &tamperingNet{Network: nw, victim: victim, at: at}
	}
}

type tamperingNet struct {
	mpc.Network
	victim mpc.Party
	at     int
	mu     sync.Mutex
	n      int
}

func (t *tamperingNet) Send(to mpc.Party, msg []byte) error {
	if to == t.victim {
		t.mu.Lock()
		if t.n == t.at && len(msg) > 64 {
			msg[len(msg)/2] ^= 1
			fmt.Fprintf(os.Stderr, "tampered with message %d to %s\n", t.n, to)
		}
		t.n++
		t.mu.Unlock()
	}
	return t.Network.Send(to, msg)
}

// veilProcessEnv is veilProcess with extra environment variables.
func veilProcessEnv(t *testing.T, stdout *bytes.Buffer, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "VEIL_TEST_AS_COMMAND=1"), env...)
	cmd.Stdout, cmd.Stderr = stdout, stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// TestMaliciousPartyIsCaught runs the three parties as processes over
// TLS with --malicious, the server's host flipping one byte of a message
// its attested code sends the client in the middle of the inferences:
// the client and the helper stop with errors naming the server, promptly,
// and the client releases no prediction.
func TestMaliciousPartyIsCaught(t *testing.T) {
	cfg, prog := partySetup(t, lenet, "--malicious", "--insecure-simulated-attestation")
	var sout, hout, cout bytes.Buffer
	server := veilProcessEnv(t, &sout, []string{"VEIL_TEST_TAMPER=client:300"}, "party", "--malicious", "--role", "server", "--config", cfg, "--program", prog)
	helper := veilProcess(t, &hout, "party", "--malicious", "--role", "helper", "--config", cfg)
	client := veilProcess(t, &cout, "party", "--malicious", "--role", "client", "--config", cfg, "--data", fashionT, "--limit", "50")
	start := time.Now()
	for name, p := range map[string]*exec.Cmd{"client": client, "helper": helper} {
		err := p.Wait()
		out := map[string]*bytes.Buffer{"client": &cout, "helper": &hout}[name].String()
		if err == nil {
			t.Fatalf("%s finished despite the tampering:\n%s", name, out)
		}
		if !strings.Contains(out, "P1 (server)") {
			t.Errorf("%s's error does not name the server:\n%s", name, out)
		}
		t.Logf("%s stopped %v after the start: %s", name, time.Since(start).Round(time.Millisecond), strings.TrimSpace(out))
	}
	server.Wait()
	if !strings.Contains(sout.String(), "tampered with message 300") {
		t.Fatalf("the server's host never tampered:\n%s", sout.String())
	}
	if !strings.Contains(cout.String(), "authentication tag does not verify") {
		t.Errorf("the client did not catch the altered byte by its tag:\n%s", cout.String())
	}
	if strings.Contains(cout.String(), "top-1") {
		t.Errorf("the client released predictions:\n%s", cout.String())
	}
}

// TestMaliciousFlags: --malicious refuses to fall back to the simulated
// attester on its own, and with --insecure-simulated-attestation demo and
// eval --backend 3pc run and say so in their JSON.
func TestMaliciousFlags(t *testing.T) {
	out, err := veil(t, "demo", "-n", "2", "--model", lenet, "--data", fashionT, "--malicious")
	if err == nil || !strings.Contains(out+err.Error(), "--insecure-simulated-attestation") {
		t.Errorf("demo --malicious without a TEE: %v\n%s", err, out)
	}
	out, err = veil(t, "demo", "-n", "3", "--model", lenet, "--data", fashionT, "--json", "--malicious", "--insecure-simulated-attestation")
	if err != nil || !strings.Contains(out, `"malicious":true`) || !strings.Contains(out, `"agreement_with_cleartext":1`) {
		t.Errorf("demo --malicious: %v\n%s", err, out)
	}
	out, err = veil(t, "eval", lenet, "--backend", "3pc", "--scale", "12", "--data", fashionT, "--limit", "3", "--json", "--malicious", "--insecure-simulated-attestation")
	if err != nil || !strings.Contains(out, `"malicious":true`) {
		t.Errorf("eval --backend 3pc --malicious: %v\n%s", err, out)
	}
	if _, err := veil(t, "keygen", "--dir", t.TempDir(), "--malicious", "--insecure-simulated-attestation"); err == nil {
		t.Error("keygen --malicious without --loopback succeeded")
	}
}
