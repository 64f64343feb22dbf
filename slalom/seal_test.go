package slalom_test

import (
	"slices"
	"strings"
	"testing"

	"veil/slalom"
	"veil/slalom/device"
	"veil/slalom/device/devicetest"
	"veil/slalom/slalomtest"
)

// tamperStore is a malicious store: it keeps a copy of every record ever
// sealed (all) and lets a test choose what T gets back.
type tamperStore struct {
	*slalom.MemStore
	all *slalom.MemStore
	get func(all *slalom.MemStore, pair uint64, layer uint32) []slalom.Record
}

func (s *tamperStore) Put(r slalom.Record) {
	s.MemStore.Put(r)
	s.all.Put(r)
}

func (s *tamperStore) Get(pair uint64, layer uint32) []slalom.Record {
	if s.get != nil {
		return s.get(s.all, pair, layer)
	}
	return s.MemStore.Get(pair, layer)
}

func cloneRecs(rs []slalom.Record) []slalom.Record {
	out := make([]slalom.Record, len(rs))
	for i, r := range rs {
		r.Ciphertext = append([]byte(nil), r.Ciphertext...)
		out[i] = r
	}
	return out
}

// TestSealedFactorsRefused: a flipped ciphertext, tag or header bit, a
// record of another layer, pair j offered as j+1, reordered, dropped or
// duplicated chunks, records from before a restart, and a second use of
// a pair (even after an abort) are all refused, and no output is
// released. All nonces are unique.
func TestSealedFactorsRefused(t *testing.T) {
	old := slalom.ChunkElems
	slalom.ChunkElems = 1000 // many chunks per layer
	defer func() { slalom.ChunkElems = old }()
	l := slalomtest.Load(t, 2) // MNIST ResNet: 16×28×28 outputs = 13 chunks
	x := l.Test[0].X
	want, _ := l.P.Oracle(x)
	cases := []struct {
		name string
		get  func(s *slalom.MemStore, pair uint64, layer uint32) []slalom.Record
	}{
		{"flipped ciphertext bit", func(s *slalom.MemStore, j uint64, ly uint32) []slalom.Record {
			r := cloneRecs(s.Get(j, ly))
			r[0].Ciphertext[5] ^= 1
			return r
		}},
		{"flipped tag bit", func(s *slalom.MemStore, j uint64, ly uint32) []slalom.Record {
			r := cloneRecs(s.Get(j, ly))
			r[1].Ciphertext[len(r[1].Ciphertext)-1] ^= 0x80
			return r
		}},
		{"flipped nonce bit", func(s *slalom.MemStore, j uint64, ly uint32) []slalom.Record {
			r := cloneRecs(s.Get(j, ly))
			r[0].Nonce[11] ^= 1
			return r
		}},
		{"flipped chunk header", func(s *slalom.MemStore, j uint64, ly uint32) []slalom.Record {
			r := cloneRecs(s.Get(j, ly))
			r[0].Chunk ^= 1
			r[1].Chunk ^= 1 // keeps the set of indices, swaps positions
			return r
		}},
		{"other layer's records", func(s *slalom.MemStore, j uint64, ly uint32) []slalom.Record {
			if ly == 1 {
				return cloneRecs(s.Get(j, 2)) // same size, other layer
			}
			return s.Get(j, ly)
		}},
		{"pair j offered as j+1", func(s *slalom.MemStore, j uint64, ly uint32) []slalom.Record {
			if j > 0 {
				return cloneRecs(s.Get(j-1, ly))
			}
			return s.Get(j, ly)
		}},
		{"dropped chunk", func(s *slalom.MemStore, j uint64, ly uint32) []slalom.Record {
			return cloneRecs(s.Get(j, ly))[1:]
		}},
		{"duplicated chunk", func(s *slalom.MemStore, j uint64, ly uint32) []slalom.Record {
			r := cloneRecs(s.Get(j, ly))
			r[1] = r[0]
			return r
		}},
		{"reordered chunks", func(s *slalom.MemStore, j uint64, ly uint32) []slalom.Record {
			r := cloneRecs(s.Get(j, ly))
			r[0].Chunk, r[2].Chunk = r[2].Chunk, r[0].Chunk
			return r
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := &tamperStore{MemStore: slalom.NewMemStore(), all: slalom.NewMemStore()}
			tr, err := slalom.NewTrusted(l.P, slalom.Mode{Verify: true, Blind: true}, devicetest.Pipe(t, &device.Device{}), st)
			if err != nil {
				t.Fatal(err)
			}
			tr.Offline(3)
			// Pair 0 runs honestly; the tampering starts with pair 1.
			got, err := tr.Infer(x)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("honest run: %v", err)
			}
			st.get = c.get
			out, err := tr.Infer(x)
			// Each is refused by the check meant for it: the AEAD for
			// anything altered or misplaced, the count and position checks
			// for dropped and duplicated chunks.
			why := "authentication failed"
			switch c.name {
			case "dropped chunk":
				why = "records for pair"
			case "duplicated chunk":
				why = "out of place"
			}
			if err == nil || out != nil || !strings.Contains(err.Error(), "sealed unblinding factor rejected") || !strings.Contains(err.Error(), why) {
				t.Fatalf("tampered store: got err %v, want one saying %q", err, why)
			}
		})
	}
	t.Run("records from before a restart", func(t *testing.T) {
		st := slalom.NewMemStore()
		tr, _ := slalom.NewTrusted(l.P, slalom.Mode{Blind: true}, devicetest.Pipe(t, &device.Device{}), st)
		tr.Offline(2)
		// T restarts: new keys and epoch, the counters start again at 0, the
		// store still holds the old records.
		tr2, _ := slalom.NewTrusted(l.P, slalom.Mode{Blind: true}, devicetest.Pipe(t, &device.Device{}), st)
		tr2.Blinder.SetSealed(2) // pretend the new T believes it sealed them
		if _, err := tr2.Infer(x); err == nil || !strings.Contains(err.Error(), "sealed") {
			t.Fatalf("old records accepted after restart: %v", err)
		}
	})
	t.Run("second use of a pair", func(t *testing.T) {
		st := slalom.NewMemStore()
		tr, _ := slalom.NewTrusted(l.P, slalom.Mode{Blind: true}, devicetest.Pipe(t, &device.Device{}), st)
		tr.Offline(1)
		// Keep a copy of pair 0 in the store as an attacker would.
		saved := map[[2]uint64][]slalom.Record{}
		for k, v := range st.Records() {
			saved[k] = cloneRecs(v)
		}
		if _, err := tr.Infer(x); err != nil {
			t.Fatal(err)
		}
		// Re-offer pair 0 for the next inference: T asks for pair 1 and
		// refuses pair 0's records.
		for k, v := range saved {
			st.Records()[[2]uint64{1, k[1]}] = v
		}
		tr.Blinder.SetSealed(2)
		if _, err := tr.Infer(x); err == nil {
			t.Fatal("pair 0 was used twice")
		}
		// An aborted inference burns its pair too.
		if tr.Blinder.NextUse() != 2 {
			t.Fatalf("next use %d after an aborted inference, want 2", tr.Blinder.NextUse())
		}
		// And T never goes back: after a restart the next inference uses pair 2.
		tr.Restart()
		tr.Offline(1)
		if _, err := tr.Infer(x); err != nil {
			t.Fatalf("fresh pair after an abort: %v", err)
		}
	})
	t.Run("nonces unique", func(t *testing.T) {
		tr, _ := slalom.NewTrusted(l.P, slalom.Mode{Blind: true}, devicetest.Pipe(t, &device.Device{}), slalom.NewMemStore())
		tr.Offline(5)
		seen := map[[12]byte]bool{}
		n := 0
		for _, rs := range tr.Blinder.Store.(*slalom.MemStore).Records() {
			for _, r := range rs {
				if seen[r.Nonce] {
					t.Fatal("nonce reused")
				}
				seen[r.Nonce] = true
				n++
			}
		}
		if n < 5*len(l.P.Layers) || tr.Blinder.Nonces() != uint64(n) {
			t.Fatalf("%d records, nonce counter %d", n, tr.Blinder.Nonces())
		}
	})
}
