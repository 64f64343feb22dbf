package mpc

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestLocalNetwork(t *testing.T) {
	nets := NewLocal(3, time.Second)
	// Both send first, then receive: no deadlock.
	big := bytes.Repeat([]byte{1}, 1<<20)
	if err := nets[0].Send(P1, big); err != nil {
		t.Fatal(err)
	}
	if err := nets[1].Send(P0, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if m, err := nets[1].Recv(P0); err != nil || len(m) != 1<<20 {
		t.Fatalf("P1 got %d bytes, %v", len(m), err)
	}
	if m, err := nets[0].Recv(P1); err != nil || string(m) != "hi" {
		t.Fatalf("P0 got %q, %v", m, err)
	}
	if !bytes.Equal(nets[0].PairKey(P1), nets[1].PairKey(P0)) || bytes.Equal(nets[0].PairKey(P1), nets[0].PairKey(P2)) {
		t.Fatal("pair keys are not pairwise")
	}
	if s := nets[0].Stats(); s.BytesSent[P1] != 1<<20+4 || s.MsgsRecv[P1] != 1 {
		t.Errorf("stats %+v", s)
	}
	// Silence times out naming the peer.
	_, err := nets[2].Recv(P0)
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Peer != P0 || !errors.Is(err, ErrTimeout) {
		t.Fatalf("Recv from a silent peer: %v", err)
	}
	// A closed party makes the others fail at once.
	nets[1].Close()
	start := time.Now()
	if _, err := nets[2].Recv(P1); !errors.As(err, &pe) || pe.Peer != P1 || time.Since(start) > 500*time.Millisecond {
		t.Fatalf("Recv from a closed peer: %v after %v", err, time.Since(start))
	}
}

// TestLocalTwoParties checks a two-party network: one peer each, the
// helper's index refused.
func TestLocalTwoParties(t *testing.T) {
	nets := NewLocal(2, time.Second)
	if len(nets) != 2 || nets[0].Parties() != 2 {
		t.Fatalf("%d networks of %d parties", len(nets), nets[0].Parties())
	}
	if err := nets[0].Send(P1, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if m, err := nets[1].Recv(P0); err != nil || string(m) != "x" {
		t.Fatalf("P1 got %q, %v", m, err)
	}
	if err := nets[0].Send(P2, []byte("x")); err == nil {
		t.Error("sent to P2 in a two-party session")
	}
	if s := nets[0].Stats(); len(s.BytesSent) != 2 || s.TotalSent() != 5 {
		t.Errorf("stats %+v", s)
	}
}
