package tf

import (
	"math"
	"strings"
	"testing"

	"veil/ir"
)

// TestLayersConv: a functional model as tensorflowjs_converter writes a
// Keras model (under model_config), with a grouped strided Conv2D and two
// Conv2DTranspose (valid with output_padding, same with a bias), checked
// against naive convolutions.
func TestLayersConv(t *testing.T) {
	in := klay("InputLayer", "in", map[string]any{"batch_input_shape": []any{nil, 5, 5, 4}, "dtype": "float32"}, []any{})
	conv := klay("Conv2D", "conv", map[string]any{
		"filters": 6, "kernel_size": []int{3, 3}, "strides": []int{2, 2}, "padding": "same", "groups": 2,
		"activation": "relu", "use_bias": true, "data_format": "channels_last", "dilation_rate": []int{1, 1},
		"kernel_initializer": map[string]any{"class_name": "GlorotUniform"}, "kernel_regularizer": nil,
	}, call("in"))
	up := klay("Conv2DTranspose", "up", map[string]any{
		"filters": 3, "kernel_size": 3, "strides": 2, "padding": "valid", "output_padding": []int{1, 1}, "use_bias": false,
	}, call("conv"))
	up2 := klay("Conv2DTranspose", "up2", map[string]any{
		"filters": 2, "kernel_size": []int{4, 4}, "strides": []int{2, 2}, "padding": "same", "activation": "tanh",
	}, call("conv"))
	topo := map[string]any{
		"keras_version": "2.12.0", "backend": "tensorflow",
		"model_config": map[string]any{"class_name": "Functional", "config": map[string]any{
			"name": "m", "layers": []any{in, conv, up, up2},
			"input_layers": [][]any{{"in", 0, 0}}, "output_layers": [][]any{{"up", 0, 0}, {"up2", 0, 0}},
		}},
	}
	ws := []kweight{
		{name: "conv/kernel:0", shape: []int{3, 3, 2, 6}, vals: rnd(1, 108, 0.5)},
		{name: "conv/bias", shape: []int{6}, vals: rnd(2, 6, 0.2)},
		{name: "up/kernel", shape: []int{3, 3, 3, 6}, vals: rnd(3, 162, 0.5)},
		{name: "up2/kernel", shape: []int{4, 4, 2, 6}, vals: rnd(4, 192, 0.5)},
		{name: "up2/bias", shape: []int{2}, vals: rnd(5, 2, 0.2)},
	}
	ws[0].name = "conv/kernel" // the converter drops TensorFlow's ":0"
	dir := writeLayers(t, topo, ws)
	x := rnd(6, 100, 1)
	outs := loadRun(t, dir, Options{}, ir.FloatTensor(ir.Shape{1, 5, 5, 4}, x))

	// conv: SAME over 5 with k 3, s 2 pads 1 and 1.
	c, oh, ow := refConvNHWC(x, 5, 5, 4, ws[0].vals, 3, 3, 6, ws[1].vals, []int{2, 2}, []int{1, 1, 1, 1}, 2)
	for i := range c {
		c[i] = max(c[i], 0)
	}
	// up: valid, output (3−1)·2 + 3 + 1 = 8, no pads.
	want := refConvTranspose(c, oh, ow, 6, ws[2].vals, 3, 3, 3, nil, []int{2, 2}, 0, 0, 8, 8)
	checkClose(t, "up", outs[0], ir.Shape{1, 8, 8, 3}, want, 1e-5)
	// up2: same, output 6; the forward conv's pads over 6 with k 4, s 2: 1 and 1.
	want = refConvTranspose(c, oh, ow, 6, ws[3].vals, 4, 4, 2, ws[4].vals, []int{2, 2}, 1, 1, 6, 6)
	for i := range want {
		want[i] = float32(math.Tanh(float64(want[i])))
	}
	checkClose(t, "up2", outs[1], ir.Shape{1, 6, 6, 2}, want, 1e-5)
}

// TestLayersRNN: Python Keras recurrent layers with their cells' weight
// names: GRU with reset_after (Keras 2's default, which TF.js lacks), a
// backwards LSTM, GRU without reset_after and a Bidirectional SimpleRNN
// averaged, checked against a naive unrolling.
func TestLayersRNN(t *testing.T) {
	const T, F = 4, 3
	rnn := func(class, name string, cfg map[string]any) map[string]any {
		c := map[string]any{"units": 3, "return_sequences": true, "recurrent_activation": "sigmoid", "dropout": 0.1,
			"recurrent_initializer": map[string]any{"class_name": "Orthogonal"}, "unroll": false, "time_major": false}
		for k, v := range cfg {
			c[k] = v
		}
		return klay(class, name, c)
	}
	bidi := klay("Bidirectional", "bidirectional", map[string]any{
		"merge_mode": "ave",
		"layer":      map[string]any{"class_name": "SimpleRNN", "config": map[string]any{"name": "simple_rnn", "units": 2, "activation": "relu"}},
	})
	topo := seq("2.12.0",
		klay("InputLayer", "input_1", map[string]any{"batch_input_shape": []any{nil, T, F}}),
		rnn("GRU", "gru", map[string]any{"reset_after": true}),
		rnn("LSTM", "lstm", map[string]any{"go_backwards": true, "units": 2}),
		rnn("GRU", "gru_1", map[string]any{"reset_after": false, "recurrent_activation": "hard_sigmoid"}),
		bidi)
	w := rndWeight
	ws := []kweight{
		w("gru/gru_cell/kernel", []int{3, 9}, 1), w("gru/gru_cell/recurrent_kernel", []int{3, 9}, 2), w("gru/gru_cell/bias", []int{2, 9}, 3),
		w("lstm/lstm_cell/kernel", []int{3, 8}, 4), w("lstm/lstm_cell/recurrent_kernel", []int{2, 8}, 5), w("lstm/lstm_cell/bias", []int{8}, 6),
		w("gru_1/gru_cell_1/kernel", []int{2, 9}, 7), w("gru_1/gru_cell_1/recurrent_kernel", []int{3, 9}, 8), w("gru_1/gru_cell_1/bias", []int{9}, 9),
		w("bidirectional/forward_simple_rnn/simple_rnn_cell_1/kernel", []int{3, 2}, 10),
		w("bidirectional/forward_simple_rnn/simple_rnn_cell_1/recurrent_kernel", []int{2, 2}, 11),
		w("bidirectional/forward_simple_rnn/simple_rnn_cell_1/bias", []int{2}, 12),
		w("bidirectional/backward_simple_rnn/simple_rnn_cell_2/kernel", []int{3, 2}, 13),
		w("bidirectional/backward_simple_rnn/simple_rnn_cell_2/recurrent_kernel", []int{2, 2}, 14),
		w("bidirectional/backward_simple_rnn/simple_rnn_cell_2/bias", []int{2}, 15),
	}
	dir := writeLayers(t, topo, ws)
	x := rnd(16, T*F, 1)
	outs := loadRun(t, dir, Options{}, ir.FloatTensor(ir.Shape{1, T, F}, x))

	v := func(i int) []float32 { return ws[i].vals }
	relu := func(v float64) float64 { return math.Max(v, 0) }
	gru := refRNN("gru", x, T, F, v(0), v(1), v(2)[:9], v(2)[9:], 3, math.Tanh, refSigmoid, false)
	lstm := refRNN("lstm", flatRows(gru), T, 3, v(3), v(4), v(5), nil, 2, math.Tanh, refSigmoid, true)
	gru1 := refRNN("gru", flatRows(lstm), T, 2, v(6), v(7), v(8), nil, 3, math.Tanh, refHardSigmoid, false)
	fw := refRNN("simple", flatRows(gru1), T, 3, v(9), v(10), v(11), nil, 2, relu, nil, false)
	bw := refRNN("simple", flatRows(gru1), T, 3, v(12), v(13), v(14), nil, 2, relu, nil, true)
	want := make([]float32, 2)
	for i := range want {
		want[i] = (fw[T-1][i] + bw[T-1][i]) / 2
	}
	checkClose(t, "bidirectional", outs[0], ir.Shape{1, 2}, want, 1e-5)
}

// TestLayersRNNKeras3: Keras 3's hard_sigmoid (x/6 + 1/2) as the gates'
// function of an LSTM with swish, a GRU with reset_after (Keras 3's
// default) and no bias, and a linear SimpleRNN going backwards, checked
// against a naive unrolling.
func TestLayersRNNKeras3(t *testing.T) {
	const T, F = 3, 2
	topo := seq("3.3.3",
		klay("InputLayer", "in", map[string]any{"batch_shape": []any{nil, T, F}}),
		klay("LSTM", "lstm", map[string]any{"units": 2, "return_sequences": true, "activation": "swish", "recurrent_activation": "hard_sigmoid"}),
		klay("GRU", "gru", map[string]any{"units": 3, "return_sequences": true, "use_bias": false}),
		klay("SimpleRNN", "rnn", map[string]any{"units": 2, "return_sequences": true, "go_backwards": true, "activation": "linear"}))
	w := rndWeight
	ws := []kweight{
		w("lstm/lstm_cell/kernel", []int{F, 8}, 1), w("lstm/lstm_cell/recurrent_kernel", []int{2, 8}, 2), w("lstm/lstm_cell/bias", []int{8}, 3),
		w("gru/gru_cell/kernel", []int{2, 9}, 4), w("gru/gru_cell/recurrent_kernel", []int{3, 9}, 5),
		w("rnn/simple_rnn_cell/kernel", []int{3, 2}, 6), w("rnn/simple_rnn_cell/recurrent_kernel", []int{2, 2}, 7), w("rnn/simple_rnn_cell/bias", []int{2}, 8),
	}
	dir := writeLayers(t, topo, ws)
	x := rnd(9, T*F, 1)
	outs := loadRun(t, dir, Options{}, ir.FloatTensor(ir.Shape{1, T, F}, x))

	swish := func(v float64) float64 { return v * refSigmoid(v) }
	hard3 := func(v float64) float64 { return math.Max(0, math.Min(1, v/6+0.5)) }
	linear := func(v float64) float64 { return v }
	lstm := refRNN("lstm", x, T, F, ws[0].vals, ws[1].vals, ws[2].vals, nil, 2, swish, hard3, false)
	gru := refRNN("gru", flatRows(lstm), T, 2, ws[3].vals, ws[4].vals, nil, make([]float32, 9), 3, math.Tanh, refSigmoid, false)
	rnn := refRNN("simple", flatRows(gru), T, 3, ws[5].vals, ws[6].vals, ws[7].vals, nil, 2, linear, nil, true)
	checkClose(t, "rnn", outs[0], ir.Shape{1, T, 2}, flatRows(rnn), 1e-5)
}

// TestLayersBidirectionalSequences: Bidirectional LSTM returning
// sequences, concatenated, with the backward states put back in time
// order; and TimeDistributed(Conv2D) over [N, T, H, W, C].
func TestLayersBidirectionalSequences(t *testing.T) {
	const T, F = 3, 2
	lstm := map[string]any{"class_name": "LSTM", "config": map[string]any{"name": "lstm", "units": 2, "return_sequences": true, "recurrent_activation": "sigmoid"}}
	topo := seq("2.12.0",
		klay("Bidirectional", "bi", map[string]any{"batch_input_shape": []any{nil, T, F}, "layer": lstm}),
		klay("Reshape", "r", map[string]any{"target_shape": []int{T, 2, 2, 1}}),
		klay("TimeDistributed", "td", map[string]any{"layer": map[string]any{"class_name": "Conv2D", "config": map[string]any{
			"name": "c", "filters": 2, "kernel_size": 2, "padding": "valid"}}}),
		klay("Flatten", "f", nil))
	var ws []kweight
	for i, n := range []string{"bi/forward_lstm/kernel", "bi/forward_lstm/recurrent_kernel", "bi/forward_lstm/bias",
		"bi/backward_lstm/kernel", "bi/backward_lstm/recurrent_kernel", "bi/backward_lstm/bias"} {
		shape := [][]int{{2, 8}, {2, 8}, {8}}[i%3]
		size := []int{16, 16, 8}[i%3]
		ws = append(ws, kweight{name: n, shape: shape, vals: rnd(int64(i+1), size, 0.7)})
	}
	ws = append(ws, kweight{name: "td/kernel", shape: []int{2, 2, 1, 2}, vals: rnd(9, 8, 0.7)}, kweight{name: "td/bias", shape: []int{2}, vals: rnd(10, 2, 0.3)})
	dir := writeLayers(t, topo, ws)
	x := rnd(11, T*F, 1)
	outs := loadRun(t, dir, Options{}, ir.FloatTensor(ir.Shape{1, T, F}, x))

	fw := refRNN("lstm", x, T, F, ws[0].vals, ws[1].vals, ws[2].vals, nil, 2, math.Tanh, refSigmoid, false)
	bw := refRNN("lstm", x, T, F, ws[3].vals, ws[4].vals, ws[5].vals, nil, 2, math.Tanh, refSigmoid, true)
	var want []float32
	for ti := 0; ti < T; ti++ {
		img := append(append([]float32{}, fw[ti]...), bw[T-1-ti]...) // [2, 2, 1]
		c, _, _ := refConvNHWC(img, 2, 2, 1, ws[6].vals, 2, 2, 2, ws[7].vals, []int{1, 1}, []int{0, 0, 0, 0}, 1)
		want = append(want, c...)
	}
	checkClose(t, "f", outs[0], ir.Shape{1, T * 2}, want, 1e-5)
}

// TestLayers1D: preprocessing and 1-D layers: Rescaling with per-channel
// scale, Normalization from its weights, ZeroPadding1D, a causal Conv1D,
// Cropping1D, UpSampling1D and MaxPooling1D with SAME padding; the model's
// input shape comes from its first layer (no InputLayer).
func TestLayers1D(t *testing.T) {
	const T, C = 6, 2
	topo := seq("2.12.0",
		klay("Rescaling", "scale", map[string]any{"batch_input_shape": []any{nil, T, C}, "scale": []float64{2, -1}, "offset": 0.5}),
		klay("Normalization", "norm", map[string]any{"axis": -1}),
		klay("ZeroPadding1D", "pad", map[string]any{"padding": []int{1, 2}}),
		klay("Conv1D", "conv", map[string]any{"filters": 3, "kernel_size": 3, "padding": "causal", "activation": "softsign"}),
		klay("Cropping1D", "crop", map[string]any{"cropping": []int{2, 1}}),
		klay("UpSampling1D", "up", map[string]any{"size": 2}),
		klay("MaxPooling1D", "pool", map[string]any{"pool_size": 3, "strides": 2, "padding": "same"}))
	ws := []kweight{
		{name: "norm/mean", shape: []int{2}, vals: []float32{0.3, -0.2}},
		{name: "norm/variance", shape: []int{2}, vals: []float32{2, 0.5}},
		{name: "norm/count", shape: []int{}, vals: []float32{100}},
		{name: "conv/kernel", shape: []int{3, 2, 3}, vals: rnd(1, 18, 0.6)},
		{name: "conv/bias", shape: []int{3}, vals: rnd(2, 3, 0.2)},
	}
	dir := writeLayers(t, topo, ws)
	x := rnd(3, T*C, 1)
	outs := loadRun(t, dir, Options{}, ir.FloatTensor(ir.Shape{1, T, C}, x))

	// Rescaling, Normalization, then zero padding 1 before and 2 after.
	p := make([]float32, (T+3)*C)
	for i, v := range x {
		ch := i % C
		y := float64(v)*[]float64{2, -1}[ch] + 0.5
		y = (y - float64(ws[0].vals[ch])) / math.Sqrt(float64(ws[1].vals[ch]))
		p[C+i] = float32(y)
	}
	// Causal conv: 2 zeros on the left, stride 1: length 9.
	c, _, ow := refConvNHWC(p, 1, T+3, C, ws[3].vals, 1, 3, 3, ws[4].vals, []int{1, 1}, []int{0, 2, 0, 0}, 1)
	for i, v := range c {
		c[i] = v / (1 + float32(math.Abs(float64(v))))
	}
	c = c[2*3 : (ow-1)*3] // crop 2 and 1: length 6
	var u []float32
	for i := 0; i < len(c)/3; i++ {
		u = append(u, c[i*3:i*3+3]...)
		u = append(u, c[i*3:i*3+3]...)
	}
	// Max pool 3, stride 2, SAME over 12: 6 outputs, pads 0 before, 1 after.
	var want []float32
	for o := 0; o < 6; o++ {
		for ch := 0; ch < 3; ch++ {
			m := float32(math.Inf(-1))
			for k := 0; k < 3; k++ {
				if i := 2*o + k; i < 12 {
					m = max(m, u[i*3+ch])
				}
			}
			want = append(want, m)
		}
	}
	checkClose(t, "pool", outs[0], ir.Shape{1, 6, 3}, want, 1e-5)
}

// TestLayersKeras3: a functional model in Keras 3's serialization
// (inbound nodes as args of __keras_tensor__, batch_shape, a single
// output reference) with two inputs, Subtract, Concatenate and the
// activations without an op of their own; Keras 3's hard_sigmoid is
// relu6(x + 3)/6.
func TestLayersKeras3(t *testing.T) {
	kt := func(layer string) map[string]any {
		return map[string]any{"class_name": "__keras_tensor__", "config": map[string]any{
			"shape": []any{nil, 3}, "dtype": "float32", "keras_history": []any{layer, 0, 0}}}
	}
	node := func(args ...any) map[string]any {
		return map[string]any{"args": args, "kwargs": map[string]any{"training": false}}
	}
	acts := []string{"selu", "elu", "gelu", "softsign", "mish", "exponential", "hard_sigmoid", "swish", "softplus", "relu6", "linear"}
	layers := []any{
		klay("InputLayer", "a", map[string]any{"batch_shape": []any{nil, 3}, "dtype": "float32"}, []any{}),
		klay("InputLayer", "b", map[string]any{"batch_shape": []any{nil, 3}, "dtype": "float32"}, []any{}),
		klay("Subtract", "sub", map[string]any{"dtype": map[string]any{"module": "keras", "class_name": "DTypePolicy", "config": map[string]any{"name": "float32"}}}, node([]any{kt("a"), kt("b")})),
	}
	var names []any
	for _, a := range acts {
		layers = append(layers, klay("Activation", "act_"+a, map[string]any{"activation": a}, node(kt("sub"))))
		names = append(names, kt("act_"+a))
	}
	layers = append(layers, klay("Concatenate", "cat", map[string]any{"axis": -1}, node(names)))
	topo := map[string]any{"class_name": "Functional", "keras_version": "3.3.3", "backend": "tensorflow", "config": map[string]any{
		"name": "k3", "trainable": true, "layers": layers,
		"input_layers": [][]any{{"a", 0, 0}, {"b", 0, 0}}, "output_layers": []any{"cat", 0, 0},
	}}
	dir := writeLayers(t, topo, nil)
	a, b := rnd(1, 3, 2), rnd(2, 3, 2)
	outs := loadRun(t, dir, Options{}, ir.FloatTensor(ir.Shape{1, 3}, a), ir.FloatTensor(ir.Shape{1, 3}, b))
	fns := map[string]func(float64) float64{
		"selu": func(v float64) float64 {
			if v > 0 {
				return kerasSeluScale * v
			}
			return kerasSeluScale * kerasSeluAlpha * (math.Exp(v) - 1)
		},
		"elu": func(v float64) float64 {
			if v > 0 {
				return v
			}
			return math.Exp(v) - 1
		},
		"gelu":         func(v float64) float64 { return v * 0.5 * (1 + math.Erf(v/math.Sqrt2)) },
		"softsign":     func(v float64) float64 { return v / (1 + math.Abs(v)) },
		"mish":         func(v float64) float64 { return v * math.Tanh(math.Log1p(math.Exp(v))) },
		"exponential":  math.Exp,
		"hard_sigmoid": func(v float64) float64 { return math.Max(0, math.Min(6, v+3)) / 6 },
		"swish":        func(v float64) float64 { return v * refSigmoid(v) },
		"softplus":     func(v float64) float64 { return math.Log1p(math.Exp(v)) },
		"relu6":        func(v float64) float64 { return math.Max(0, math.Min(6, v)) },
		"linear":       func(v float64) float64 { return v },
	}
	var want []float32
	for _, name := range acts {
		for i := range a {
			want = append(want, float32(fns[name](float64(a[i]-b[i]))))
		}
	}
	checkClose(t, "cat", outs[0], ir.Shape{1, 3 * len(acts)}, want, 1e-4)
}

// TestLayersQuantized: weights stored as uint8, uint16 and float16 are
// dequantized by the graph models' decoder; a Dense model, with the
// input shape's open time axis given by Options.InputShape.
func TestLayersQuantized(t *testing.T) {
	topo := seq("tfjs-layers 4.22.0",
		klay("Dense", "d1", map[string]any{"batch_input_shape": []any{nil, nil, 4}, "units": 5, "activation": "relu"}),
		klay("Dense", "d2", map[string]any{"units": 3, "use_bias": false, "activation": "softmax"}),
		klay("PReLU", "p", map[string]any{"shared_axes": []int{1}}))
	ws := []kweight{
		{name: "d1/kernel", shape: []int{4, 5}, vals: rnd(1, 20, 1), quant: "uint8"},
		{name: "d1/bias", shape: []int{5}, vals: rnd(2, 5, 0.3), quant: "float16"},
		{name: "d2/kernel", shape: []int{5, 3}, vals: rnd(3, 15, 1), quant: "uint16"},
		{name: "p/alpha", shape: []int{1, 3}, vals: []float32{0.1, 0.2, 0.3}},
	}
	dir := writeLayers(t, topo, ws)
	if _, err := LoadLayers(dir, Options{}); err == nil || !strings.Contains(err.Error(), "give the input shape") {
		t.Fatalf("open time axis: got %v, want an error asking for the input shape", err)
	}
	const T = 2
	x := rnd(4, T*4, 1)
	outs := loadRun(t, dir, Options{InputShape: []int{1, T, 4}}, ir.FloatTensor(ir.Shape{1, T, 4}, x))
	h := refDense(x, T, 4, ws[0].vals, 5, ws[1].vals)
	for i := range h {
		h[i] = max(h[i], 0)
	}
	y := refDense(h, T, 5, ws[2].vals, 3, nil)
	for r := 0; r < T; r++ {
		var s float64
		for _, v := range y[r*3 : r*3+3] {
			s += math.Exp(float64(v))
		}
		for j := r * 3; j < r*3+3; j++ {
			y[j] = float32(math.Exp(float64(y[j])) / s) // positive: PReLU passes it
		}
	}
	checkClose(t, "p", outs[0], ir.Shape{1, T, 3}, y, 1e-5)
}

// TestLayersNested: a functional model nested in a functional model (two
// inputs; its call is node 1, node 0 being its own) and a Sequential with
// an InputLayer nested after it, each called once; the inner layers'
// weights carry no prefix of their model.
func TestLayersNested(t *testing.T) {
	innerIn := func(name string) map[string]any {
		return klay("InputLayer", name, map[string]any{"batch_input_shape": []any{nil, 2}}, []any{})
	}
	inner := map[string]any{"name": "inner", "layers": []any{
		innerIn("i1"), innerIn("i2"),
		klay("Subtract", "sub", nil, call("i1", "i2")),
		klay("Dense", "d", map[string]any{"units": 2, "activation": "tanh"}, call("sub")),
	}, "input_layers": [][]any{{"i1", 0, 0}, {"i2", 0, 0}}, "output_layers": [][]any{{"d", 0, 0}}}
	innerSeq := map[string]any{"name": "tail", "layers": []any{
		klay("InputLayer", "t_in", map[string]any{"batch_input_shape": []any{nil, 2}}),
		klay("Dense", "e", map[string]any{"units": 1, "use_bias": false}),
	}}
	outer := map[string]any{"class_name": "Functional", "keras_version": "2.12.0", "config": map[string]any{
		"name": "outer", "layers": []any{
			innerIn("a"), innerIn("b"),
			map[string]any{"class_name": "Functional", "name": "inner", "config": inner,
				"inbound_nodes": []any{call("a", "b")}},
			map[string]any{"class_name": "Sequential", "name": "tail", "config": innerSeq,
				"inbound_nodes": []any{[]any{[]any{"inner", 1, 0, map[string]any{}}}}},
		},
		"input_layers": [][]any{{"a", 0, 0}, {"b", 0, 0}}, "output_layers": [][]any{{"tail", 1, 0}, {"inner", 1, 0}},
	}}
	ws := []kweight{
		{name: "d/kernel", shape: []int{2, 2}, vals: rnd(1, 4, 1)},
		{name: "d/bias", shape: []int{2}, vals: rnd(2, 2, 0.3)},
		{name: "e/kernel", shape: []int{2, 1}, vals: rnd(3, 2, 1)},
	}
	dir := writeLayers(t, outer, ws)
	a, b := rnd(4, 2, 1), rnd(5, 2, 1)
	outs := loadRun(t, dir, Options{}, ir.FloatTensor(ir.Shape{1, 2}, a), ir.FloatTensor(ir.Shape{1, 2}, b))
	d := refDense([]float32{a[0] - b[0], a[1] - b[1]}, 1, 2, ws[0].vals, 2, ws[1].vals)
	for i := range d {
		d[i] = float32(math.Tanh(float64(d[i])))
	}
	checkClose(t, "tail", outs[0], ir.Shape{1, 1}, refDense(d, 1, 2, ws[2].vals, 1, nil), 1e-5)
	checkClose(t, "inner", outs[1], ir.Shape{1, 2}, d, 1e-5)
}

// TestLayersBuildInputShape: a Sequential model built without an input
// layer keeps its input shape in build_input_shape; Keras writes
// groups = 1 into a DepthwiseConv2D's config.
func TestLayersBuildInputShape(t *testing.T) {
	topo := map[string]any{"class_name": "Sequential", "keras_version": "2.12.0", "config": map[string]any{
		"name": "s", "build_input_shape": []any{nil, 2, 2, 2},
		"layers": []any{klay("DepthwiseConv2D", "dw", map[string]any{"kernel_size": []int{1, 1}, "groups": 1, "depth_multiplier": 1, "use_bias": false})},
	}}
	ws := []kweight{{name: "dw/depthwise_kernel", shape: []int{1, 1, 2, 1}, vals: []float32{2, -3}}}
	x := rnd(1, 8, 1)
	outs := loadRun(t, writeLayers(t, topo, ws), Options{}, ir.FloatTensor(ir.Shape{1, 2, 2, 2}, x))
	want := make([]float32, 8)
	for i, v := range x {
		want[i] = v * ws[0].vals[i%2]
	}
	checkClose(t, "dw", outs[0], ir.Shape{1, 2, 2, 2}, want, 1e-6)
}
