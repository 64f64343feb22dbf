package aramis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"veil/fixed"
	"veil/mpc"
	"veil/mpc/mpctest"
)

// Tests of who gets blamed, by whom, for every place a corrupt host or
// the network can tamper with what passes between two parties' attested
// code. The rules (see the package documentation): a failure on a link
// is named as the link's; at an end of it the error names the other end
// (or the network), at the third party (with three parties) both ends;
// no honest party ever names itself; no output is released. Each test
// runs with three parties and with two (settings, partyCounts), or has
// a counterpart for the other count.

// hostNet is a party's host, or the network at that party: out sees
// every message the party's code sends (and returns what is sent
// instead), in every message before the code reads it. Close waits for
// hold, when set, so that a corrupt host can keep its connections open.
type hostNet struct {
	mpc.Network
	out  func(to mpc.Party, msg []byte) [][]byte
	in   func(from mpc.Party, msg []byte) ([]byte, error)
	hold chan struct{}
}

func (h *hostNet) Send(to mpc.Party, msg []byte) error {
	if h.out == nil {
		return h.Network.Send(to, msg)
	}
	for _, m := range h.out(to, msg) {
		if err := h.Network.Send(to, m); err != nil {
			return err
		}
	}
	return nil
}

func (h *hostNet) Recv(from mpc.Party) ([]byte, error) {
	b, err := h.Network.Recv(from)
	if err != nil || h.in == nil {
		return b, err
	}
	return h.in(from, b)
}

func (h *hostNet) Close() error {
	if h.hold != nil {
		select {
		case <-h.hold:
		case <-time.After(20 * time.Second):
		}
	}
	return h.Network.Close()
}

// isData reports whether msg is a data frame (a protocol message).
func isData(msg []byte) bool {
	return len(msg) > Overhead && msg[0] == version && msg[1] == frameData
}

// tamperData returns a hook that flips a payload byte of the at-th data
// frame (from 0) it sees, and records that it did.
func tamperData(at int, did *sync.Once, when *time.Time) func([]byte) []byte {
	var mu sync.Mutex
	n := 0
	return func(msg []byte) []byte {
		if !isData(msg) {
			return msg
		}
		mu.Lock()
		k := n
		n++
		mu.Unlock()
		if k == at {
			did.Do(func() { *when = time.Now() })
			msg[headerLen+(len(msg)-Overhead)/2] ^= 0x20
		}
		return msg
	}
}

// A setting is a secure backend the inference tests run under Aramis,
// with the program they run.
type setting struct {
	backend string // its registered name
	program func(testing.TB) (*fixed.Program, []uint64)
}

// settings: Porthos's three parties on the bundled LeNet, and the two
// parties of 2PC on a smaller program (a 2PC LeNet inference is several
// times slower, and the misbehaviour matrix runs two per case).
var settings = []setting{{"3pc", lenet}, {"2pc", small}}

// A fixture is a setting made ready to run: the parties' configurations
// (simulated attestation), the program and its input.
type fixture struct {
	backend *mpc.Backend
	parties int
	cfgs    []Config
	prog    *fixed.Program
	x       []uint64
}

// forEach runs f on each setting's fixture, as a subtest named by the
// backend: one test body for two and three parties.
func forEach(t *testing.T, f func(t *testing.T, fx *fixture)) {
	for _, s := range settings {
		t.Run(s.backend, func(t *testing.T) { f(t, newFixture(t, s)) })
	}
}

// newFixture makes setting s ready to run.
func newFixture(t *testing.T, s setting) *fixture {
	t.Helper()
	b, err := mpc.Lookup(s.backend)
	if err != nil {
		t.Fatal(err)
	}
	ats, pol := testAttesters(t, b.Parties)
	fx := &fixture{backend: b, parties: b.Parties, cfgs: configs(simulated(ats), pol)}
	fx.prog, fx.x = s.program(t)
	return fx
}

// partyCounts are the session sizes of the handshake tests.
var partyCounts = []int{3, 2}

// forParties runs f for each session size, as a subtest.
func forParties(t *testing.T, f func(t *testing.T, parties int)) {
	for _, n := range partyCounts {
		t.Run(fmt.Sprintf("%d parties", n), func(t *testing.T) { f(t, n) })
	}
}

// nets returns the fixture's parties' in-process networks.
func (fx *fixture) nets() []mpc.Network { return mpc.NewLocal(fx.parties, 30*time.Second) }

// run runs the fixture's program on its input with its parties over
// nets (see inference).
func (fx *fixture) run(nets []mpc.Network, done func(mpc.Party)) ([][][]uint64, []error) {
	return inference(fx.backend, nets, fx.cfgs, fx.prog, fx.x, context.Background(), done)
}

// inference runs prog on x on backend b with its parties over nets,
// each under Aramis with its config, and returns each party's outputs
// and error. P0 runs under ctx0, the others under
// context.Background(); done(p) is called when party p has finished (its
// network closed or, for a held one, closing).
func inference(b *mpc.Backend, nets []mpc.Network, cfgs []Config, prog *fixed.Program, x []uint64, ctx0 context.Context, done func(mpc.Party)) ([][][]uint64, []error) {
	outs := make([][][]uint64, len(nets))
	pub := prog.Public()
	errs := mpctest.Parties(len(nets), func(me mpc.Party) error {
		n, err := Secure(nets[me], cfgs[me])
		if err != nil {
			done(me)
			nets[me].Close()
			return err
		}
		defer n.Close()
		defer done(me)
		e, err := b.New(n, nil)
		if err != nil {
			return err
		}
		switch me {
		case mpc.P0:
			outs[me], err = e.Run(ctx0, pub, x)
		case mpc.P1:
			outs[me], err = e.Run(context.Background(), prog)
		default:
			outs[me], err = e.Run(context.Background(), pub)
		}
		return err
	})
	return outs, errs
}

// blame is what an honest party's error must say.
type blame struct {
	link mpc.Link // the link named
	// either: the error names both ends; otherwise it names the end that
	// is not the party itself.
	either bool
	// anyDirection accepts the link either way round (a cut connection is
	// seen first by whichever end reads or writes first).
	anyDirection bool
	// is: the error wraps this, if set. mpc.ErrTimeout says that the
	// party may stop only by the silence timeout (nothing authenticated
	// can tell it more); otherwise a timeout is a failure.
	is error
}

// checkBlame checks honest party p's error: it is a PeerError that does
// not name p, did not come from a timeout, and says one of wants.
func checkBlame(t *testing.T, p mpc.Party, err error, wants ...blame) {
	t.Helper()
	var pe *mpc.PeerError
	switch {
	case err == nil:
		t.Errorf("%s finished without noticing", p)
		return
	case !errors.As(err, &pe):
		t.Errorf("%s: %v: not a PeerError", p, err)
		return
	case errors.Is(err, mpc.ErrTimeout) && !slices.ContainsFunc(wants, func(w blame) bool { return w.is == mpc.ErrTimeout }):
		t.Errorf("%s stopped only by timing out: %v", p, err)
	}
	if slices.Contains(pe.Suspects(), p) || pe.Peer == p {
		t.Errorf("%s names itself: %v", p, err)
	}
	var problems []string
	for _, want := range wants {
		pr := mismatch(p, err, pe, want)
		if len(pr) == 0 {
			return
		}
		problems = append(problems, strings.Join(pr, "; "))
	}
	t.Errorf("%s: %v:\n\t%s", p, err, strings.Join(problems, "\n\tor: "))
}

// mismatch lists how error err (pe) of party p differs from want.
func mismatch(p mpc.Party, err error, pe *mpc.PeerError, want blame) []string {
	var pr []string
	if want.is != nil && !errors.Is(err, want.is) {
		pr = append(pr, fmt.Sprintf("not caught by the %q check", want.is))
	}
	if pe.Link == nil {
		return append(pr, fmt.Sprintf("names no link, want %s", want.link))
	}
	got := *pe.Link
	if got != want.link && !(want.anyDirection && got == mpc.Link{From: want.link.To, To: want.link.From}) {
		pr = append(pr, fmt.Sprintf("names link %s, want %s", got, want.link))
	}
	if pe.Either != want.either {
		pr = append(pr, fmt.Sprintf("Either = %v, want %v", pe.Either, want.either))
	}
	if !strings.Contains(err.Error(), got.String()) {
		pr = append(pr, "the text does not name the link")
	}
	if !want.either {
		other := got.From
		if other == p {
			other = got.To
		}
		if pe.Peer != other {
			pr = append(pr, fmt.Sprintf("Peer = %s, want %s", pe.Peer, other))
		}
		if !strings.Contains(err.Error(), other.String()+" or the network") {
			pr = append(pr, fmt.Sprintf("does not say %q", other.String()+" or the network"))
		}
	} else if s := pe.Suspects(); len(s) != 2 || !strings.Contains(err.Error(), s[0].String()+" or "+s[1].String()) {
		pr = append(pr, "does not name both ends")
	}
	return pr
}

// expect returns what honest party p must say about a failure on link l:
// the other end at an end of it, both ends at the third party.
func expect(p mpc.Party, l mpc.Link, is error) blame {
	if p != l.From && p != l.To {
		return blame{link: l, either: true}
	}
	b := blame{link: l}
	if p == l.To {
		b.is = is
	}
	return b
}

// Tamper positions on a link S→R.
const (
	atSender   = "the sender's host (outbound)"
	atReceiver = "the receiver's host (inbound)"
	onWire     = "the network"
)

// honest returns the parties of an n-party session that are honest when
// the tampering happens at pos on link l.
func honest(pos string, l mpc.Link, n int) []mpc.Party {
	var ps []mpc.Party
	for _, p := range mpc.PartiesOf(n) {
		if (pos == atSender && p == l.From) || (pos == atReceiver && p == l.To) {
			continue
		}
		ps = append(ps, p)
	}
	return ps
}

// links returns the directed links of an n-party session, each pair's
// two directions in turn.
func links(n int) []mpc.Link {
	var ls []mpc.Link
	for _, a := range mpc.PartiesOf(n) {
		for b := a + 1; int(b) < n; b++ {
			ls = append(ls, mpc.Link{From: a, To: b}, mpc.Link{From: b, To: a})
		}
	}
	return ls
}

// dataCounts caches countData's result by backend: a setting's program
// and input are fixed, and so is the number of data frames on each link
// (heartbeats and checkpoints are not data).
var dataCounts struct {
	sync.Mutex
	by map[string][][]int
}

// countData counts, in an honest run, the data frames on every link:
// counts[from][to].
func (fx *fixture) countData(t *testing.T) [][]int {
	t.Helper()
	dataCounts.Lock()
	defer dataCounts.Unlock()
	if c, ok := dataCounts.by[fx.backend.Name]; ok {
		return c
	}
	var mu sync.Mutex
	counts := make([][]int, fx.parties)
	for p := range counts {
		counts[p] = make([]int, fx.parties)
	}
	nets := fx.nets()
	for p := range nets {
		nets[p] = &hostNet{Network: nets[p], out: func(to mpc.Party, msg []byte) [][]byte {
			if isData(msg) {
				mu.Lock()
				counts[p][to]++
				mu.Unlock()
			}
			return [][]byte{msg}
		}}
	}
	if _, errs := fx.run(nets, func(mpc.Party) {}); failed(errs) {
		t.Fatalf("honest run: %v", errs)
	}
	if dataCounts.by == nil {
		dataCounts.by = map[string][][]int{}
	}
	dataCounts.by[fx.backend.Name] = counts
	return counts
}

// TestAttributionAlteredFrame: a payload byte of a data frame on each
// link is flipped by the sender's host after its code sent it, by the
// receiver's host before its code reads it, or by the network. The
// receiver catches it by the tag and names the sender or the network,
// the sender names the receiver or the network, the third party (with
// three parties) names both; no honest party names itself, and P0
// releases no output. (A corrupt receiving host used to make every party
// blame the sender.)
func TestAttributionAlteredFrame(t *testing.T) {
	forEach(t, func(t *testing.T, fx *fixture) {
		counts := fx.countData(t)
		for _, l := range links(fx.parties) {
			for _, pos := range []string{atSender, atReceiver, onWire} {
				t.Run(fmt.Sprintf("%s/%s", l, pos), func(t *testing.T) {
					at := counts[l.From][l.To] / 2
					var did sync.Once
					var when time.Time
					alter := tamperData(at, &did, &when)
					nets := fx.nets()
					if pos == atSender {
						nets[l.From] = &hostNet{Network: nets[l.From], out: func(to mpc.Party, msg []byte) [][]byte {
							if to == l.To {
								msg = alter(msg)
							}
							return [][]byte{msg}
						}}
					} else {
						nets[l.To] = &hostNet{Network: nets[l.To], in: func(from mpc.Party, msg []byte) ([]byte, error) {
							if from == l.From {
								msg = alter(msg)
							}
							return msg, nil
						}}
					}
					outs, errs := fx.run(nets, func(mpc.Party) {})
					if when.IsZero() {
						t.Fatalf("no data frame %d on %s", at, l)
					}
					for _, p := range honest(pos, l, fx.parties) {
						checkBlame(t, p, errs[p], expect(p, l, ErrTag))
					}
					if outs[0] != nil {
						t.Error("P0 released an output")
					}
					logErrs(t, errs)
				})
			}
		}
	})
}

func logErrs(t *testing.T, errs []error) {
	t.Helper()
	for p, err := range errs {
		t.Logf("P%d: %v", p, err)
	}
}

// TestAttributionAbortRelayed: P1's host flips a byte of a frame P0
// sent before P1's code reads it, then suppresses P1's abort to P2 and
// keeps its connections open. P0 relays P1's authenticated account, so
// P2 names the link P0→P1 (both ends) promptly instead of blaming
// whoever closed first; P0 names P1 or the network. (Three parties; see
// TestAttributionAbortSuppressed for two.)
func TestAttributionAbortRelayed(t *testing.T) {
	fx := newFixture(t, setting{"3pc", lenet})
	counts := fx.countData(t)
	l := mpc.Link{From: mpc.P0, To: mpc.P1}
	var did sync.Once
	var when time.Time
	alter := tamperData(counts[0][1]/2, &did, &when)
	nets := fx.nets()
	hold := make(chan struct{})
	nets[mpc.P1] = &hostNet{
		Network: nets[mpc.P1],
		in: func(from mpc.Party, msg []byte) ([]byte, error) {
			if from == mpc.P0 {
				msg = alter(msg)
			}
			return msg, nil
		},
		out: func(to mpc.Party, msg []byte) [][]byte {
			if to == mpc.P2 && !when.IsZero() && len(msg) >= Overhead && msg[1] != frameData {
				return nil // the abort, and anything else after the tampering
			}
			return [][]byte{msg}
		},
		hold: hold,
	}
	var mu sync.Mutex
	left := 2
	outs, errs := fx.run(nets, func(p mpc.Party) {
		if p == mpc.P1 {
			return
		}
		mu.Lock()
		if left--; left == 0 {
			close(hold)
		}
		mu.Unlock()
	})
	if when.IsZero() {
		t.Fatal("the corrupt host never tampered")
	}
	for _, p := range []mpc.Party{mpc.P0, mpc.P2} {
		checkBlame(t, p, errs[p], expect(p, l, ErrTag))
	}
	if outs[0] != nil {
		t.Error("P0 released an output")
	}
	logErrs(t, errs)
}

// TestAttributionAbortSuppressed is TestAttributionAbortRelayed with two
// parties: P1's host flips a byte of a frame P0 sent before P1's code
// reads it, then suppresses P1's abort (and every other frame but data)
// to P0. With no third party to relay P1's account, P0 learns of it
// only from P1's silence: when P1's host then closes its connections,
// P0 names P1 or the network at once; when it keeps them open, P0 stops
// by the silence timeout (Config.Timeout, short here) naming the link
// P1→P0, which is all it can know. P0 never names itself and releases
// no output.
func TestAttributionAbortSuppressed(t *testing.T) {
	fx := newFixture(t, setting{"2pc", small})
	counts := fx.countData(t)
	for _, c := range []struct {
		name string
		hold bool
		want blame
	}{
		{"closes", false, blame{link: mpc.Link{From: mpc.P1, To: mpc.P0}, anyDirection: true}},
		{"holds", true, blame{link: mpc.Link{From: mpc.P1, To: mpc.P0}, is: mpc.ErrTimeout}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfgs := slices.Clone(fx.cfgs)
			if c.hold { // P0 can only time out: briefly
				for p := range cfgs {
					cfgs[p].Timeout = time.Second
				}
			}
			var did sync.Once
			var when time.Time
			alter := tamperData(counts[0][1]/2, &did, &when)
			var tampered atomic.Bool
			nets := fx.nets()
			host := &hostNet{
				Network: nets[mpc.P1],
				in: func(from mpc.Party, msg []byte) ([]byte, error) {
					msg = alter(msg) // P1's reader of P0's frames, which alone touches when
					if !when.IsZero() {
						tampered.Store(true)
					}
					return msg, nil
				},
				out: func(to mpc.Party, msg []byte) [][]byte {
					if tampered.Load() && len(msg) >= Overhead && msg[1] != frameData {
						return nil // the abort, and anything else after the tampering
					}
					return [][]byte{msg}
				},
			}
			hold := make(chan struct{})
			if c.hold {
				host.hold = hold
			}
			nets[mpc.P1] = host
			outs, errs := inference(fx.backend, nets, cfgs, fx.prog, fx.x, context.Background(), func(p mpc.Party) {
				if p == mpc.P0 {
					close(hold)
				}
			})
			if !tampered.Load() {
				t.Fatal("the corrupt host never tampered")
			}
			checkBlame(t, mpc.P0, errs[mpc.P0], c.want)
			if outs[0] != nil {
				t.Error("P0 released an output")
			}
			logErrs(t, errs)
		})
	}
}

// TestAttributionForgedVerdict: the handshake verdict the sender of a
// link sends its receiver is replaced by a refusal (by the sender's host,
// or by the network), on each link. A verdict that does not verify under
// the link's key says nothing about who sent it: the receiver names the
// sender or the network, never itself, the sender names the receiver or
// the network, and the third party (with three parties) names both ends.
func TestAttributionForgedVerdict(t *testing.T) {
	forParties(t, func(t *testing.T, parties int) {
		ats, pol := testAttesters(t, parties)
		cfgs := configs(simulated(ats), pol)
		for _, l := range links(parties) {
			for _, pos := range []string{atSender, onWire} {
				for _, forged := range [][]byte{{0}, make([]byte, 60)} {
					t.Run(fmt.Sprintf("%s/%s/%d_bytes", l, pos, len(forged)), func(t *testing.T) {
						nets := mpc.NewLocal(parties, 30*time.Second)
						n := 0
						nets[l.From] = &hostNet{Network: nets[l.From], out: func(to mpc.Party, msg []byte) [][]byte {
							if to == l.To {
								if n++; n == 3 { // nonce, evidence, verdict
									return [][]byte{forged}
								}
							}
							return [][]byte{msg}
						}}
						_, errs := secureAll(nets, cfgs)
						for _, p := range honest(pos, l, parties) {
							checkBlame(t, p, errs[p], expect(p, l, nil))
						}
						logErrs(t, errs)
					})
				}
			}
		}
	})
}

// TestAttributionHandshakeTampered: a byte of a nonce or of evidence is
// flipped on a link during the handshake, when nothing is authenticated
// yet. The receiver refuses it, naming the sender or the network, and
// still tells the third party (whose link with it is sound) and the
// sender, authenticated, what it saw: the third party names both ends,
// the sender names the receiver or the network. With two parties, both
// directions of the one link.
func TestAttributionHandshakeTampered(t *testing.T) {
	tampered := map[int][]mpc.Link{
		3: {{From: 1, To: 0}, {From: 0, To: 2}, {From: 2, To: 1}},
		2: {{From: 1, To: 0}, {From: 0, To: 1}},
	}
	forParties(t, func(t *testing.T, parties int) {
		ats, pol := testAttesters(t, parties)
		cfgs := configs(simulated(ats), pol)
		for _, l := range tampered[parties] {
			for _, what := range []string{"nonce", "evidence"} {
				for _, pos := range []string{atSender, atReceiver} {
					t.Run(fmt.Sprintf("%s/%s/%s", l, what, pos), func(t *testing.T) {
						index := 0 // nonce
						if what == "evidence" {
							index = 1
						}
						var mu sync.Mutex
						n := 0
						alter := func(msg []byte) []byte {
							mu.Lock()
							defer mu.Unlock()
							if n++; n-1 == index {
								msg[len(msg)/2] ^= 0x04
							}
							return msg
						}
						nets := mpc.NewLocal(parties, 30*time.Second)
						if pos == atSender {
							nets[l.From] = &hostNet{Network: nets[l.From], out: func(to mpc.Party, msg []byte) [][]byte {
								if to == l.To {
									msg = alter(msg)
								}
								return [][]byte{msg}
							}}
						} else {
							nets[l.To] = &hostNet{Network: nets[l.To], in: func(from mpc.Party, msg []byte) ([]byte, error) {
								if from == l.From {
									msg = alter(msg)
								}
								return msg, nil
							}}
						}
						_, errs := secureAll(nets, cfgs)
						for _, p := range honest(pos, l, parties) {
							want := expect(p, l, nil)
							// The sender of an altered nonce finds that the
							// receiver's evidence does not bind it, which a
							// stale evidence would do too: it names the link
							// between them from the other side.
							want.anyDirection = what == "nonce"
							checkBlame(t, p, errs[p], want)
						}
						logErrs(t, errs)
					})
				}
			}
		}
	})
}

// TestAttributionStaleEvidence: P1's host presents to P0, as P1's
// evidence, P1's evidence message from an earlier session (genuine,
// self-consistent, signed by P1's platform, but binding other nonces and
// another key). P0 finds that its view does not hold the nonces of this
// session, which is also what a nonce altered on its way looks like: it
// names P1 or the network on the link it arrived on, and P2 (with three
// parties) names both ends. (Found by FuzzHandshake: P0 used to name the
// link P0→P1 for a stale view of its own nonce.)
func TestAttributionStaleEvidence(t *testing.T) {
	forParties(t, func(t *testing.T, parties int) {
		ats, pol := testAttesters(t, parties)
		cfgs := configs(simulated(ats), pol)
		var old []byte
		{
			nets := mpc.NewLocal(parties, 30*time.Second)
			n := 0
			nets[1] = &hostNet{Network: nets[1], out: func(to mpc.Party, msg []byte) [][]byte {
				if to == mpc.P0 {
					if n++; n == 2 {
						old = bytes.Clone(msg)
					}
				}
				return [][]byte{msg}
			}}
			ns, errs := secureAll(nets, cfgs)
			if failed(errs) {
				t.Fatal(errs)
			}
			for _, n := range ns {
				n.Close()
			}
		}
		nets := mpc.NewLocal(parties, 30*time.Second)
		n := 0
		nets[1] = &hostNet{Network: nets[1], out: func(to mpc.Party, msg []byte) [][]byte {
			if to == mpc.P0 {
				if n++; n == 2 {
					return [][]byte{old}
				}
			}
			return [][]byte{msg}
		}}
		_, errs := secureAll(nets, cfgs)
		l := mpc.Link{From: mpc.P1, To: mpc.P0}
		checkBlame(t, mpc.P0, errs[mpc.P0], blame{link: l})
		if !strings.Contains(errs[mpc.P0].Error(), "or the evidence is stale") {
			t.Errorf("P0: %v: not refused for its stale view", errs[mpc.P0])
		}
		if parties > 2 {
			// P2 hears from P0, or from P1 (which cannot verify P0's verdict,
			// sealed under the key of the stale evidence).
			checkBlame(t, mpc.P2, errs[mpc.P2], blame{link: l, either: true, anyDirection: true})
		}
		logErrs(t, errs)
	})
}

// cutNet is one end of a link the network cuts: once cut is closed,
// sends to the other end fail and receives from it fail.
type cutNet struct {
	mpc.Network
	other mpc.Party
	cut   chan struct{}
	after func(msg []byte) // sees every message sent to other
	pump  chan recvd
	once  sync.Once
}

type recvd struct {
	b   []byte
	err error
}

var errCut = errors.New("connection reset by the network")

func (c *cutNet) Send(to mpc.Party, msg []byte) error {
	if to == c.other {
		select {
		case <-c.cut:
			return errCut
		default:
		}
		c.after(msg)
	}
	return c.Network.Send(to, msg)
}

func (c *cutNet) Recv(from mpc.Party) ([]byte, error) {
	if from != c.other {
		return c.Network.Recv(from)
	}
	c.once.Do(func() {
		c.pump = make(chan recvd, 1)
		go func() {
			for {
				b, err := c.Network.Recv(from)
				c.pump <- recvd{b, err}
				if err != nil {
					return
				}
			}
		}()
	})
	select {
	case <-c.cut:
		return nil, errCut
	case r := <-c.pump:
		select {
		case <-c.cut:
			return nil, errCut
		default:
		}
		return r.b, r.err
	}
}

// TestAttributionCutConnection: the network cuts the connection between
// P0 and P1 in the middle of an inference. Each end names the other (or
// the network), and P2 (with three parties), whose links are sound,
// learns of it from the ends' authenticated accounts and names both,
// without timing out.
func TestAttributionCutConnection(t *testing.T) {
	forEach(t, func(t *testing.T, fx *fixture) {
		counts := fx.countData(t)
		nets := fx.nets()
		cut := make(chan struct{})
		var once sync.Once
		n, at := 0, counts[0][1]/2
		var mu sync.Mutex
		after := func(msg []byte) {
			if !isData(msg) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if n++; n == at {
				once.Do(func() { close(cut) })
			}
		}
		nets[0] = &cutNet{Network: nets[0], other: mpc.P1, cut: cut, after: after}
		nets[1] = &cutNet{Network: nets[1], other: mpc.P0, cut: cut, after: func([]byte) {}}
		outs, errs := fx.run(nets, func(mpc.Party) {})
		l := mpc.Link{From: mpc.P0, To: mpc.P1}
		for _, p := range mpc.PartiesOf(fx.parties) {
			want := expect(p, l, nil)
			want.anyDirection = true
			checkBlame(t, p, errs[p], want)
		}
		if outs[0] != nil {
			t.Error("P0 released an output")
		}
		logErrs(t, errs)
	})
}

// killNet is a party's host that kills the party's process after its
// code has sent at data frames to victim: every connection closes, and
// the code sends nothing more.
type killNet struct {
	mpc.Network
	victim mpc.Party
	at     int
	mu     sync.Mutex
	n      int
	dead   bool
}

func (k *killNet) Send(to mpc.Party, msg []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dead {
		return errCut
	}
	if to == k.victim && (isData(msg) || k.at < 0) {
		if k.n == k.at || k.at < 0 && k.n == -k.at {
			k.dead = true
			k.Network.Close()
			return errCut
		}
		k.n++
	}
	return k.Network.Send(to, msg)
}

// TestAttributionKilledParty: P1's (or P0's) process dies in the middle
// of the inference, or in the handshake after sending its nonce: its
// connections close without an abort. Every other party names the dead
// one (or the network), or, if an end's authenticated account arrives
// first (with three parties), the link between the dead party and that
// end; never itself.
func TestAttributionKilledParty(t *testing.T) {
	forEach(t, func(t *testing.T, fx *fixture) {
		counts := fx.countData(t)
		for _, killed := range []mpc.Party{mpc.P1, mpc.P0} {
			victim := 1 - killed // whose data frames from killed count
			for _, c := range []struct {
				name string
				at   int
			}{{"inference", counts[killed][victim] / 2}, {"handshake", -1}} {
				t.Run(fmt.Sprintf("%s/%s", killed, c.name), func(t *testing.T) {
					nets := fx.nets()
					nets[killed] = &killNet{Network: nets[killed], victim: victim, at: c.at}
					outs, errs := fx.run(nets, func(mpc.Party) {})
					for _, p := range mpc.PartiesOf(fx.parties) {
						if p == killed {
							continue
						}
						wants := []blame{{link: mpc.Link{From: killed, To: p}, anyDirection: true}}
						for _, q := range mpc.PartiesOf(fx.parties) {
							if q != p && q != killed {
								wants = append(wants, blame{link: mpc.Link{From: killed, To: q}, either: true, anyDirection: true})
							}
						}
						checkBlame(t, p, errs[p], wants...)
					}
					if outs[0] != nil {
						t.Error("P0 released an output")
					}
					logErrs(t, errs)
				})
			}
		}
	})
}

// TestAttributionPartyStops: P0's caller gives up (its context is
// cancelled before the inference, or in the middle of it). P0's engine
// aborts the session through the network's own abort (both backends'
// Abort prefer an mpc.Aborter, as the Aramis network is, to anything
// unauthenticated), so every other party promptly names P0 alone, as
// having stopped the session, without timing out; P0 reports its
// context's error and releases no output.
func TestAttributionPartyStops(t *testing.T) {
	forEach(t, func(t *testing.T, fx *fixture) {
		counts := fx.countData(t)
		for _, c := range []struct {
			name  string
			after int // data frames P0 sends P1 before its caller gives up; −1: before it starts
		}{{"before", -1}, {"inference", counts[0][1] / 2}} {
			t.Run(c.name, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if c.after < 0 {
					cancel()
				}
				var n atomic.Int64
				nets := fx.nets()
				nets[mpc.P0] = &hostNet{Network: nets[mpc.P0], out: func(to mpc.Party, msg []byte) [][]byte {
					if to == mpc.P1 && isData(msg) && n.Add(1) == int64(c.after) {
						cancel()
					}
					return [][]byte{msg}
				}}
				start := time.Now()
				outs, errs := inference(fx.backend, nets, fx.cfgs, fx.prog, fx.x, ctx, func(mpc.Party) {})
				if !errors.Is(errs[mpc.P0], context.Canceled) {
					t.Errorf("P0: %v: not its context's error", errs[mpc.P0])
				}
				for _, p := range mpc.PartiesOf(fx.parties)[1:] {
					var pe *mpc.PeerError
					switch err := errs[p]; {
					case !errors.As(err, &pe) || pe.Peer != mpc.P0 || pe.Link != nil:
						t.Errorf("%s: %v: does not name P0 alone", p, err)
					case errors.Is(err, mpc.ErrTimeout):
						t.Errorf("%s stopped only by timing out: %v", p, err)
					case !strings.Contains(err.Error(), "stopped the session"):
						t.Errorf("%s: %v: does not say P0 stopped the session", p, err)
					}
				}
				if d := time.Since(start); d > DefaultTimeout/2 {
					t.Errorf("took %v to stop", d)
				}
				if outs[0] != nil {
					t.Error("P0 released an output")
				}
				logErrs(t, errs)
			})
		}
	})
}
