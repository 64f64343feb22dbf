package aramis

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"veil/fixed"
	"veil/fixed/fixedtest"
	"veil/internal/testmodel"
	"veil/ir"
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
	// inject sends the victim an authentic frame of another link: one the
	// corrupt party's code received from the third party, or, with two
	// parties, from the victim itself (reflected back to it). Its header
	// names the wrong sender and receiver.
	inject = "inject a frame under another identity"
	// injectOld sends the victim, before the frame of the same number,
	// the frame the corrupt party's code sent it in another session on
	// the same link: the right identity and number, under another key.
	injectOld = "inject a frame from another session"
)

// interposer is a corrupt host's network: frames to victim are tampered
// with as mode says, at the frame numbered at on that link.
type interposer struct {
	mpc.Network
	// source is whose frames inject injects: the third party with three
	// parties, the victim with two.
	victim, source mpc.Party
	mode           string
	at             int
	// old holds the frames sent to the victim in another session
	// (injectOld).
	old [][]byte

	mu         sync.Mutex
	raw        int      // handshake messages sent to the victim so far
	n          int      // frames sent to the victim so far
	sent       [][]byte // those frames
	held       []byte   // a frame held back (reorder)
	srcRaw     int      // handshake messages received from source so far
	fromSource [][]byte // frames received from source
	done       bool
	when       time.Time
}

// newInterposer returns the network of the corrupt host of party bad
// (its network nw), which tampers with frames to victim as mode says, at
// frame at, in a session of the given number of parties.
func newInterposer(nw mpc.Network, parties int, bad, victim mpc.Party, mode string, at int) *interposer {
	source := victim // two parties: frames reflected back
	if parties == 3 {
		source = 3 - bad - victim
	}
	return &interposer{Network: nw, victim: victim, source: source, mode: mode, at: at}
}

func (m *interposer) Recv(from mpc.Party) ([]byte, error) {
	b, err := m.Network.Recv(from)
	if err == nil && from == m.source {
		m.mu.Lock()
		if m.srcRaw < 2 { // the handshake's nonce and evidence
			m.srcRaw++
		} else {
			m.fromSource = append(m.fromSource, bytes.Clone(b))
		}
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
		if k == m.at && len(m.fromSource) > 0 {
			misbehave()
			if err := m.Network.Send(to, m.fromSource[len(m.fromSource)-1]); err != nil {
				return err
			}
		} else if k == m.at {
			m.at++
		}
	case injectOld:
		if k == m.at && k < len(m.old) {
			misbehave()
			if err := m.Network.Send(to, m.old[k]); err != nil {
				return err
			}
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

// small returns a small program with a layer of every kind
// (fixedtest.MixedGraph with an argmax output) at scale 12, and a
// random input.
func small(t testing.TB) (*fixed.Program, []uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(14, 2))
	prog, err := fixed.Compile(fixedtest.MixedGraph(t, rng, ir.NCHW, "first"), 12)
	if err != nil {
		t.Fatal(err)
	}
	x := fixedtest.RandTensor(rng, prog.Tensors[prog.Inputs[0]].Shape, 1)
	return prog, prog.EncodeInput(x.F)
}

// recorder is an honest host's network: it records the frames its
// party's code sends each peer.
type recorder struct {
	mpc.Network
	mu     sync.Mutex
	raw    [mpc.MaxParties]int      // handshake messages sent to each peer
	frames [mpc.MaxParties][][]byte // the frames sent to each peer
}

func (r *recorder) Send(to mpc.Party, msg []byte) error {
	r.mu.Lock()
	if r.raw[to] < 2 { // the handshake's nonce and evidence (frames follow)
		r.raw[to]++
	} else {
		r.frames[to] = append(r.frames[to], bytes.Clone(msg))
	}
	r.mu.Unlock()
	return r.Network.Send(to, msg)
}

// firstCheckpoint is the number of the first checkpoint frame to peer
// (−1 if none): the frame before it carries the inference's last message
// on the link.
func (r *recorder) firstCheckpoint(peer mpc.Party) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.IndexFunc(r.frames[peer], func(f []byte) bool { return f[1] == frameCheckpoint })
}

// TestMisbehaviour runs real inferences (3PC: the bundled LeNet on a
// real Fashion-MNIST image; 2PC: a smaller program) with one party's
// host tampering with what its attested code sends to a victim. Every
// honest party must stop with an error (not by timing out): the
// victim's names the corrupt party (or the network) and comes from the
// check meant for that misbehaviour, the third party's (with three
// parties) names the link between the two, which is all it can know;
// the client must release no output. With two parties the one link is
// tampered with in both directions, and a frame "under another
// identity" is one of the victim's own, reflected.
func TestMisbehaviour(t *testing.T) {
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
		{injectOld, ErrTag},
	}
	pairs := map[int][][2]mpc.Party{
		3: {{mpc.P1, mpc.P0}, {mpc.P0, mpc.P1}, {mpc.P2, mpc.P1}, {mpc.P2, mpc.P0}},
		2: {{mpc.P1, mpc.P0}, {mpc.P0, mpc.P1}},
	}
	forEach(t, func(t *testing.T, fx *fixture) {
		// The honest run, recorded: it shows how many frames each link
		// carries before the checkpoint (misbehave halfway, or on the
		// last message), and is the other session of injectOld.
		nets := fx.nets()
		recs := make([]*recorder, len(nets))
		for p := range nets {
			recs[p] = &recorder{Network: nets[p]}
			nets[p] = recs[p]
		}
		outs, errs := fx.run(nets, func(mpc.Party) {})
		for p, err := range errs {
			if err != nil {
				t.Fatalf("honest run: P%d: %v", p, err)
			}
		}
		want, err := fx.prog.Run(fx.x)
		if err != nil {
			t.Fatal(err)
		}
		if len(outs[0]) != 1 || len(outs[0][0]) != len(want[0]) {
			t.Fatalf("honest run: P0 got %d outputs", len(outs[0]))
		}
		for _, m := range modes {
			for _, pair := range pairs[fx.parties] {
				bad, victim := pair[0], pair[1]
				t.Run(fmt.Sprintf("%s/%s_to_%s", m.mode, bad, victim), func(t *testing.T) {
					testMisbehaviour(t, fx, recs[bad], bad, victim, m.mode, m.want)
				})
			}
		}
	})
}

// testMisbehaviour runs one case of TestMisbehaviour: bad's host
// tampers with the frames to victim as mode says, at a point found in
// the honest run rec recorded at bad; the victim must catch it with the
// check want.
func testMisbehaviour(t *testing.T, fx *fixture, rec *recorder, bad, victim mpc.Party, mode string, want error) {
	ckpt := rec.firstCheckpoint(victim)
	if ckpt < 1 {
		t.Fatalf("honest run: no checkpoint after a frame on %s", mpc.Link{From: bad, To: victim})
	}
	at := ckpt / 2
	if mode == dropLast {
		at = ckpt - 1
	}
	nets := fx.nets()
	ip := newInterposer(nets[bad], fx.parties, bad, victim, mode, at)
	rec.mu.Lock()
	ip.old = rec.frames[victim]
	rec.mu.Unlock()
	nets[bad] = ip
	outs, errs := fx.run(nets, func(mpc.Party) {})
	ip.mu.Lock()
	done, when := ip.done, ip.when
	ip.mu.Unlock()
	if !done {
		t.Fatalf("the corrupt host never got to %s", mode)
	}
	elapsed := time.Since(when)
	// The victim names the corrupt party (or the network); the third
	// party cannot tell which end of the link failed, and names both.
	l := mpc.Link{From: bad, To: victim}
	for _, p := range mpc.PartiesOf(fx.parties) {
		if p != bad {
			checkBlame(t, p, errs[p], expect(p, l, want))
		}
	}
	if outs[0] != nil {
		t.Errorf("P0 released an output")
	}
	if t.Failed() {
		logErrs(t, errs)
	}
	t.Logf("honest parties stopped within %v of the misbehaviour; victim %s: %v", elapsed.Round(time.Millisecond), victim, errs[victim])
}
