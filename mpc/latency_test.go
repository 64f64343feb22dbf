package mpc_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"veil/mpc"
)

// TestWithLatency checks that each message is held back the added
// latency after it arrived, once for a stream of messages (not once per
// message), in order, and that the sender's failure arrives after them.
func TestWithLatency(t *testing.T) {
	const delay, n = 50 * time.Millisecond, 10
	nets := mpc.NewLocal(2, 10*time.Second)
	slow := mpc.WithLatency(nets[1], delay)
	start := time.Now()
	for i := range n {
		if err := nets[0].Send(mpc.P1, fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	nets[0].Close()
	for i := range n {
		m, err := slow.Recv(mpc.P0)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if want := fmt.Sprintf("m%d", i); string(m) != want {
			t.Fatalf("got %q, want %q", m, want)
		}
		if i == 0 && time.Since(start) < delay {
			t.Errorf("the first message came after %v, before the latency of %v", time.Since(start), delay)
		}
	}
	// Delayed once per message in turn, ten would take 500 ms.
	if took := time.Since(start); took >= n*delay-100*time.Millisecond {
		t.Errorf("%d messages sent at once took %v: delayed one after another, not together", n, took)
	}
	var pe *mpc.PeerError
	if _, err := slow.Recv(mpc.P0); !errors.As(err, &pe) || pe.Peer != mpc.P0 {
		t.Errorf("after the messages: %v, want the closed peer's *PeerError", err)
	}
	if st := slow.Stats(); st.MsgsRecv[mpc.P0] != n {
		t.Errorf("stats count %d messages received, want %d (the network's own)", st.MsgsRecv[mpc.P0], n)
	}
	slow.Close()
}
