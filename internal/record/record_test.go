package record

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

var (
	keyAB = bytes.Repeat([]byte{0xab}, 32)
	keyBA = bytes.Repeat([]byte{0xba}, 32)
	keyCD = bytes.Repeat([]byte{0xcd}, 32)
)

// ends returns the two ends of a channel: a seals under keyAB and opens
// under keyBA, b the other way round.
func ends(t *testing.T) (a, b Pair) {
	t.Helper()
	a, err := NewPair(keyAB, keyBA)
	if err != nil {
		t.Fatal(err)
	}
	if b, err = NewPair(keyBA, keyAB); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// aadOf is the associated data the tests give record seq: a header
// that carries the number, as the service's and Aramis' do.
func aadOf(seq uint64) []byte { return append([]byte("hdr"), byte(seq)) }

// seal seals msgs in order from s and returns the records.
func seal(t *testing.T, s *Sealer, msgs ...string) [][]byte {
	t.Helper()
	var recs [][]byte
	for _, m := range msgs {
		r, err := s.Seal(nil, []byte(m), aadOf(s.Seq()))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestRoundTrip: records open in order, in place or not, numbered or not,
// and the ciphertext hides the plaintext.
func TestRoundTrip(t *testing.T) {
	a, b := ends(t)
	msgs := []string{"", "x", "a longer record of the channel", string(make([]byte, 5000))}
	recs := seal(t, &a.Out, msgs...)
	for i, r := range recs {
		if len(r) != len(msgs[i])+TagSize {
			t.Fatalf("record %d: %d bytes for %d of plaintext", i, len(r), len(msgs[i]))
		}
		if len(msgs[i]) > 8 && bytes.Contains(r, []byte(msgs[i][:8])) {
			t.Fatalf("record %d shows its plaintext", i)
		}
	}
	implicit, numbered := b.In, b.In
	for i, r := range recs {
		got, err := implicit.Open(bytes.Clone(r)[:0], bytes.Clone(r), aadOf(uint64(i)))
		if err != nil || string(got) != msgs[i] {
			t.Fatalf("Open %d: %q, %v", i, got, err)
		}
		in := bytes.Clone(r)
		got, err = numbered.OpenNumbered(uint64(i), in[:0], in, aadOf(uint64(i)))
		if err != nil || string(got) != msgs[i] {
			t.Fatalf("OpenNumbered %d: %q, %v", i, got, err)
		}
	}
	if implicit.Seq() != uint64(len(recs)) || numbered.Seq() != uint64(len(recs)) || a.Out.Seq() != uint64(len(recs)) {
		t.Fatalf("sequence numbers %d, %d, %d after %d records", implicit.Seq(), numbered.Seq(), a.Out.Seq(), len(recs))
	}
	// An authentication-only record: empty plaintext, the message in
	// the associated data; a changed message fails.
	tag, _ := a.Out.Seal(nil, nil, []byte("header and payload"))
	if len(tag) != TagSize {
		t.Fatalf("tag of %d bytes", len(tag))
	}
	o := b.In
	if _, err := o.OpenNumbered(a.Out.Seq()-1, nil, tag, []byte("header and payloaD")); !errors.Is(err, ErrAuth) {
		t.Fatalf("a changed authenticated message: %v", err)
	}
	if _, err := b.In.OpenNumbered(a.Out.Seq()-1, nil, tag, []byte("header and payload")); !errors.Is(err, ErrSequence) {
		t.Fatalf("an authentic tag out of turn: %v", err)
	}
	numbered.seq = a.Out.Seq() - 1
	if pt, err := numbered.OpenNumbered(a.Out.Seq()-1, nil, tag, []byte("header and payload")); err != nil || len(pt) != 0 {
		t.Fatalf("the tag in turn: %q, %v", pt, err)
	}
}

// TestRefused: every way a record can be wrong, each caught by the check
// named, with the receiver's state unchanged.
func TestRefused(t *testing.T) {
	a, b := ends(t)
	recs := seal(t, &a.Out, "first", "second", "third")
	// The other direction's first record, and one under a stranger's key.
	reflected := seal(t, &b.Out, "first")[0]
	stranger, _ := NewSealer(keyCD)
	foreign := seal(t, &stranger, "first")[0]
	flip := func(r []byte, i int) []byte {
		r = bytes.Clone(r)
		r[(i+len(r))%len(r)] ^= 0x01
		return r
	}
	type try struct {
		seq    uint64 // the number on the wire (OpenNumbered)
		record []byte
		aad    []byte
	}
	cases := []struct {
		name string
		// opened first, in order, before the try
		before int
		try    try
		// want from Open (implicit numbering) and OpenNumbered
		implicit, numbered error
	}{
		{"changed ciphertext", 0, try{0, flip(recs[0], 0), aadOf(0)}, ErrAuth, ErrAuth},
		{"changed tag", 0, try{0, flip(recs[0], -1), aadOf(0)}, ErrAuth, ErrAuth},
		{"changed associated data", 0, try{0, recs[0], aadOf(7)}, ErrAuth, ErrAuth},
		{"truncated", 0, try{0, recs[0][:len(recs[0])-1], aadOf(0)}, ErrAuth, ErrAuth},
		{"shorter than a tag", 0, try{0, recs[0][:3], aadOf(0)}, ErrAuth, ErrAuth},
		{"sequence number changed on the wire", 0, try{1, recs[0], aadOf(1)}, ErrAuth, ErrAuth},
		{"replayed", 1, try{0, recs[0], aadOf(0)}, ErrAuth, ErrSequence},
		{"reordered (the later one first)", 0, try{1, recs[1], aadOf(1)}, ErrAuth, ErrSequence},
		{"after a dropped one", 1, try{2, recs[2], aadOf(2)}, ErrAuth, ErrSequence},
		{"wrong key", 0, try{0, foreign, aadOf(0)}, ErrAuth, ErrAuth},
		{"wrong direction (reflected)", 0, try{0, reflected, aadOf(0)}, ErrAuth, ErrAuth},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, numbered := range []bool{false, true} {
				o := b.In
				for i := 0; i < c.before; i++ {
					if _, err := o.Open(nil, recs[i], aadOf(uint64(i))); err != nil {
						t.Fatal(err)
					}
				}
				before := o
				var err error
				if numbered {
					_, err = o.OpenNumbered(c.try.seq, nil, c.try.record, c.try.aad)
				} else {
					_, err = o.Open(nil, c.try.record, c.try.aad)
				}
				want := map[bool]error{false: c.implicit, true: c.numbered}[numbered]
				if !errors.Is(err, want) {
					t.Fatalf("numbered %v: error %v, want %v", numbered, err, want)
				}
				if o != before {
					t.Fatalf("numbered %v: the refused record moved the opener from %d to %d", numbered, before.Seq(), o.Seq())
				}
				// The right record still opens after the refusal.
				next := c.before
				if got, err := o.Open(nil, recs[next], aadOf(uint64(next))); err != nil || len(got) == 0 {
					t.Fatalf("numbered %v: the next honest record after the refusal: %v", numbered, err)
				}
			}
		})
	}
}

// TestNewPair: both directions need their own key of a valid size.
func TestNewPair(t *testing.T) {
	for _, c := range []struct {
		name    string
		out, in []byte
		ok      bool
	}{
		{"distinct 32-byte keys", keyAB, keyBA, true},
		{"distinct 16-byte keys", keyAB[:16], keyBA[:16], true},
		{"the same key both ways", keyAB, bytes.Clone(keyAB), false},
		{"a 24-byte key", keyAB[:24], keyBA[:24], false},
		{"an empty key", nil, keyBA, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewPair(c.out, c.in); (err == nil) != c.ok {
				t.Fatalf("NewPair: %v, want ok = %v", err, c.ok)
			}
		})
	}
	var zero Sealer
	if _, err := zero.Seal(nil, nil, nil); err == nil {
		t.Fatal("a zero Sealer sealed")
	}
	var zeroIn Opener
	if _, err := zeroIn.Open(nil, make([]byte, TagSize), nil); err == nil {
		t.Fatal("a zero Opener opened")
	}
}

// TestCopiesIndependent: a copy of a Sealer goes on from the same
// number without moving the original (as Aramis' tests use it).
func TestCopiesIndependent(t *testing.T) {
	a, b := ends(t)
	fork := a.Out
	r1 := seal(t, &fork, "alternative")[0]
	r0 := seal(t, &a.Out, "original")[0]
	if a.Out.Seq() != 1 || fork.Seq() != 1 {
		t.Fatalf("sequence numbers %d and %d", a.Out.Seq(), fork.Seq())
	}
	for _, r := range [][]byte{r0, r1} {
		o := b.In
		if _, err := o.Open(nil, r, aadOf(0)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestExhausted: neither end wraps its sequence number.
func TestExhausted(t *testing.T) {
	a, b := ends(t)
	a.Out.seq = math.MaxUint64 - 1
	last := seal(t, &a.Out, "the last record")[0]
	if _, err := a.Out.Seal(nil, []byte("one more"), nil); !errors.Is(err, ErrExhausted) {
		t.Fatalf("sealing past the last number: %v", err)
	}
	b.In.seq = math.MaxUint64 - 1
	if _, err := b.In.Open(nil, last, aadOf(math.MaxUint64-1)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.In.Open(nil, last, aadOf(math.MaxUint64-1)); !errors.Is(err, ErrExhausted) {
		t.Fatalf("opening past the last number: %v", err)
	}
}

// TestNonce: the nonce layout every wire format relies on.
func TestNonce(t *testing.T) {
	n := nonce(0x0102030405060708)
	if want := [nonceSize]byte{0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}; n != want {
		t.Fatalf("nonce %x, want %x", n, want)
	}
}
