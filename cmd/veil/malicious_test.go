package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/mpc"
)

// tamperer returns the test hook of a corrupt host (VEIL_TEST_TAMPER =
// "ROLE:N": flip a payload byte of the N-th message this party's attested
// code sends to ROLE; "in:ROLE:N": of the N-th message from ROLE, before
// this party's code reads it).
func tamperer(spec string) func(mpc.Party, mpc.Network) mpc.Network {
	inbound := strings.HasPrefix(spec, "in:")
	spec = strings.TrimPrefix(spec, "in:")
	role, n, _ := strings.Cut(spec, ":")
	peer, err := mpc.ParseRole(role)
	if err != nil {
		panic("VEIL_TEST_TAMPER: " + err.Error())
	}
	at, err := strconv.Atoi(n)
	if err != nil {
		panic("VEIL_TEST_TAMPER: " + err.Error())
	}
	return func(_ mpc.Party, nw mpc.Network) mpc.Network {
		return &tamperingNet{Network: nw, peer: peer, inbound: inbound, at: at}
	}
}

type tamperingNet struct {
	mpc.Network
	peer    mpc.Party
	inbound bool
	at      int
	mu      sync.Mutex
	n       int
}

// tamper flips a byte of msg if it is the at-th message on the link.
func (t *tamperingNet) tamper(msg []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == t.at && len(msg) > 64 {
		msg[len(msg)/2] ^= 1
		dir := "to"
		if t.inbound {
			dir = "from"
		}
		fmt.Fprintf(os.Stderr, "tampered with message %d %s %s\n", t.n, dir, t.peer)
	}
	t.n++
}

func (t *tamperingNet) Send(to mpc.Party, msg []byte) error {
	if to == t.peer && !t.inbound {
		t.tamper(msg)
	}
	return t.Network.Send(to, msg)
}

func (t *tamperingNet) Recv(from mpc.Party) ([]byte, error) {
	msg, err := t.Network.Recv(from)
	if err == nil && from == t.peer && t.inbound {
		t.tamper(msg)
	}
	return msg, err
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
// the client and the helper stop promptly, and the client releases no
// prediction. The client catches the byte by its tag and names the
// server or the network; the helper cannot tell which end of the link
// between them cheated, and names both.
func TestMaliciousPartyIsCaught(t *testing.T) {
	outs := runTampered(t, "VEIL_TEST_TAMPER=client:300", "tampered with message 300 to P0 (client)")
	wantSays(t, "client", outs["client"], "P1 (server) or the network, on link P1→P0", "authentication tag does not verify")
	wantSays(t, "helper", outs["helper"], "P0 (client) or P1 (server), on link P1→P0")
}

// TestMaliciousHostCorruptsInbound: the server's host flips a byte of a
// message the client sent before the server's attested code reads it.
// The server's code sees a frame from the client fail its tag, and says
// so, authenticated; the client, whose frame left it intact, names the
// server or the network, never itself; the helper names both ends of the
// link. (The client used to blame itself, and the helper the client.)
func TestMaliciousHostCorruptsInbound(t *testing.T) {
	outs := runTampered(t, "VEIL_TEST_TAMPER=in:client:300", "tampered with message 300 from P0 (client)")
	wantSays(t, "client", outs["client"], "P1 (server) or the network, on link P0→P1", "P1 (server) reports", "authentication tag does not verify")
	wantSays(t, "helper", outs["helper"], "P0 (client) or P1 (server), on link P0→P1")
}

// runTampered runs the three parties, the server with the tampering
// environment variable env, waits for the client and the helper to fail
// and returns their output. The server's output must say tampered.
func runTampered(t *testing.T, env, tampered string) map[string]string {
	t.Helper()
	cfg, prog := partySetup(t, lenet, "--malicious", "--insecure-simulated-attestation")
	var sout, hout, cout bytes.Buffer
	server := veilProcessEnv(t, &sout, []string{env}, "party", "--malicious", "--insecure-simulated-attestation", "--role", "server", "--config", cfg, "--program", prog)
	helper := veilProcess(t, &hout, "party", "--malicious", "--insecure-simulated-attestation", "--role", "helper", "--config", cfg)
	client := veilProcess(t, &cout, "party", "--malicious", "--insecure-simulated-attestation", "--role", "client", "--config", cfg, "--data", fashionT, "--limit", "50")
	start := time.Now()
	outs := map[string]string{}
	for name, p := range map[string]*exec.Cmd{"client": client, "helper": helper} {
		err := p.Wait()
		out := map[string]*bytes.Buffer{"client": &cout, "helper": &hout}[name].String()
		if err == nil {
			t.Fatalf("%s finished despite the tampering:\n%s", name, out)
		}
		outs[name] = out
		t.Logf("%s stopped %v after the start: %s", name, time.Since(start).Round(time.Millisecond), strings.TrimSpace(out))
	}
	server.Wait()
	if !strings.Contains(sout.String(), tampered) {
		t.Fatalf("the server's host never tampered:\n%s", sout.String())
	}
	if strings.Contains(cout.String(), "top-1") {
		t.Errorf("the client released predictions:\n%s", cout.String())
	}
	for role, out := range map[string]string{"server": sout.String(), "helper": hout.String(), "client": cout.String()} {
		if !strings.Contains(out, "WARNING: simulated attestation") {
			t.Errorf("the %s ran simulated attestation without the warning:\n%s", role, out)
		}
	}
	return outs
}

// wantSays checks that a party's output says each of wants and does not
// name the party itself as a suspect.
func wantSays(t *testing.T, role, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s's error does not say %q:\n%s", role, w, out)
		}
	}
	p, err := mpc.ParseRole(role)
	if err != nil {
		t.Fatal(err)
	}
	for _, self := range []string{p.String() + " or ", "or " + p.String()} {
		if strings.Contains(out, self) {
			t.Errorf("%s names itself (%q):\n%s", role, self, out)
		}
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
	for _, c := range [][]string{
		{"demo", "-n", "1", "--model", lenet, "--data", fashionT, "--malicious", "--insecure-simulated-attestation"},
		{"keygen", "--dir", filepath.Join(t.TempDir(), "k"), "--loopback", "--malicious", "--insecure-simulated-attestation"},
	} {
		if out, err := veil(t, c...); err != nil || !strings.Contains(out, "WARNING: simulated attestation") {
			t.Errorf("veil %s: %v; want the simulated-attestation warning:\n%s", c[0], err, out)
		}
	}
}

// TestSimulatedAttestationNeedsTheFlag: a parties file whose attestation
// section uses the simulated attester (as keygen --loopback --malicious
// --insecure-simulated-attestation writes it) is not enough to run with
// simulated evidence: every role refuses it, before connecting, unless
// its own command line says --insecure-simulated-attestation (issue 11,
// finding 8).
func TestSimulatedAttestationNeedsTheFlag(t *testing.T) {
	cfg, prog := partySetup(t, lenet, "--malicious", "--insecure-simulated-attestation")
	for _, role := range []string{"client", "server", "helper"} {
		args := []string{"party", "--malicious", "--role", role, "--config", cfg}
		switch role {
		case "server":
			args = append(args, "--program", prog)
		case "client":
			args = append(args, "--data", fashionT, "--limit", "1")
		}
		out, err := veil(t, args...)
		if err == nil || !strings.Contains(err.Error(), "--insecure-simulated-attestation") || !strings.Contains(err.Error(), cfg) {
			t.Errorf("%s without the flag: %v\n%s", role, err, out)
		}
	}
	if _, err := veil(t, "party", "--insecure-simulated-attestation", "--role", "helper", "--config", cfg); err == nil {
		t.Error("--insecure-simulated-attestation without --malicious accepted")
	}
}
