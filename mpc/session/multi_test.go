package session

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"veil/fixed"
	"veil/fixed/fixedtest"
	"veil/mpc"
)

// TestSeveralInputsAndOutputs runs a program of two inputs and three
// outputs through 3PC on loopback: every output of every inference comes
// back to the client, equal to the cleartext executor's within the
// truncations' last bits.
func TestSeveralInputsAndOutputs(t *testing.T) {
	g := fixedtest.TwoInputGraph(t)
	p, err := fixed.Compile(g, 12)
	if err != nil {
		t.Fatal(err)
	}
	if got := fixed.FormatPorts(p.InputPorts()); got != "a [1×4], b [1×2×4]" {
		t.Fatalf("input ports %s", got)
	}
	inputs := [][]float32{
		{1, -2, 3, -4, 0.5, 0.25, -1, 2, -3, 1.5, 0, 7},
		{-1, 2, -3, 4, 1, 1, 1, 1, 2, 2, 2, 2},
	}
	res, err := RunLoopback(context.Background(), p, inputs, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.AllOutputs) != len(inputs) {
		t.Fatalf("%d results for %d inferences", len(res.AllOutputs), len(inputs))
	}
	for i, x := range inputs {
		want, err := p.PredictAll(x)
		if err != nil {
			t.Fatal(err)
		}
		got := res.AllOutputs[i]
		if len(got) != 3 {
			t.Fatalf("inference %d: %d outputs, want 3", i, len(got))
		}
		for o := range want {
			if len(got[o]) != len(want[o]) {
				t.Fatalf("inference %d output %d: %d values, want %d", i, o, len(got[o]), len(want[o]))
			}
			for j := range want[o] {
				if math.Abs(got[o][j]-want[o][j]) > 1e-2 {
					t.Errorf("inference %d output %d[%d]: %g, cleartext %g", i, o, j, got[o][j], want[o][j])
				}
			}
		}
	}
}

// TestPreProtocolAbortNamesCulprit: a client that loses the server before
// the protocol starts tells the helper, which then names the server, not
// the client that carried the news, whether it waits for the count or is
// still exchanging settings.
func TestPreProtocolAbortNamesCulprit(t *testing.T) {
	nets := mpc.NewLocal(3, 5*time.Second)
	notifyAbort(nets[mpc.P0], 3, &mpc.PeerError{Peer: mpc.P1, Err: errors.New("connection closed")})
	_, err := recvCount(nets[mpc.P2])
	if err == nil || !strings.Contains(err.Error(), "P1 (server)") || !strings.Contains(err.Error(), "reported by P0") {
		t.Fatalf("waiting for the count: %v, want an error naming the server", err)
	}
	nets = mpc.NewLocal(3, 5*time.Second)
	notifyAbort(nets[mpc.P0], 3, &mpc.PeerError{Peer: mpc.P1, Err: errors.New("connection closed")})
	nets[mpc.P1].Send(mpc.P2, []byte(`{"backend":"3pc"}`))
	if _, err := agree(nets[mpc.P2], &Options{}); err == nil || !strings.Contains(err.Error(), "P1 (server)") {
		t.Fatalf("exchanging settings: %v, want an error naming the server", err)
	}
	// A notice that names the sender itself or the receiver is not one.
	if abortNotice(nets[mpc.P2], mpc.P0, []byte{byte(mpc.P0)}) != nil || abortNotice(nets[mpc.P2], mpc.P0, []byte{byte(mpc.P2)}) != nil {
		t.Fatal("a notice naming its sender or receiver was taken")
	}
}
