package tf

import (
	"errors"
	"strings"
	"testing"

	"veil/internal/testmodel/testfile"
	"veil/ir"
)

// TestLayersErrors: every layer class, activation and attribute value the
// importer does not implement is an *ir.NodeError naming the layer, its
// class and the attribute.
func TestLayersErrors(t *testing.T) {
	img := map[string]any{"batch_input_shape": []any{nil, 4, 4, 2}}
	vec := map[string]any{"batch_input_shape": []any{nil, 3}}
	seqIn := map[string]any{"batch_input_shape": []any{nil, 3, 2}}
	with := func(base map[string]any, kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	conv := func(kv ...any) map[string]any {
		return with(img, append([]any{"filters", 2, "kernel_size", 1}, kv...)...)
	}
	convW := []kweight{{name: "c/kernel", shape: []int{1, 1, 2, 2}, vals: make([]float32, 4)}, {name: "c/bias", shape: []int{2}, vals: make([]float32, 2)}}
	denseW := []kweight{{name: "c/kernel", shape: []int{3, 2}, vals: make([]float32, 6)}, {name: "c/bias", shape: []int{2}, vals: make([]float32, 2)}}
	lstmW := []kweight{{name: "c/kernel", shape: []int{2, 4}, vals: make([]float32, 8)},
		{name: "c/recurrent_kernel", shape: []int{1, 4}, vals: make([]float32, 4)}, {name: "c/bias", shape: []int{4}, vals: make([]float32, 4)}}
	cases := []struct {
		name    string
		class   string
		cfg     map[string]any
		ws      []kweight
		op      string // the class the error names (default class)
		wantErr string
	}{
		{"dilation", "Conv2D", conv("dilation_rate", []int{2, 2}), convW, "", `attribute "dilation_rate" = [2 2] is not supported`},
		{"channels first", "Conv2D", conv("data_format", "channels_first"), convW, "", `attribute "data_format" = "channels_first" is not supported`},
		{"padding", "Conv2D", conv("padding", "full"), convW, "", `attribute "padding" = "full"`},
		{"depthwise groups", "DepthwiseConv2D", with(img, "kernel_size", 1, "groups", 2), nil, "", `attribute "groups" = 2 is not supported (only 1)`},
		{"conv groups", "Conv2D", conv("groups", 3), convW, "", `attribute "groups" = 3 does not divide`},
		{"unknown class", "Lambda", with(img, "function", "x"), nil, "", `layer class "Lambda" is not supported`},
		{"masking", "Masking", with(seqIn, "mask_value", 0), nil, "", `layer class "Masking" is not supported`},
		{"activation", "Dense", with(vec, "units", 2, "activation", "crelu"), denseW, "", `attribute "activation" = "crelu": activation "crelu" is not supported`},
		{"activation object", "Dense", with(vec, "units", 2, "activation", map[string]any{"class_name": "LeakyReLU", "config": map[string]any{"alpha": 0.2}}), denseW, "", `attribute "activation"`},
		{"unknown attribute", "Dense", with(vec, "units", 2, "lora_rank", 4), denseW, "", `attribute "lora_rank" (= 4) is not supported`},
		{"relu threshold", "ReLU", with(vec, "threshold", 0.5), nil, "", `attribute "threshold" = 0.5 is not supported`},
		{"embedding", "Embedding", with(vec, "input_dim", 10, "output_dim", 4), nil, "", "Embedding looks rows up by integer token ids"},
		{"return state", "LSTM", with(seqIn, "units", 1, "return_state", true), lstmW, "", `attribute "return_state" = true is not supported`},
		{"recurrent activation", "LSTM", with(seqIn, "units", 1, "activation", "elu"), lstmW, "", `attribute "activation" = "elu": activation "elu" is not supported in a recurrent layer`},
		{"stateful", "LSTM", with(seqIn, "units", 1, "stateful", true), lstmW, "", `attribute "stateful" = true is not supported`},
		{"missing weight", "Dense", with(vec, "units", 2), nil, "", `weight "kernel" is not in the weights manifest`},
		{"weight shape", "Dense", with(vec, "units", 3), denseW, "", `has shape [3×2], want [3×3]`},
		{"no bias", "Dense", with(vec, "units", 2), denseW[:1], "", `weight "bias" is not in the weights manifest`},
		{"input dtype", "Dense", with(vec, "units", 2, "dtype", "int32"), denseW, "", "input dtype"},
		{"batch norm renorm", "BatchNormalization", with(vec, "renorm", true), nil, "", `attribute "renorm" = true is not supported`},
		{"flatten channels first", "Flatten", with(img, "data_format", "channels_first"), nil, "", `attribute "data_format"`},
		{"merge mode none", "Bidirectional", with(seqIn, "merge_mode", nil, "layer", map[string]any{"class_name": "LSTM", "config": map[string]any{"name": "l", "units": 1}}), nil, "", `attribute "merge_mode" = null`},
		{"layer norm axes", "LayerNormalization", with(img, "axis", []int{1, 3}), nil, "", `attribute "axis" = [1,3] is not supported`},
		{"open dims", "Dense", with(vec, "units", 2, "batch_input_shape", []any{nil, nil}), denseW, "", "give the input shape"},
		{"go backwards ok, time major not", "SimpleRNN", with(seqIn, "units", 1, "time_major", true), nil, "", `attribute "time_major" = true`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeLayers(t, seq("2.12.0", klay(c.class, "c", c.cfg)), c.ws)
			_, err := LoadLayers(dir, Options{})
			if err == nil {
				t.Fatal("imported; want an error")
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %q does not say %q", err, c.wantErr)
			}
			var ne *ir.NodeError
			if !errors.As(err, &ne) {
				t.Fatalf("error %q is not an *ir.NodeError", err)
			}
			op := c.op
			if op == "" {
				op = c.class
			}
			if (ne.Node != "c" && ne.Node != "c_input") || string(ne.Op) != op {
				t.Fatalf("error names node %q (%s), want \"c\" (%s): %v", ne.Node, ne.Op, op, err)
			}
		})
	}
}

// TestLayersFunctionalErrors: broken functional wiring is reported with
// the layer and reference.
func TestLayersFunctionalErrors(t *testing.T) {
	in := klay("InputLayer", "in", map[string]any{"batch_input_shape": []any{nil, 3}}, []any{})
	model := func(layers ...any) map[string]any {
		return map[string]any{"class_name": "Model", "keras_version": "tfjs-layers 4.22.0", "config": map[string]any{
			"name": "m", "layers": append([]any{in}, layers...),
			"input_layers": [][]any{{"in", 0, 0}}, "output_layers": [][]any{{"b", 0, 0}},
		}}
	}
	for _, c := range []struct {
		name, wantErr string
		topo          map[string]any
	}{
		{"cycle", `the model has a cycle through layer`, model(
			klay("Add", "a", nil, append(call("in"), call("b")...)),
			klay("Add", "b", nil, append(call("in"), call("a")...)))},
		{"missing layer", `reads x[0][0], which is not a layer`, model(klay("Add", "b", nil, append(call("in"), call("x")...)))},
		{"node index", `has 1 inbound node(s)`, model(
			klay("ReLU", "a", nil, call("in")),
			klay("Add", "b", nil, []any{[]any{"a", 1, 0, map[string]any{}}, []any{"in", 0, 0, map[string]any{}}}))},
		{"kwargs", `call argument "mask"`, model(klay("ReLU", "b", nil, []any{[]any{"in", 0, 0, map[string]any{"mask": 1}}}))},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeLayers(t, c.topo, nil)
			_, err := LoadLayers(dir, Options{})
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("got %v, want an error saying %q", err, c.wantErr)
			}
		})
	}
}

// TestLayersFormat: layers and graph models tell themselves apart, and
// each loader refuses the other's format.
func TestLayersFormat(t *testing.T) {
	graph := testfile.Path("tf/npm/iris")
	layers := testfile.Path("tf/layers/cnn")
	if IsLayersModel(graph) {
		t.Error("IsLayersModel(graph model) = true")
	}
	if !IsLayersModel(layers + "/model.json") {
		t.Error("IsLayersModel(layers model.json) = false")
	}
	if _, err := LoadLayers(graph, Options{}); err == nil || !strings.Contains(err.Error(), "not a layers model") {
		t.Errorf("LoadLayers(graph model): %v", err)
	}
	if _, err := LoadTFJS(layers, Options{}); err == nil {
		t.Error("LoadTFJS(layers model) succeeded")
	}
	// Without "format", the topology decides.
	dir := writeLayers(t, seq("2.12.0", klay("ReLU", "r", map[string]any{"batch_input_shape": []any{nil, 2}})), nil)
	if !isLayersJSON([]byte(`{"modelTopology": {"class_name": "Sequential", "config": {}}}`)) ||
		isLayersJSON([]byte(`{"modelTopology": {"node": []}}`)) || !IsLayersModel(dir) {
		t.Error("isLayersJSON does not tell the topologies apart")
	}
}
