package device

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"veil/slalom"
	"veil/slalom/slalomtest"
)

// TestDeviceRefusesBadProgram: D checks the program it is sent against
// the layers it holds (a refusal, never a panic): the layer count, where
// each layer sits, its clamp and its sizes.
func TestDeviceRefusesBadProgram(t *testing.T) {
	p := slalomtest.TinyProgram(t)
	layers := func(clamp int64) []*slalom.Layer {
		l, err := parseSetupLayer(bytes.Join(setupFrame(p.Layers[0]), nil))
		if err != nil {
			t.Fatal(err)
		}
		if clamp != 0 {
			l.Clamp = clamp
		}
		return []*slalom.Layer{l}
	}
	good := programWire(p)
	if _, err := parseProgram(good, layers(0)); err != nil {
		t.Fatalf("the program itself: %v", err)
	}
	set := func(off int, v uint32) []byte {
		b := slices.Clone(good)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	for _, c := range []struct {
		name   string
		body   []byte
		layers []*slalom.Layer
		why    string
	}{
		{"two layers", set(0, 2), layers(0), "layers"},
		{"clip elsewhere", set(4, 0), layers(0), "clamp"},
		{"linear part empty", set(8, uint32(p.Layers[0].ClipAt)), layers(0), "out of order"},
		{"linear part beyond the program", set(8, 1000), layers(0), "out of order"},
		{"another clamp", good, layers(99), "clamp"},
		{"not a program", append(slices.Clone(good[:12]), "{junk"...), layers(0), "program"},
		{"trailing bytes", append(slices.Clone(good), "{}"...), layers(0), "program"},
		{"short", good[:3], layers(0), "short"},
	} {
		if _, err := parseProgram(c.body, c.layers); err == nil || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: %v, want an error about %q", c.name, err, c.why)
		}
	}
}

// TestSetupLayerBounded: a convolution whose sizes overflow (found by
// FuzzSetupLayer: H = W = 808464432 with large paddings gave a negative
// output length, and D would panic allocating it) or whose input or
// output does not fit a frame is refused at setup.
func TestSetupLayerBounded(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(l *slalom.Layer)
	}{
		{"overflowing", func(l *slalom.Layer) {
			l.Conv.H, l.Conv.W = 808464432, 808464432
			l.Conv.PadT, l.Conv.PadL, l.Conv.PadB, l.Conv.PadR = 808464432, 808464432, 4147130416, 808464432
		}},
		{"over a frame", func(l *slalom.Layer) { l.Conv.H, l.Conv.W = 1<<15, 1<<15 }},
		{"huge stride", func(l *slalom.Layer) { l.Conv.SH = 1 << 20 }},
		// An empty input whose padding still makes windows (found by
		// FuzzSetupLayer: a separable layer with H = 0 was accepted).
		{"empty input", func(l *slalom.Layer) { l.Conv.H, l.Conv.PadT, l.Conv.PadB = 0, 3, 3 }},
		{"empty input width", func(l *slalom.Layer) { l.Conv.W, l.Conv.PadL, l.Conv.PadR = 0, 3, 3 }},
	} {
		l := smallLayers()[1]
		c.change(l)
		if got, err := parseSetupLayer(setupBytes(l)); err == nil {
			t.Errorf("%s: layer accepted with %d inputs, %d outputs", c.name, got.InLen(), got.OutLen())
		}
	}
	if _, err := parseSetupLayer(setupBytes(smallLayers()[1])); err != nil {
		t.Fatalf("a proper layer refused: %v", err)
	}
	sep := smallLayers()[3]
	sep.Conv.H, sep.Conv.PadT, sep.Conv.PadB = 0, 3, 3
	if got, err := parseSetupLayer(setupBytes(sep)); err == nil {
		t.Errorf("separable layer with an empty input accepted with %d inputs, %d outputs", got.InLen(), got.OutLen())
	}
}
