package aramis

import (
	"bytes"
	"crypto/ecdh"
	"encoding/binary"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/mpc"
)

// Fuzz targets: what a peer (or anyone on the wire) can send a party's
// code. Seeds are in testdata/fuzz; `go test` runs them.

// fixedLinks returns the two ends of the link between P0 and P1 under
// fixed keys: P0's view and P1's.
func fixedLinks(t testing.TB) (l01, l10 *link) {
	t.Helper()
	key := func(b byte) *ecdh.PrivateKey {
		k, err := ecdh.X25519().NewPrivateKey(bytes.Repeat([]byte{b}, 32))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k0, k1 := key(1), key(2)
	own := make([][]byte, 3)
	own[0], own[1] = bytes.Repeat([]byte{10}, nonceLen), bytes.Repeat([]byte{11}, nonceLen)
	salt := pairSalt(own)
	n0, n1 := &Network{me: mpc.P0}, &Network{me: mpc.P1}
	l01, err := n0.newLink(mpc.P1, k0, k1.PublicKey().Bytes(), salt)
	if err != nil {
		t.Fatal(err)
	}
	l10, err = n1.newLink(mpc.P0, k1, k0.PublicKey().Bytes(), salt)
	if err != nil {
		t.Fatal(err)
	}
	return l01, l10
}

var fuzzSID = [32]byte{'s', 'i', 'd'}

// sealed is d.seal for tests, which never seal the 2^64 frames that
// would make it fail.
func sealed(d *sender, typ byte, from, to mpc.Party, payload []byte) []byte {
	f, err := d.seal(typ, from, to, payload)
	if err != nil {
		panic(err)
	}
	return f
}

// honestFrames is what P1's honest code may send P0 first (each sealed
// from the link's first state), and a stream of frames in order.
func honestFrames(l10 *link) (firsts [][]byte, stream [][]byte) {
	ckpt := checkpoint{sentData: 2}
	hello := append(fuzzSID[:], "commitment"...)
	for _, f := range []struct {
		typ     byte
		payload []byte
	}{
		{frameVerdict, marshalVerdict(nil)},
		{frameHello, hello},
		{frameData, []byte("a protocol message")},
		{frameAbort, linkAccount(mpc.P0, mpc.P1, mpc.P1, ErrTag).marshal()},
		{frameCheckpoint, ckpt.marshal()},
		{frameEnd, nil},
	} {
		d := l10.send
		firsts = append(firsts, sealed(&d, f.typ, mpc.P1, mpc.P0, f.payload))
	}
	d := l10.send
	for _, f := range []struct {
		typ     byte
		payload []byte
	}{
		{frameHello, hello},
		{frameData, []byte("a")},
		{frameHeartbeat, nil},
		{frameData, []byte("b")},
		{frameEnd, nil},
	} {
		stream = append(stream, sealed(&d, f.typ, mpc.P1, mpc.P0, f.payload))
	}
	return firsts, stream
}

// FuzzOpenFrame: the receiver of the link P1→P0, in its first state (or
// after one honest frame), fed arbitrary bytes as the next frame,
// accepts nothing but a frame P1's honest code sealed for that place,
// byte for byte, and a refused frame leaves its state as it was.
func FuzzOpenFrame(f *testing.F) {
	l01, l10 := fixedLinks(f)
	firsts, stream := honestFrames(l10)
	for _, fr := range firsts {
		f.Add(fr, false)
	}
	f.Add(stream[1], true)
	f.Add(stream[0], true)
	f.Add(stream[0][:Overhead-1], false)
	f.Fuzz(func(t *testing.T, frame []byte, second bool) {
		r := l01.recv
		want := firsts
		if second {
			if _, _, err := r.open(bytes.Clone(stream[0]), mpc.P1, mpc.P0); err != nil {
				t.Fatal(err)
			}
			want = stream[1:2]
		}
		before := r
		h, payload, err := r.open(bytes.Clone(frame), mpc.P1, mpc.P0)
		if err != nil {
			if r.rec.Seq() != before.rec.Seq() || r.chain != before.chain || r.data != before.data {
				t.Fatalf("a refused frame advanced the receiver: %v", err)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrIdentity) && !errors.Is(err, ErrTag) && !errors.Is(err, ErrSequence) && !errors.Is(err, ErrChain) {
				t.Fatalf("refused by no named check: %v", err)
			}
			return
		}
		i := slices.IndexFunc(want, func(w []byte) bool { return bytes.Equal(w, frame) })
		if i < 0 {
			t.Fatalf("accepted a frame P1 never sealed: %x (type %d, %d payload bytes)", frame, h.typ, len(payload))
		}
		if !bytes.Equal(payload, frame[headerLen:len(frame)-tagLen]) || r.rec.Seq() != before.rec.Seq()+1 {
			t.Fatalf("accepted the honest frame wrongly: payload %q, seq %d", payload, r.rec.Seq())
		}
	})
}

// scriptedNet is an inner network that delivers a fixed list of messages
// from P1 and then reports the connection closed; what is sent is
// dropped.
type scriptedNet struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (s *scriptedNet) Me() mpc.Party                { return mpc.P0 }
func (s *scriptedNet) Parties() int                 { return 3 }
func (s *scriptedNet) Send(mpc.Party, []byte) error { return nil }
func (s *scriptedNet) PairKey(mpc.Party) []byte     { return nil }
func (s *scriptedNet) Stats() mpc.Stats             { return mpc.NewStats(3) }
func (s *scriptedNet) Close() error                 { return nil }
func (s *scriptedNet) Recv(mpc.Party) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) == 0 {
		return nil, errors.New("connection closed")
	}
	m := s.msgs[0]
	s.msgs = s.msgs[1:]
	return m, nil
}

// splitMessages cuts b into messages, each preceded by its length (two
// bytes, big-endian).
func splitMessages(b []byte) [][]byte {
	var msgs [][]byte
	for len(b) >= 2 {
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		n = min(n, len(b))
		msgs = append(msgs, b[:n])
		b = b[n:]
	}
	return msgs
}

func joinMessages(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
		b = append(b, m...)
	}
	return b
}

// FuzzReceiver: P0's reader on the link from P1 (after the handshake),
// fed arbitrary messages, delivers exactly the protocol messages of the
// leading frames that are P1's honest ones, in order, and stops with an
// error at the first other frame (or at the end of the messages, unless
// P1's honest end frame came); an error never names P0 itself.
func FuzzReceiver(f *testing.F) {
	l01, l10 := fixedLinks(f)
	_, stream := honestFrames(l10)
	f.Add(joinMessages(stream...))
	f.Add(joinMessages(stream[:3]...))
	f.Add(joinMessages(stream[0], stream[2], stream[1]))
	f.Add(joinMessages(stream[0], stream[1], stream[1]))
	f.Add(joinMessages(stream[1]))
	f.Add([]byte{0, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs := splitMessages(data)
		inner := &scriptedNet{msgs: slices.Clone(msgs)}
		n := &Network{inner: inner, me: mpc.P0, sid: fuzzSID, links: make([]*link, 3), stop: make(chan struct{})}
		n.cond.L = &n.mu
		l := &link{peer: mpc.P1, send: l01.send, recv: l01.recv, recvDataChain: l01.recvDataChain, readerDone: make(chan struct{})}
		n.links[mpc.P1] = l
		n.read(l)

		honest := 0
		for honest < len(msgs) && honest < len(stream) && bytes.Equal(msgs[honest], stream[honest]) {
			honest++
		}
		var want [][]byte
		for _, fr := range stream[:honest] {
			if fr[1] == frameData {
				want = append(want, fr[headerLen:len(fr)-tagLen])
			}
		}
		if len(l.inbox) != len(want) {
			t.Fatalf("delivered %d messages, want %d", len(l.inbox), len(want))
		}
		for i := range want {
			if !bytes.Equal(l.inbox[i], want[i]) {
				t.Fatalf("message %d: %q, want %q", i, l.inbox[i], want[i])
			}
		}
		err := n.Err()
		if ended := honest == len(stream); ended != (err == nil) {
			t.Fatalf("honest frames %d of %d, error %v", honest, len(stream), err)
		}
		var pe *mpc.PeerError
		if err != nil && (!errors.As(err, &pe) || slices.Contains(pe.Suspects(), mpc.P0)) {
			t.Fatalf("error %v names P0 or no one", err)
		}
	})
}

// FuzzParseCheckpoint: any checkpoint payload parses without panicking,
// and whatever parses marshals back to the same bytes.
func FuzzParseCheckpoint(f *testing.F) {
	c := checkpoint{sentData: 3, recvData: 7, sentChain: [32]byte{1}, recvChain: [32]byte{2}}
	f.Add(c.marshal())
	f.Add(make([]byte, checkpointLen-1))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCheckpoint(b)
		if err != nil {
			return
		}
		if got := c.marshal(); !bytes.Equal(got, b) {
			t.Fatalf("round trip: %x → %x", b, got)
		}
	})
}

// FuzzParseAbort: any abort payload (an account) parses without
// panicking; whatever parses marshals back to the same bytes; and no
// party concludes from it, whoever tells it, that it is itself to blame.
func FuzzParseAbort(f *testing.F) {
	for _, c := range []account{
		linkAccount(mpc.P0, mpc.P1, mpc.P1, ErrTag),
		linkAccount(mpc.P2, mpc.P0, mpc.P2, errors.New("connection closed")),
		partyAccount(mpc.P2, mpc.P0, errors.New("a second hello")),
		stoppedAccount(mpc.P1, errors.New("context canceled")),
	} {
		f.Add(c.marshal())
		f.Add(marshalVerdict(&c))
	}
	f.Add([]byte{accountLink, 0, 0, 0})
	f.Add([]byte{accountParty, 1, 1, 1, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if acc, err := parseVerdict(b); err == nil {
			if got := marshalVerdict(acc); !bytes.Equal(got, b) {
				t.Fatalf("verdict round trip: %x → %x", b, got)
			}
		}
		c, err := parseAccount(b)
		if err != nil {
			return
		}
		if got := c.marshal(); !bytes.Equal(got, b) {
			t.Fatalf("round trip: %x → %x", b, got)
		}
		for _, me := range mpc.PartiesOf(3) {
			for _, from := range mpc.PartiesOf(3) {
				if from == me {
					continue // a party's own observations are not told
				}
				pe := c.blame(me, from, nil)
				if pe.Peer == me || slices.Contains(pe.Suspects(), me) {
					t.Fatalf("%s, told %x by %s, names itself: %v", me, b, from, pe)
				}
				_ = pe.Error()
			}
		}
	})
}

// handshakeFixture is what FuzzHandshake's runs share.
type handshakeFixture struct {
	cfgs []Config
	// honest are P1's honest messages to P0 from one run: nonce,
	// evidence, verdict.
	honest [3][]byte
}

var (
	hsFixtureOnce sync.Once
	hsFixture     handshakeFixture
)

// FuzzHandshake: P1's host replaces the nonce, the evidence or the
// verdict P1's code sends P0 with arbitrary bytes. No party accepts the
// session; P0 names P1 (or the network) on the link P1→P0; nobody names
// itself.
func FuzzHandshake(f *testing.F) {
	hsFixtureOnce.Do(func() {
		ats, pol := testAttesters(f, 3)
		hsFixture.cfgs = configs(simulated(ats), pol)
		nets := mpc.NewLocal(3, 10*time.Second)
		var mu sync.Mutex
		var sent [][]byte
		nets[1] = &hostNet{Network: nets[1], out: func(to mpc.Party, msg []byte) [][]byte {
			if to == mpc.P0 {
				mu.Lock()
				sent = append(sent, bytes.Clone(msg))
				mu.Unlock()
			}
			return [][]byte{msg}
		}}
		ns, errs := secureAll(nets, hsFixture.cfgs)
		if failed(errs) {
			f.Fatal(errs)
		}
		for _, n := range ns {
			n.Close()
		}
		copy(hsFixture.honest[:], sent)
	})
	for i, m := range hsFixture.honest {
		f.Add(uint8(i), m)
		f.Add(uint8(i), m[:len(m)/2])
	}
	f.Add(uint8(2), []byte{0})
	f.Add(uint8(2), []byte{1})
	f.Fuzz(func(t *testing.T, which uint8, msg []byte) {
		which %= 3
		nets := mpc.NewLocal(3, 10*time.Second)
		n := 0
		nets[1] = &hostNet{Network: nets[1], out: func(to mpc.Party, m []byte) [][]byte {
			if to == mpc.P0 {
				if n++; n-1 == int(which) {
					return [][]byte{bytes.Clone(msg)}
				}
			}
			return [][]byte{m}
		}}
		_, errs := secureAll(nets, hsFixture.cfgs)
		for p, err := range errs {
			var pe *mpc.PeerError
			switch {
			case err == nil:
				t.Fatalf("P%d accepted the session", p)
			case !errors.As(err, &pe):
				t.Fatalf("P%d: %v: not a PeerError", p, err)
			case pe.Peer == mpc.Party(p) || slices.Contains(pe.Suspects(), mpc.Party(p)):
				t.Fatalf("P%d names itself: %v", p, err)
			}
			if p == 0 && (pe.Peer != mpc.P1 || pe.Either || pe.Link == nil || *pe.Link != (mpc.Link{From: mpc.P1, To: mpc.P0})) {
				t.Fatalf("P0: %v: does not name P1 on the link P1→P0", err)
			}
		}
	})
}

// FuzzParseSettings: the "attestation" section of a parties file (a
// daemon's configuration) never panics, and settings it accepts name a
// known attester and resolve every key file path against the directory.
func FuzzParseSettings(f *testing.F) {
	f.Add([]byte(`{"attester":"tee","policy":{"measurements":["` + strings.Repeat("ab", 48) + `"]}}`))
	f.Add([]byte(`{"attester":"simulated-insecure","policy":{"measurements":["` + strings.Repeat("cd", 48) + `"],"insecure_allow_simulated":true},"simulated_platform_key_files":{"client":"client.platform.pem","server":"/abs/server.pem","helper":""}}`))
	f.Add([]byte(`{"policy":{"measurements":[],"roles":{"client":{"platform_ids":["00"]}}}}`))
	f.Add([]byte(`{"attester":"nope","policy":{}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSettings(b, "/cfg")
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if s.Attester != AttesterTEE && s.Attester != AttesterSimulated {
			t.Fatalf("accepted attester %q", s.Attester)
		}
		for p, path := range s.SimulatedKeyFiles {
			if path != "" && !filepath.IsAbs(path) {
				t.Fatalf("%s's key file %q is not resolved", mpc.Party(p), path)
			}
		}
	})
}
