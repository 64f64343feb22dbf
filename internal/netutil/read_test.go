package netutil

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
)

func TestAppendFull(t *testing.T) {
	data := make([]byte, 5*ReadStep+17)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, n := range []int{0, 1, 100, ReadStep - 1, ReadStep, ReadStep + 1, len(data)} {
		for name, r := range map[string]func() io.Reader{
			"whole":    func() io.Reader { return bytes.NewReader(data) },
			"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
			"halves":   func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) },
		} {
			if name == "one byte" && n > ReadStep+1 {
				continue
			}
			got, err := AppendFull([]byte("pre"), r(), n)
			if err != nil || !bytes.Equal(got[:3], []byte("pre")) || !bytes.Equal(got[3:], data[:n]) {
				t.Fatalf("%s, n = %d: %d bytes, %v", name, n, len(got), err)
			}
			if cap(got) > 3+n && n > ReadStep {
				t.Errorf("%s, n = %d: capacity %d beyond the %d wanted", name, n, cap(got), 3+n)
			}
		}
	}
	// A reused buffer with room is filled in place.
	buf := make([]byte, 0, 1000)
	got, err := AppendFull(buf, bytes.NewReader(data), 1000)
	if err != nil || &got[0] != &buf[:1][0] {
		t.Fatalf("reused buffer not filled in place: %v", err)
	}
	// Early ends.
	if _, err := AppendFull(nil, bytes.NewReader(nil), 10); err != io.EOF {
		t.Errorf("empty reader: %v, want io.EOF", err)
	}
	got, err = AppendFull(nil, bytes.NewReader(data[:3*ReadStep]), 4*ReadStep)
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(got) != 3*ReadStep {
		t.Errorf("short reader: %d bytes, %v", len(got), err)
	}
	if _, err := AppendFull(nil, iotest.ErrReader(io.ErrClosedPipe), 10); err != io.ErrClosedPipe {
		t.Errorf("failing reader: %v", err)
	}
}

// TestAppendFullAnnounceThenStall: a peer announcing 1 GiB and sending
// 10 bytes costs one step of buffer, not the gigabyte.
func TestAppendFullAnnounceThenStall(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := AppendFull(nil, bytes.NewReader([]byte("0123456789")), 1<<30)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(got) != 10 {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	if cap(got) > ReadStep {
		t.Errorf("buffer of %d bytes for 10 received", cap(got))
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 2*ReadStep {
		t.Errorf("allocated %d bytes for 10 received", d)
	}
	// Sending more grows the buffer with what arrives: at most twice
	// what arrived plus a step.
	k := 3*ReadStep + 5
	got, _ = AppendFull(nil, bytes.NewReader(make([]byte, k)), 1<<30)
	if len(got) != k || cap(got) > 2*k+ReadStep {
		t.Errorf("%d received, buffer of %d bytes", len(got), cap(got))
	}
}

func TestGrow(t *testing.T) {
	buf := []byte("abc")
	if g := Grow(buf, 0, 0); &g[0] != &buf[0] {
		t.Error("Grow copied a buffer with room")
	}
	g := Grow(buf, 10, 100)
	if string(g) != "abc" || cap(g) != 13 {
		t.Errorf("Grow(3 bytes, 10): %q, capacity %d", g, cap(g))
	}
	g = Grow(make([]byte, 100), 10, 1000)
	if cap(g) != 200 {
		t.Errorf("Grow doubles: capacity %d, want 200", cap(g))
	}
	if g = Grow(make([]byte, 100), 10, 150); cap(g) != 150 {
		t.Errorf("Grow stops at the limit: capacity %d, want 150", cap(g))
	}
	if g = Grow(make([]byte, 100), 10, 105); cap(g) != 200 {
		t.Errorf("a limit without room is ignored: capacity %d", cap(g))
	}
	// Growing a frame record by record copies less than the frame twice.
	var b []byte
	copied := 0
	const rec, total = 64 << 10, 100 * 64 << 10
	for range 100 {
		old := cap(b)
		b = Grow(b, rec, total)
		if cap(b) != old {
			copied += len(b)
		}
		b = b[:len(b)+rec]
	}
	if copied > 2*total || cap(b) != total {
		t.Errorf("copied %d KiB growing to %d KiB (capacity %d)", copied>>10, total>>10, cap(b))
	}
}
