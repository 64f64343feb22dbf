package record

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzOpen: two records sealed in order, then changed on the wire (a
// byte of a record or of its number flipped, a record cut short, the
// records swapped or the first repeated). The opener, with numbering
// implicit or carried, accepts only a prefix of what was sealed, each
// record exactly as sealed and in its place.
func FuzzOpen(f *testing.F) {
	f.Add([]byte("first"), uint16(0), byte(0), uint8(0), uint8(0), false)
	f.Add([]byte("first"), uint16(3), byte(1), uint8(0), uint8(0), true)
	f.Add([]byte(""), uint16(0), byte(0), uint8(5), uint8(0), false)
	f.Add([]byte("x"), uint16(0), byte(0), uint8(0), uint8(1), true)
	f.Add([]byte("x"), uint16(0), byte(0), uint8(0), uint8(2), false)
	f.Fuzz(func(t *testing.T, msg []byte, pos uint16, flip byte, cut, order uint8, numbered bool) {
		a, err := NewPair(keyAB, keyBA)
		if err != nil {
			t.Fatal(err)
		}
		sent := [][]byte{msg, []byte("second record")}
		type wire struct {
			seq uint64
			rec []byte
		}
		var w []wire
		for _, m := range sent {
			seq := a.Out.Seq()
			r, err := a.Out.Seal(nil, m, aadOf(seq))
			if err != nil {
				t.Fatal(err)
			}
			w = append(w, wire{seq, r})
		}
		changed := false
		switch order % 3 {
		case 1:
			w[0], w[1] = w[1], w[0]
			changed = true
		case 2:
			w[1] = w[0]
			changed = true
		}
		if flip != 0 {
			i := int(pos) % (2 * (len(w[0].rec) + 8))
			k := i / (len(w[0].rec) + 8) % 2
			j := i % (len(w[0].rec) + 8)
			if j < 8 {
				var b [8]byte
				binary.BigEndian.PutUint64(b[:], w[k].seq)
				b[j] ^= flip
				w[k].seq = binary.BigEndian.Uint64(b[:])
			} else if j-8 < len(w[k].rec) {
				w[k].rec = bytes.Clone(w[k].rec)
				w[k].rec[j-8] ^= flip
			}
			changed = true
		}
		if c := int(cut) % 8; c > 0 {
			w[1].rec = w[1].rec[:max(0, len(w[1].rec)-c)]
			changed = true
		}
		b, err := NewPair(keyBA, keyAB)
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range w {
			before := b.In
			var got []byte
			if numbered {
				got, err = b.In.OpenNumbered(x.seq, nil, x.rec, aadOf(x.seq))
			} else {
				// The receiver's associated data carries the number it
				// read off the wire, as the service's does.
				got, err = b.In.Open(nil, x.rec, aadOf(x.seq))
			}
			if err != nil {
				if !changed {
					t.Fatalf("record %d of an unchanged wire refused: %v", i, err)
				}
				if b.In != before {
					t.Fatalf("a refused record moved the opener")
				}
				return
			}
			if !bytes.Equal(got, sent[i]) {
				t.Fatalf("opened %q as record %d, which was sealed as %q", got, i, sent[i])
			}
		}
	})
}
