package slalom_test

import (
	"runtime"
	"testing"

	"veil/slalom"
	"veil/slalom/device"
	"veil/slalom/device/devicetest"
	"veil/slalom/slalomtest"
)

// discardStore drops every record (the test counts only T's own state).
type discardStore struct{}

func (discardStore) Put(slalom.Record)                  {}
func (discardStore) Get(uint64, uint32) []slalom.Record { return nil }
func (discardStore) Delete(pair uint64, l uint32)       {}

// TestBlinderStateBounded: T's blinding state does not grow with the
// number of records it has sealed (a long-running serve seals forever),
// and the records of a pair whose inference aborted do not stay in the
// store; replays stay refused (TestSealedFactorsRefused).
func TestBlinderStateBounded(t *testing.T) {
	l := slalomtest.Load(t, 1) // digits MLP: small layers
	old := slalom.ChunkElems
	slalom.ChunkElems = 1 // one record per element
	defer func() { slalom.ChunkElems = old }()
	b := slalom.NewBlinder(l.P, discardStore{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const pairs = 3000
	b.Offline(pairs)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(b)
	outs := 0
	for _, ly := range l.P.Layers {
		outs += ly.OutLen()
	}
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 2<<20 {
		t.Fatalf("sealing %d records left T's state %d KiB larger", pairs*outs, grown>>10)
	}

	// Aborted inferences leave no records behind.
	slalom.ChunkElems = old
	st := slalom.NewMemStore()
	d := &device.Device{Tamper: func(layer int, seq uint64, y []uint32) []uint32 {
		if layer == 0 {
			y[0] = (y[0] + 1) % slalom.P
		}
		return y
	}}
	tr, err := slalom.NewTrusted(l.P, slalom.Mode{Verify: true, Blind: true}, devicetest.Pipe(t, d), st)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		tr.Offline(1)
		if _, err := tr.Infer(l.Test[0].X); err == nil {
			t.Fatal("cheating device not caught")
		}
		tr.Restart()
	}
	if n := st.Len(); n != 0 {
		t.Fatalf("%d (pair, layer) entries left in the store after 20 aborted inferences", n)
	}
}
