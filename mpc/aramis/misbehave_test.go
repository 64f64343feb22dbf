package aramis

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"veil/fixed"
	"veil/internal/testmodel"
	"veil/mpc"
)

// Misbehaviours of a party's host: it sits between the party's attested
// code (this package's frames) and the network, and tampers with what the
// code sends to the victim.
const (
	alterPayload = "alter a payload byte"
	alterHeader  = "alter a header field"
	replay       = "replay an earlier frame"
	reorder      = "reorder two frames"
	drop         = "drop a frame"
	dropLast     = "drop the last message"
	inject       = "inject a frame under another identity"
)

// interposer is a corrupt host's network: frames to victim are tampered
// with as mode says, at the frame numbered at on that link.
type interposer struct {
	mpc.Network
	victim, third mpc.Party
	mode          string
	at            int

	mu        sync.Mutex
	raw       int      // handshake messages sent to the victim so far
	n         int      // frames sent to the victim so far
	sent      [][]byte // those frames
	held      []byte   // a frame held back (reorder)
	fromThird [][]byte // frames received from the third party
	done      bool
	when      time.Time
	// firstCkpt is the number of the first checkpoint frame to the victim
	// (−1 before it): an honest run's tells which frame is the last
	// message of the inference.
	firstCkpt int
}

func (m *interposer) Recv(from mpc.Party) ([]byte, error) {
	b, err := m.Network.Recv(from)
	if err == nil && from == m.third {
		m.mu.Lock()
		m.fromThird = append(m.fromThird, bytes.Clone(b))
		m.mu.Unlock()
	}
	return b, err
}

func (m *interposer) Send(to mpc.Party, msg []byte) error {
	if to != m.victim {
		return m.Network.Send(to, msg)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.raw < 2 { // the handshake's nonce and evidence (frames follow)
		m.raw++
		return m.Network.Send(to, msg)
	}
	k := m.n // = the frame's sequence number
	m.n++
	m.sent = append(m.sent, bytes.Clone(msg))
	misbehave := func() {
		if !m.done {
			m.done, m.when = true, time.Now()
		}
	}
	if msg[1] == frameCheckpoint && m.firstCkpt < 0 {
		m.firstCkpt = k
	}
	if k < m.at {
		return m.Network.Send(to, msg)
	}
	switch m.mode {
	case alterPayload:
		if k == m.at {
			if len(msg) <= Overhead {
				m.at++ // no payload to alter: take the next frame
				return m.Network.Send(to, msg)
			}
			misbehave()
			msg[headerLen+(len(msg)-Overhead)/2] ^= 0x10
		}
	case alterHeader:
		if k == m.at {
			misbehave()
			binary.BigEndian.PutUint64(msg[4:], binary.BigEndian.Uint64(msg[4:])+1<<40) // the sequence number field
		}
	case replay:
		if k == m.at {
			if err := m.Network.Send(to, msg); err != nil {
				return err
			}
			misbehave()
			return m.Network.Send(to, m.sent[k-1])
		}
	case reorder:
		if k == m.at {
			m.held = msg
			return nil
		}
		if k == m.at+1 {
			if err := m.Network.Send(to, msg); err != nil {
				return err
			}
			misbehave()
			return m.Network.Send(to, m.held)
		}
	case drop, dropLast:
		if k == m.at {
			misbehave()
			return nil
		}
	case inject:
		if k == m.at && len(m.fromThird) > 1 {
			misbehave()
			if err := m.Network.Send(to, m.fromThird[len(m.fromThird)-1]); err != nil {
				return err
			}
		} else if k == m.at {
			m.at++
		}
	}
	return m.Network.Send(to, msg)
}

// lenet returns the bundled Fashion-MNIST LeNet at scale 12 and a real
// test image.
func lenet(t testing.TB) (*fixed.Program, []uint64) {
	t.Helper()
	prog := testmodel.Program(t, "fashion_lenet", 12)
	xs, _ := testmodel.Images(t, prog, "data/fashion-mnist/test", 0, 1)
	return prog, prog.EncodeInput(xs[0])
}

// secureInference runs prog on x with the three parties over nets,
// maliciously secure, and returns each party's outputs and error.
func secureInference(t testing.TB, nets []mpc.Network, cfgs [3]Config, prog *fixed.Program, x []uint64) ([3][][]uint64, [3]error) {
	return inference3(nets, cfgs, prog, x, func(mpc.Party) {})
}

// TestMisbehaviour runs real 3-party inferences of the bundled LeNet on a
// real Fashion-MNIST image with one party's host tampering with what its
// attested code sends to a victim. Every honest party must stop with an
// error (not by timing out): the victim's names the corrupt party (or
// the network) and comes from the check meant for that misbehaviour, the
// third party's names the link between the two, which is all it can
// know; the client must release no output.
func TestMisbehaviour(t *testing.T) {
	prog, x := lenet(t)
	ats, pol := testAttesters(t)
	cfgs := configs(simulated(ats), pol)

	// The honest run.
	outs, errs := secureInference(t, mpc.NewLocal(3, 30*time.Second), cfgs, prog, x)
	for p, err := range errs {
		if err != nil {
			t.Fatalf("honest run: P%d: %v", p, err)
		}
	}
	want, err := prog.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs[0]) != 1 || len(outs[0][0]) != len(want[0]) {
		t.Fatalf("honest run: P0 got %d outputs", len(outs[0]))
	}

	modes := []struct {
		mode string
		want error
	}{
		{alterPayload, ErrTag},
		{alterHeader, ErrTag},
		{replay, ErrSequence},
		{reorder, ErrSequence},
		{drop, ErrSequence},
		{dropLast, ErrSequence},
		{inject, ErrIdentity},
	}
	pairs := [][2]mpc.Party{{mpc.P1, mpc.P0}, {mpc.P0, mpc.P1}, {mpc.P2, mpc.P1}, {mpc.P2, mpc.P0}}
	for _, m := range modes {
		for _, pair := range pairs {
			bad, victim := pair[0], pair[1]
			third := 3 - bad - victim
			t.Run(fmt.Sprintf("%s/%s_to_%s", m.mode, bad, victim), func(t *testing.T) {
				// An honest run shows how many frames the link carries
				// before the checkpoint: misbehave halfway, or on the last
				// message.
				counter := mpc.NewLocal(3, 30*time.Second)
				count := &interposer{Network: counter[bad], victim: victim, third: third, at: 1 << 30, firstCkpt: -1}
				counter[bad] = count
				if _, errs := secureInference(t, counter, cfgs, prog, x); errs != [3]error{} {
					t.Fatalf("honest run: %v", errs)
				}
				at := count.firstCkpt / 2
				if m.mode == dropLast {
					at = count.firstCkpt - 1
				}
				nets := mpc.NewLocal(3, 30*time.Second)
				ip := &interposer{Network: nets[bad], victim: victim, third: third, mode: m.mode, at: at, firstCkpt: -1}
				nets[bad] = ip
				outs, errs := secureInference(t, nets, cfgs, prog, x)
				ip.mu.Lock()
				done, when := ip.done, ip.when
				ip.mu.Unlock()
				if !done {
					t.Fatalf("the corrupt host never got to %s", m.mode)
				}
				elapsed := time.Since(when)
				// The victim names the corrupt party (or the network);
				// the third party cannot tell which end of the link
				// failed, and names both.
				l := mpc.Link{From: bad, To: victim}
				for _, p := range []mpc.Party{victim, third} {
					checkBlame(t, p, errs[p], expect(p, l, m.want))
				}
				if outs[0] != nil {
					t.Errorf("P0 released an output")
				}
				if t.Failed() {
					for p, err := range errs {
						t.Logf("P%d: %v", p, err)
					}
				}
				t.Logf("honest parties stopped within %v of the misbehaviour; victim %s: %v", elapsed.Round(time.Millisecond), victim, errs[victim])
			})
		}
	}
}
