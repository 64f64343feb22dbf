package slalom_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"veil/slalom"
)

// FuzzSealedRecords: T's sealed unblinding factors in the untrusted
// store. One record (of a layer sealed in three) is changed: a ciphertext
// or nonce byte, its chunk index, or dropped or duplicated; T refuses to
// open the layer. The informational header fields (pair, layer, count,
// elements) do not matter: T opens with associated data of its own.
func FuzzSealedRecords(f *testing.F) {
	l := &slalom.Layer{Index: 0, Kind: slalom.Dense, N: 2, M: 2*slalom.ChunkElems + 5}
	l.W, l.B = make([]uint64, l.N*l.M), make([]uint64, l.M)
	for i := range l.W {
		l.W[i] = uint64(i) % slalom.P
	}
	p := &slalom.Program{Name: "sealed", Layers: []*slalom.Layer{l}}
	p.Hash[0] = 1
	b := slalom.NewBlinder(p, slalom.NewMemStore())
	b.Offline(1)
	sealed := b.Store.Get(0, 0)
	want, err := b.OpenInto(0, l, make([]uint32, l.OutLen()))
	if err != nil || len(sealed) != 3 {
		f.Fatal(len(sealed), err)
	}
	want = slices.Clone(want)
	for op := range 8 {
		f.Add(uint8(op), uint8(1), uint32(5), byte(1), uint64(2))
	}
	f.Fuzz(func(t *testing.T, op, which uint8, at uint32, flip byte, v uint64) {
		recs := cloneRecs(sealed)
		r := &recs[int(which)%len(recs)]
		refused := true
		switch op % 8 {
		case 0:
			if flip == 0 {
				return
			}
			r.Ciphertext[int(at)%len(r.Ciphertext)] ^= flip
		case 1:
			if flip == 0 {
				return
			}
			r.Nonce[int(at)%len(r.Nonce)] ^= flip
		case 2:
			if uint32(v) == r.Chunk {
				return
			}
			r.Chunk = uint32(v)
		case 3:
			recs = slices.Delete(recs, int(which)%len(recs), int(which)%len(recs)+1)
		case 4:
			recs = append(recs, *r)
		case 5:
			r.Pair, r.Layer = v, uint32(v>>32)
			refused = false
		case 6:
			r.Count, r.Elems = uint32(v), v>>7
			refused = false
		case 7:
			slices.Reverse(recs)
			refused = false
		}
		st := slalom.NewMemStore()
		for _, rec := range recs {
			st.Put(slalom.Record{Pair: 0, Layer: 0, Chunk: rec.Chunk, Count: rec.Count, Elems: rec.Elems, Nonce: rec.Nonce, Ciphertext: rec.Ciphertext})
		}
		b.Store = st
		got, err := b.OpenInto(0, l, make([]uint32, l.OutLen()))
		switch {
		case refused && err == nil:
			t.Fatalf("change %d to record %d opened", op%8, int(which)%3)
		case refused && !errors.Is(err, slalom.ErrSealed) && !bytes.Contains([]byte(err.Error()), []byte(slalom.ErrSealed.Error())):
			t.Fatalf("refused without naming the sealed factor: %v", err)
		case !refused && (err != nil || !slices.Equal(got, want)):
			t.Fatalf("an informational change %d broke opening: %v", op%8, err)
		}
	})
}
