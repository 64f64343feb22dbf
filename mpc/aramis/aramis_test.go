package aramis

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/attest"
	"veil/mpc"
	"veil/mpc/mpctest"
)

// testAttesters returns n simulated attesters (one platform key each)
// and a policy that accepts exactly them, running this test binary.
func testAttesters(t testing.TB, n int) ([]*attest.Simulated, attest.Policy) {
	t.Helper()
	m, err := attest.SelfMeasurement()
	if err != nil {
		t.Fatal(err)
	}
	pol := attest.Policy{Measurements: [][]byte{m}, InsecureAllowSimulated: true}
	ats := make([]*attest.Simulated, n)
	for i := range ats {
		a, err := attest.NewSimulated(nil)
		if err != nil {
			t.Fatal(err)
		}
		ats[i] = a
		pol.SimulatedPlatformKeys = append(pol.SimulatedPlatformKeys, []byte(a.PlatformKey()))
	}
	return ats, pol
}

// configs returns each party's configuration with the given attesters
// (one per party).
func configs(ats []attest.Attester, pol attest.Policy) []Config {
	cfgs := make([]Config, len(ats))
	for i := range cfgs {
		cfgs[i] = Config{Attester: ats[i], Policy: pol, Commitment: []byte(fmt.Sprintf("input of P%d", i))}
	}
	return cfgs
}

// simulated returns ats as attesters, in a new slice.
func simulated(ats []*attest.Simulated) []attest.Attester {
	out := make([]attest.Attester, len(ats))
	for i, a := range ats {
		out[i] = a
	}
	return out
}

// secureAll runs the handshake for the parties over nets (one config
// each); a party that fails closes its network.
func secureAll(nets []mpc.Network, cfgs []Config) ([]*Network, []error) {
	out := make([]*Network, len(nets))
	errs := mpctest.Parties(len(nets), func(p mpc.Party) error {
		n, err := Secure(nets[p], cfgs[p])
		if err != nil {
			nets[p].Close() // as a party process does when it exits
			return err
		}
		out[p] = n
		return nil
	})
	return out, errs
}

// failed reports whether any party failed.
func failed(errs []error) bool { return errors.Join(errs...) != nil }

// TestHandshakeAndMessages runs the handshake and authenticated messages
// between three parties and between two (the client and the server, with
// no helper): pairwise keys agree, each party sees its peers'
// commitments and claims, messages arrive in order, and the checkpoint
// passes.
func TestHandshakeAndMessages(t *testing.T) {
	for _, parties := range []int{3, 2} {
		t.Run(fmt.Sprintf("%d parties", parties), func(t *testing.T) {
			testHandshakeAndMessages(t, parties)
		})
	}
}

func testHandshakeAndMessages(t *testing.T, parties int) {
	ats, pol := testAttesters(t, parties)
	nets, errs := secureAll(mpc.NewLocal(parties, 10*time.Second), configs(simulated(ats), pol))
	for p, err := range errs {
		if err != nil {
			t.Fatalf("P%d: %v", p, err)
		}
	}
	for a := range nets {
		if got := nets[a].Parties(); got != parties {
			t.Errorf("P%d: Parties() = %d, want %d", a, got, parties)
		}
		for b := range nets {
			if a == b {
				continue
			}
			if !bytes.Equal(nets[a].PairKey(mpc.Party(b)), nets[b].PairKey(mpc.Party(a))) {
				t.Errorf("P%d and P%d derived different pairwise keys", a, b)
			}
			if got, want := string(nets[a].Commitment(mpc.Party(b))), fmt.Sprintf("input of P%d", b); got != want {
				t.Errorf("P%d saw P%d's commitment %q, want %q", a, b, got, want)
			}
			if c := nets[a].Claims(mpc.Party(b)); c == nil || c.Format != attest.FormatSimulated {
				t.Errorf("P%d has no claims for P%d", a, b)
			}
		}
		if nets[a].SessionID() != nets[0].SessionID() {
			t.Errorf("P%d's session id differs", a)
		}
		if parties < mpc.MaxParties {
			absent := mpc.Party(parties)
			if err := nets[a].Send(absent, []byte("x")); err == nil {
				t.Errorf("P%d sent to %s in a %d-party session", a, absent, parties)
			}
			if nets[a].PairKey(absent) != nil || nets[a].Claims(absent) != nil {
				t.Errorf("P%d has a key or claims for %s in a %d-party session", a, absent, parties)
			}
		}
	}
	// Each party sends every peer a few messages, then all checkpoint.
	var wg sync.WaitGroup
	errs = make([]error, parties)
	for p := range nets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := nets[p]
			for i := 0; i < 5; i++ {
				for _, q := range n.peers() {
					if err := n.Send(q, []byte(fmt.Sprintf("%d→%d #%d", p, q, i))); err != nil {
						errs[p] = err
						return
					}
				}
			}
			for i := 0; i < 5; i++ {
				for _, q := range n.peers() {
					got, err := n.Recv(q)
					if err != nil {
						errs[p] = err
						return
					}
					if want := fmt.Sprintf("%d→%d #%d", q, p, i); string(got) != want {
						errs[p] = fmt.Errorf("got %q, want %q", got, want)
						return
					}
				}
			}
			errs[p] = n.Checkpoint()
		}()
	}
	wg.Wait()
	for p, err := range errs {
		if err != nil {
			t.Errorf("P%d: %v", p, err)
		}
	}
	for _, n := range nets {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	}
}

// replaying is an attester that presents evidence recorded in an earlier
// session.
type replaying struct {
	attest.Attester
	old *attest.Evidence
}

func (r *replaying) Attest(rd attest.ReportData) (*attest.Evidence, error) { return r.old, nil }

// TestEvidenceRefused: evidence with a wrong measurement, debug on, stale
// report data, an unpinned platform key, or simulated evidence without
// the insecure setting makes every honest party stop, blaming the party
// that presented it, before any protocol message; with three parties and
// with two (where the helper's cases are the server's).
func TestEvidenceRefused(t *testing.T) {
	for _, parties := range []int{3, 2} {
		t.Run(fmt.Sprintf("%d parties", parties), func(t *testing.T) {
			testEvidenceRefused(t, parties)
		})
	}
}

func testEvidenceRefused(t *testing.T, parties int) {
	ats, pol := testAttesters(t, parties)
	// Evidence from an earlier session, for the stale case: each party's.
	stale := make([]*attest.Evidence, parties)
	{
		nets, errs := secureAll(mpc.NewLocal(parties, 10*time.Second), configs(simulated(ats), pol))
		for p, err := range errs {
			if err != nil {
				t.Fatalf("P%d: %v", p, err)
			}
		}
		for p := range stale {
			ev, err := attest.AttestKey(ats[p], make([]byte, 32), []byte("an earlier session"), []byte("old nonce"))
			if err != nil {
				t.Fatal(err)
			}
			stale[p] = ev
		}
		for _, n := range nets {
			n.Close()
		}
	}
	other, err := attest.NewSimulated(nil)
	if err != nil {
		t.Fatal(err)
	}
	// setup makes culprit c misbehave.
	cases := []struct {
		name    string
		culprit mpc.Party
		setup   func(a []attest.Attester, pol *attest.Policy, c mpc.Party)
		want    string
	}{
		{"wrong measurement", mpc.P1, func(a []attest.Attester, _ *attest.Policy, c mpc.Party) {
			s := *ats[c]
			s.Measurement = bytes.Repeat([]byte{0xAB}, 48)
			a[c] = &s
		}, "not in the allowed set"},
		{"debug on", mpc.P0, func(a []attest.Attester, _ *attest.Policy, c mpc.Party) {
			s := *ats[c]
			s.Debug = true
			a[c] = &s
		}, "debug"},
		{"stale report data", mpc.P2, func(a []attest.Attester, _ *attest.Policy, c mpc.Party) {
			a[c] = &replaying{Attester: ats[c], old: stale[c]}
		}, "report data"},
		{"unpinned platform key", mpc.P2, func(a []attest.Attester, _ *attest.Policy, c mpc.Party) {
			a[c] = other
		}, "platform key"},
		{"simulated refused by default", mpc.P0, func(_ []attest.Attester, p *attest.Policy, _ mpc.Party) {
			p.InsecureAllowSimulated = false
		}, "simulated"},
	}
	for _, c := range cases {
		culprit := min(c.culprit, mpc.Party(parties-1)) // with two parties, P2's cases are P1's
		t.Run(c.name, func(t *testing.T) {
			a, p := simulated(ats), pol
			p.SimulatedPlatformKeys = append([][]byte(nil), pol.SimulatedPlatformKeys...)
			c.setup(a, &p, culprit)
			cfgs := configs(a, pol)
			if !p.InsecureAllowSimulated {
				cfgs = configs(a, p) // every party refuses simulated evidence
			}
			start := time.Now()
			_, errs := secureAll(mpc.NewLocal(parties, 30*time.Second), cfgs)
			for q, err := range errs {
				if !p.InsecureAllowSimulated {
					if err == nil {
						t.Errorf("P%d accepted simulated evidence", q)
					}
					continue
				}
				if mpc.Party(q) == culprit {
					continue
				}
				var pe *mpc.PeerError
				switch {
				case err == nil:
					t.Errorf("P%d accepted the session", q)
				case !errors.As(err, &pe) || pe.Peer != culprit:
					t.Errorf("P%d: %v: does not blame %s", q, err, culprit)
				case errors.Is(err, mpc.ErrTimeout):
					t.Errorf("P%d stopped only by timing out: %v", q, err)
				}
				if err != nil && !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
					t.Errorf("P%d: %v: does not say %q", q, err, c.want)
				}
				t.Logf("P%d: %v", q, err)
			}
			t.Logf("all stopped after %v", time.Since(start))
		})
	}
}

// TestWrongKeyFails: a frame sealed under another key does not verify.
func TestFrameChecks(t *testing.T) {
	ats, pol := testAttesters(t, 3)
	nets, errs := secureAll(mpc.NewLocal(3, 10*time.Second), configs(simulated(ats), pol))
	for p, err := range errs {
		if err != nil {
			t.Fatalf("P%d: %v", p, err)
		}
	}
	defer func() {
		for _, n := range nets {
			n.Close()
		}
	}()
	// Seal frames on copies of P0's state for the P0→P1 link, and open
	// them on copies of P1's state for the same link.
	send := nets[0].links[1].send // not advanced: every case seals from here
	recv := nets[1].links[0].recv
	g := send
	good := sealed(&g, frameData, mpc.P0, mpc.P1, []byte("payload"))
	otherLink := nets[0].links[2].send
	cases := []struct {
		name  string
		frame func() []byte
		want  error
	}{
		{"altered payload", func() []byte { f := bytes.Clone(good); f[headerLen] ^= 1; return f }, ErrTag},
		{"altered length", func() []byte { f := bytes.Clone(good); f[12+3]++; return f }, ErrMalformed},
		{"altered chain field", func() []byte { f := bytes.Clone(good); f[20] ^= 1; return f }, ErrTag},
		{"altered tag", func() []byte { f := bytes.Clone(good); f[len(f)-1] ^= 1; return f }, ErrTag},
		{"wrong key", func() []byte {
			d := send
			d.rec = otherLink.rec
			return sealed(&d, frameData, mpc.P0, mpc.P1, []byte("payload"))
		}, ErrTag},
		{"another link's header", func() []byte {
			d := otherLink
			return sealed(&d, frameData, mpc.P0, mpc.P2, []byte("payload"))
		}, ErrIdentity},
		{"skipped sequence number", func() []byte {
			d := send
			sealed(&d, frameData, mpc.P0, mpc.P1, []byte("lost"))
			return sealed(&d, frameData, mpc.P0, mpc.P1, []byte("payload"))
		}, ErrSequence},
		{"forked chain", func() []byte {
			d := send
			d.chain[0] ^= 1
			return sealed(&d, frameData, mpc.P0, mpc.P1, []byte("payload"))
		}, ErrChain},
		{"truncated", func() []byte { return good[:20] }, ErrMalformed},
	}
	r := recv
	if _, p, err := r.open(bytes.Clone(good), mpc.P0, mpc.P1); err != nil || string(p) != "payload" {
		t.Fatalf("the unaltered frame: %q, %v", p, err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := recv
			_, _, err := r.open(c.frame(), mpc.P0, mpc.P1)
			if !errors.Is(err, c.want) {
				t.Errorf("got %v, want %v", err, c.want)
			}
			if r.rec.Seq() != recv.rec.Seq() || r.chain != recv.chain {
				t.Error("a refused frame advanced the receiver's state")
			}
		})
	}
}

// relaying is a corrupt host presenting to victim, as its own party's
// evidence, the evidence source sent its party (same session, same
// nonces, a genuine platform signature): with three parties P2's host
// relays P1's; with two, P1's host reflects P0's own.
type relaying struct {
	mpc.Network
	victim, source mpc.Party
	mu             sync.Mutex
	sent, recvd    int
}

func (r *relaying) Send(to mpc.Party, msg []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if to == r.victim {
		r.sent++
		if r.sent == 2 { // its own party's evidence: held back, replaced below
			return nil
		}
	}
	return r.Network.Send(to, msg)
}

func (r *relaying) Recv(from mpc.Party) ([]byte, error) {
	b, err := r.Network.Recv(from)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil && from == r.source {
		r.recvd++
		if r.recvd == 2 { // source's evidence
			if err := r.Network.Send(r.victim, bytes.Clone(b)); err != nil {
				return nil, err
			}
		}
	}
	return b, err
}

// TestEvidenceForAnotherRole: evidence binds its party's role, so P1's
// genuine evidence relayed by P2 is refused by P0, naming P2 (or the
// network); P1 names the link between P0 and P2. With two parties, P1's
// host reflects P0's own evidence back to it, as P1's: P0, the only
// honest party, refuses it for its report data (it binds P0's role),
// naming P1 (or the network).
func TestEvidenceForAnotherRole(t *testing.T) {
	t.Run("3 parties", func(t *testing.T) {
		ats, pol := testAttesters(t, 3)
		nets := mpc.NewLocal(3, 30*time.Second)
		nets[mpc.P2] = &relaying{Network: nets[mpc.P2], victim: mpc.P0, source: mpc.P1}
		_, errs := secureAll(nets, configs(simulated(ats), pol))
		l := mpc.Link{From: mpc.P2, To: mpc.P0}
		checkBlame(t, mpc.P0, errs[mpc.P0], blame{link: l})
		if !strings.Contains(errs[mpc.P0].Error(), "report data") {
			t.Errorf("P0: %v: want P2's evidence refused for its report data", errs[mpc.P0])
		}
		// P1 hears of it from P0 or from P2 (whose code finds P0's refusal
		// sealed under P1's key): either way it cannot tell which end of the
		// link between them failed.
		checkBlame(t, mpc.P1, errs[mpc.P1], blame{link: l, either: true, anyDirection: true})
		logErrs(t, errs)
	})
	t.Run("2 parties", func(t *testing.T) {
		ats, pol := testAttesters(t, 2)
		nets := mpc.NewLocal(2, 30*time.Second)
		nets[mpc.P1] = &relaying{Network: nets[mpc.P1], victim: mpc.P0, source: mpc.P0}
		_, errs := secureAll(nets, configs(simulated(ats), pol))
		l := mpc.Link{From: mpc.P1, To: mpc.P0}
		checkBlame(t, mpc.P0, errs[mpc.P0], blame{link: l})
		if !strings.Contains(errs[mpc.P0].Error(), "report data") {
			t.Errorf("P0: %v: want its reflected evidence refused for its report data", errs[mpc.P0])
		}
		logErrs(t, errs)
	})
}

// TestRolePlatformPins: a policy that pins each role's platform (the
// simulated platform key standing for a chip id) admits the parties on
// their own platforms and refuses a party presenting evidence from
// another role's platform, naming the link it arrived on: the helper on
// the server's platform, or with two parties the server on the client's.
func TestRolePlatformPins(t *testing.T) {
	for _, parties := range []int{3, 2} {
		t.Run(fmt.Sprintf("%d parties", parties), func(t *testing.T) {
			ats, pol := testAttesters(t, parties)
			pol.Roles = map[string]attest.RolePolicy{}
			for _, p := range mpc.PartiesOf(parties) {
				pol.Roles[p.Role()] = attest.RolePolicy{PlatformIDs: [][]byte{[]byte(ats[p].PlatformKey())}}
			}
			nets, errs := secureAll(mpc.NewLocal(parties, 10*time.Second), configs(simulated(ats), pol))
			for p, err := range errs {
				if err != nil {
					t.Fatalf("P%d on its pinned platform: %v", p, err)
				}
			}
			for _, n := range nets {
				n.Close()
			}
			// The last party runs on the platform of the one before it.
			culprit := mpc.Party(parties - 1)
			a := simulated(ats)
			a[culprit] = ats[culprit-1]
			_, errs = secureAll(mpc.NewLocal(parties, 10*time.Second), configs(a, pol))
			for _, q := range mpc.PartiesOf(parties) {
				if q == culprit {
					continue
				}
				var pe *mpc.PeerError
				if err := errs[q]; err == nil || !errors.As(err, &pe) || !slices.Contains(pe.Suspects(), culprit) || !strings.Contains(err.Error(), "platform") {
					t.Errorf("%s admitted %s on %s's platform or did not say why: %v", q, culprit, culprit-1, err)
				}
			}
		})
	}
}
