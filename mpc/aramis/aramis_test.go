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

// testAttesters returns three simulated attesters (one platform key each)
// and a policy that accepts exactly them, running this test binary.
func testAttesters(t testing.TB) ([3]*attest.Simulated, attest.Policy) {
	t.Helper()
	m, err := attest.SelfMeasurement()
	if err != nil {
		t.Fatal(err)
	}
	pol := attest.Policy{Measurements: [][]byte{m}, InsecureAllowSimulated: true}
	var ats [3]*attest.Simulated
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

// configs returns each party's configuration with the given attesters.
func configs(ats [3]attest.Attester, pol attest.Policy) [3]Config {
	var cfgs [3]Config
	for i := range cfgs {
		cfgs[i] = Config{Attester: ats[i], Policy: pol, Commitment: []byte(fmt.Sprintf("input of P%d", i))}
	}
	return cfgs
}

func simulated(ats [3]*attest.Simulated) [3]attest.Attester {
	return [3]attest.Attester{ats[0], ats[1], ats[2]}
}

// secure3 runs the handshake for the three parties over nets; a party
// that fails closes its network.
func secure3(nets []mpc.Network, cfgs [3]Config) ([3]*Network, [3]error) {
	var out [3]*Network
	errs := mpctest.Parties(len(nets), func(p mpc.Party) error {
		n, err := Secure(nets[p], cfgs[p])
		if err != nil {
			nets[p].Close() // as a party process does when it exits
			return err
		}
		out[p] = n
		return nil
	})
	return out, [3]error(errs)
}

func TestHandshakeAndMessages(t *testing.T) {
	ats, pol := testAttesters(t)
	nets, errs := secure3(mpc.NewLocal(3, 10*time.Second), configs(simulated(ats), pol))
	for p, err := range errs {
		if err != nil {
			t.Fatalf("P%d: %v", p, err)
		}
	}
	for a := range nets {
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
	}
	// Each party sends every peer a few messages, then all checkpoint.
	var wg sync.WaitGroup
	errs = [3]error{}
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
// that presented it, before any protocol message.
func TestEvidenceRefused(t *testing.T) {
	ats, pol := testAttesters(t)
	// Evidence from an earlier session, for the stale case.
	var stale *attest.Evidence
	{
		nets, errs := secure3(mpc.NewLocal(3, 10*time.Second), configs(simulated(ats), pol))
		for p, err := range errs {
			if err != nil {
				t.Fatalf("P%d: %v", p, err)
			}
		}
		ev, err := attest.AttestKey(ats[2], make([]byte, 32), []byte("an earlier session"), []byte("old nonce"))
		if err != nil {
			t.Fatal(err)
		}
		stale = ev
		for _, n := range nets {
			n.Close()
		}
	}
	other, err := attest.NewSimulated(nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		culprit mpc.Party
		setup   func(ats *[3]attest.Attester, pol *attest.Policy)
		want    string
	}{
		{"wrong measurement", mpc.P1, func(a *[3]attest.Attester, _ *attest.Policy) {
			s := *ats[1]
			s.Measurement = bytes.Repeat([]byte{0xAB}, 48)
			a[1] = &s
		}, "not in the allowed set"},
		{"debug on", mpc.P0, func(a *[3]attest.Attester, _ *attest.Policy) {
			s := *ats[0]
			s.Debug = true
			a[0] = &s
		}, "debug"},
		{"stale report data", mpc.P2, func(a *[3]attest.Attester, _ *attest.Policy) {
			a[2] = &replaying{Attester: ats[2], old: stale}
		}, "report data"},
		{"unpinned platform key", mpc.P2, func(a *[3]attest.Attester, _ *attest.Policy) {
			a[2] = other
		}, "platform key"},
		{"simulated refused by default", mpc.P0, func(_ *[3]attest.Attester, p *attest.Policy) {
			p.InsecureAllowSimulated = false
		}, "simulated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, p := simulated(ats), pol
			p.SimulatedPlatformKeys = append([][]byte(nil), pol.SimulatedPlatformKeys...)
			c.setup(&a, &p)
			cfgs := configs(a, pol)
			if !p.InsecureAllowSimulated {
				cfgs = configs(a, p) // every party refuses simulated evidence
			}
			start := time.Now()
			_, errs := secure3(mpc.NewLocal(3, 30*time.Second), cfgs)
			for q, err := range errs {
				if !p.InsecureAllowSimulated {
					if err == nil {
						t.Errorf("P%d accepted simulated evidence", q)
					}
					continue
				}
				if mpc.Party(q) == c.culprit {
					continue
				}
				var pe *mpc.PeerError
				switch {
				case err == nil:
					t.Errorf("P%d accepted the session", q)
				case !errors.As(err, &pe) || pe.Peer != c.culprit:
					t.Errorf("P%d: %v: does not blame %s", q, err, c.culprit)
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
	ats, pol := testAttesters(t)
	nets, errs := secure3(mpc.NewLocal(3, 10*time.Second), configs(simulated(ats), pol))
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

// relaying is P2's host presenting to P0, as P2's evidence, the evidence
// P1 sent it (same session, same nonces, a genuine platform signature).
type relaying struct {
	mpc.Network
	mu          sync.Mutex
	sent, recvd int
}

func (r *relaying) Send(to mpc.Party, msg []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if to == mpc.P0 {
		r.sent++
		if r.sent == 2 { // P2's own evidence: held back, replaced below
			return nil
		}
	}
	return r.Network.Send(to, msg)
}

func (r *relaying) Recv(from mpc.Party) ([]byte, error) {
	b, err := r.Network.Recv(from)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil && from == mpc.P1 {
		r.recvd++
		if r.recvd == 2 { // P1's evidence
			if err := r.Network.Send(mpc.P0, bytes.Clone(b)); err != nil {
				return nil, err
			}
		}
	}
	return b, err
}

// TestEvidenceForAnotherRole: evidence binds its party's role, so P1's
// genuine evidence relayed by P2 is refused by P0, naming P2 (or the
// network); P1 names the link between P0 and P2.
func TestEvidenceForAnotherRole(t *testing.T) {
	ats, pol := testAttesters(t)
	nets := mpc.NewLocal(3, 30*time.Second)
	nets[mpc.P2] = &relaying{Network: nets[mpc.P2]}
	_, errs := secure3(nets, configs(simulated(ats), pol))
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
}

// TestRolePlatformPins: a policy that pins each role's platform (the
// simulated platform key standing for a chip id) admits the parties on
// their own platforms and refuses a party presenting evidence from
// another role's platform, naming the link it arrived on.
func TestRolePlatformPins(t *testing.T) {
	ats, pol := testAttesters(t)
	pol.Roles = map[string]attest.RolePolicy{}
	for _, p := range mpc.PartiesOf(3) {
		pol.Roles[p.Role()] = attest.RolePolicy{PlatformIDs: [][]byte{[]byte(ats[p].PlatformKey())}}
	}
	nets, errs := secure3(mpc.NewLocal(3, 10*time.Second), configs(simulated(ats), pol))
	for p, err := range errs {
		if err != nil {
			t.Fatalf("P%d on its pinned platform: %v", p, err)
		}
	}
	for _, n := range nets {
		n.Close()
	}
	// The helper runs on the server's platform.
	a := simulated(ats)
	a[mpc.P2] = ats[mpc.P1]
	_, errs = secure3(mpc.NewLocal(3, 10*time.Second), configs(a, pol))
	for _, q := range []mpc.Party{mpc.P0, mpc.P1} {
		var pe *mpc.PeerError
		if err := errs[q]; err == nil || !errors.As(err, &pe) || !slices.Contains(pe.Suspects(), mpc.P2) || !strings.Contains(err.Error(), "platform") {
			t.Errorf("%s admitted the helper on the server's platform or did not say why: %v", q, err)
		}
	}
}

// TestTwoParties runs the handshake and authenticated messages between
// two parties: the client and the server, with no helper.
func TestTwoParties(t *testing.T) {
	ats, pol := testAttesters(t)
	cfgs := configs(simulated(ats), pol)
	local := mpc.NewLocal(2, 10*time.Second)
	var nets [2]*Network
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for p := range local {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if nets[p], errs[p] = Secure(local[p], cfgs[p]); errs[p] != nil {
				local[p].Close()
			}
		}()
	}
	wg.Wait()
	for p, err := range errs {
		if err != nil {
			t.Fatalf("P%d: %v", p, err)
		}
	}
	defer nets[0].Close()
	defer nets[1].Close()
	if nets[0].Parties() != 2 || !bytes.Equal(nets[0].PairKey(mpc.P1), nets[1].PairKey(mpc.P0)) {
		t.Fatal("no shared pair key")
	}
	if err := nets[0].Send(mpc.P1, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if m, err := nets[1].Recv(mpc.P0); err != nil || string(m) != "hello" {
		t.Fatalf("P1 got %q, %v", m, err)
	}
	if err := nets[1].Send(mpc.P2, []byte("x")); err == nil {
		t.Error("sent to P2 in a two-party session")
	}
	for p := range nets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[p] = nets[p].Checkpoint()
		}()
	}
	wg.Wait()
	for p, err := range errs {
		if err != nil {
			t.Fatalf("P%d checkpoint: %v", p, err)
		}
	}
}
