package tf

// The topology of a layers model: Sequential and functional models (nested
// ones too), the references between layer calls, and the graph inputs.

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"veil/ir"
)

// maxModelDepth bounds the nesting of models and wrappers.
const maxModelDepth = 32

// model lowers the Sequential or functional model l, whose config is raw
// (a Sequential's may be a bare layer list). ins, when not nil, are the
// values its inputs are bound to (a model nested as a layer); otherwise
// its inputs become graph inputs. It returns the model's outputs.
func (b *kbuilder) model(l *klayer, raw json.RawMessage, ins []string) ([]string, error) {
	if b.depth++; b.depth > maxModelDepth {
		return nil, l.errorf("models and wrappers are nested more than %d deep", maxModelDepth)
	}
	defer func() { b.depth-- }()
	if l.class == "Sequential" {
		return b.sequential(l, raw, ins)
	}
	return b.functional(l, ins)
}

// layerList decodes a model's layers.
func layerList(raw json.RawMessage) ([]kerasObj, error) {
	var layers []kerasObj
	if err := json.Unmarshal(raw, &layers); err != nil {
		return nil, fmt.Errorf("layers: %w", err)
	}
	for i := range layers {
		if layers[i].Name == "" {
			var c struct {
				Name string `json:"name"`
			}
			json.Unmarshal(layers[i].Config, &c)
			layers[i].Name = c.Name
		}
		if layers[i].Name == "" {
			return nil, fmt.Errorf("layer %d (%s) has no name", i, layers[i].Class)
		}
	}
	return layers, nil
}

func (b *kbuilder) sequential(l *klayer, raw json.RawMessage, ins []string) ([]string, error) {
	lraw := raw
	if !strings.HasPrefix(strings.TrimSpace(string(raw)), "[") {
		lraw = l.raw("layers")
	}
	layers, err := layerList(lraw)
	if err != nil {
		return nil, l.errorf("%v", err)
	}
	if len(layers) == 0 {
		return nil, l.errorf("the model has no layers")
	}
	var x string
	first := layers[0]
	switch {
	case ins != nil:
		if len(ins) != 1 {
			return nil, l.errorf("called on %d inputs; a Sequential model takes one", len(ins))
		}
		x = ins[0]
		if first.Class == "InputLayer" {
			layers = layers[1:]
		}
	case first.Class == "InputLayer":
		if x, err = b.input(first, l.base); err != nil {
			return nil, err
		}
		layers = layers[1:]
	default:
		// Keras names the input layer it makes after the first layer, whose
		// config holds the input shape, or else the model's
		// build_input_shape does (a model built without an input layer).
		in := first
		in.Name += "_input"
		if bs := l.raw("build_input_shape"); bs != nil && !hasInputShape(first) {
			in = kerasObj{Class: "InputLayer", Name: in.Name}
			in.Config, _ = json.Marshal(map[string]json.RawMessage{"batch_input_shape": bs})
		}
		if x, err = b.input(in, l.base); err != nil {
			return nil, err
		}
	}
	for _, ly := range layers {
		outs, err := b.layer(ly, l, []string{x})
		if err != nil {
			return nil, err
		}
		if len(outs) != 1 {
			return nil, &ir.NodeError{Node: ly.Name, Op: ir.Op(ly.Class), Err: fmt.Errorf("has %d outputs; a layer of a Sequential model must have one", len(outs))}
		}
		x = outs[0]
	}
	return []string{x}, l.checkKeys()
}

// kref is a reference to a layer's output in a functional model:
// output Tensor of the Node-th call of Layer.
type kref struct {
	Layer        string
	Node, Tensor int
}

func (r kref) String() string { return fmt.Sprintf("%s[%d][%d]", r.Layer, r.Node, r.Tensor) }

func (b *kbuilder) functional(l *klayer, ins []string) ([]string, error) {
	layers, err := layerList(l.raw("layers"))
	if err != nil {
		return nil, l.errorf("%v", err)
	}
	byName := map[string]*kerasObj{}
	calls := map[string][][]kref{}
	for i := range layers {
		ly := &layers[i]
		if byName[ly.Name] != nil {
			return nil, l.errorf("two layers are named %q", ly.Name)
		}
		byName[ly.Name] = ly
		if calls[ly.Name], err = inboundNodes(ly.Inbound); err != nil {
			return nil, &ir.NodeError{Node: ly.Name, Op: ir.Op(ly.Class), Err: fmt.Errorf("inbound_nodes: %w", err)}
		}
	}
	inRefs, err := refList(l.raw("input_layers"))
	if err != nil {
		return nil, l.errorf("input_layers: %v", err)
	}
	outRefs, err := refList(l.raw("output_layers"))
	if err != nil {
		return nil, l.errorf("output_layers: %v", err)
	}
	if ins != nil && len(ins) != len(inRefs) {
		return nil, l.errorf("called on %d inputs; the model has %d", len(ins), len(inRefs))
	}
	bound := map[string]string{}
	for i, r := range inRefs {
		ly := byName[r.Layer]
		if ly == nil || ly.Class != "InputLayer" {
			return nil, l.errorf("input %s is not an InputLayer of the model", r)
		}
		if ins != nil {
			bound[r.Layer] = ins[i]
		} else if bound[r.Layer], err = b.input(*ly, l.base); err != nil {
			return nil, err
		}
	}
	done := map[string][]string{} // "layer#node" → outputs
	active := map[string]bool{}
	var resolve func(r kref, from string) (string, error)
	resolve = func(r kref, from string) (string, error) {
		ly := byName[r.Layer]
		if ly == nil {
			return "", l.errorf("layer %q reads %s, which is not a layer of the model", from, r)
		}
		if ly.Class == "InputLayer" {
			v, ok := bound[r.Layer]
			if !ok {
				return "", l.errorf("layer %q reads input layer %q, which is not among the model's inputs", from, r.Layer)
			}
			return v, nil
		}
		k := r.Node - nodeOffset(ly)
		if k < 0 || k >= len(calls[r.Layer]) {
			return "", l.errorf("layer %q reads %s, but layer %q has %d inbound node(s)", from, r, r.Layer, len(calls[r.Layer]))
		}
		key := r.Layer + "#" + strconv.Itoa(k)
		outs, ok := done[key]
		if !ok {
			if active[key] {
				return "", l.errorf("the model has a cycle through layer %q", r.Layer)
			}
			active[key] = true
			var args []string
			for _, in := range calls[r.Layer][k] {
				v, err := resolve(in, r.Layer)
				if err != nil {
					return "", err
				}
				args = append(args, v)
			}
			var err error
			if outs, err = b.layer(*ly, l, args); err != nil {
				return "", err
			}
			done[key] = outs
		}
		if r.Tensor < 0 || r.Tensor >= len(outs) {
			return "", l.errorf("layer %q reads %s, but that call of %q has %d output(s)", from, r, r.Layer, len(outs))
		}
		return outs[r.Tensor], nil
	}
	outs := make([]string, len(outRefs))
	for i, r := range outRefs {
		if outs[i], err = resolve(r, l.name); err != nil {
			return nil, err
		}
	}
	return outs, l.checkKeys()
}

// nodeOffset is 1 for a model nested as a layer that was built on its own
// inputs: its first node links those inputs to its outputs and is not in
// the config, but node indices count it (Keras and tfjs alike).
func nodeOffset(ly *kerasObj) int {
	switch ly.Class {
	case "Model", "Functional":
		return 1
	case "Sequential":
		layers, err := layerList(sequentialLayers(ly.Config))
		if err != nil || len(layers) == 0 {
			return 0
		}
		if layers[0].Class == "InputLayer" {
			return 1
		}
		if hasInputShape(layers[0]) {
			return 1
		}
	}
	return 0
}

// hasInputShape reports whether a layer's config gives the input shape.
func hasInputShape(ly kerasObj) bool {
	var c map[string]json.RawMessage
	json.Unmarshal(ly.Config, &c)
	return present(c["batch_input_shape"]) || present(c["batch_shape"])
}

func sequentialLayers(raw json.RawMessage) json.RawMessage {
	if strings.HasPrefix(strings.TrimSpace(string(raw)), "[") {
		return raw
	}
	var c struct {
		Layers json.RawMessage `json:"layers"`
	}
	json.Unmarshal(raw, &c)
	return c.Layers
}

// inboundNodes decodes a layer's inbound_nodes: per call, the layer
// outputs it reads. Keras 2 and tfjs write each call as a list of
// [layer, node, tensor, kwargs]; Keras 3 as {"args": [...], "kwargs":
// {...}} with each tensor a {"class_name": "__keras_tensor__", "config":
// {"keras_history": [layer, node, tensor]}}.
func inboundNodes(raw json.RawMessage) ([][]kref, error) {
	if !present(raw) {
		return nil, nil
	}
	var nodes []json.RawMessage
	if err := json.Unmarshal(raw, &nodes); err != nil {
		return nil, err
	}
	out := make([][]kref, len(nodes))
	for i, n := range nodes {
		var k3 struct {
			Args   json.RawMessage            `json:"args"`
			Kwargs map[string]json.RawMessage `json:"kwargs"`
		}
		if json.Unmarshal(n, &k3) == nil && present(k3.Args) {
			if err := kerasTensors(k3.Args, &out[i]); err != nil {
				return nil, fmt.Errorf("node %d: %w", i, err)
			}
			if err := checkKwargs(k3.Kwargs); err != nil {
				return nil, fmt.Errorf("node %d: %w", i, err)
			}
			continue
		}
		var items [][]json.RawMessage
		if err := json.Unmarshal(n, &items); err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		for _, it := range items {
			r, err := parseRef(it)
			if err != nil {
				return nil, fmt.Errorf("node %d: %w", i, err)
			}
			if len(it) > 3 && present(it[3]) {
				var kw map[string]json.RawMessage
				if err := json.Unmarshal(it[3], &kw); err != nil {
					return nil, fmt.Errorf("node %d: kwargs: %w", i, err)
				}
				if err := checkKwargs(kw); err != nil {
					return nil, fmt.Errorf("node %d: %w", i, err)
				}
			}
			out[i] = append(out[i], r)
		}
	}
	return out, nil
}

// checkKwargs refuses call arguments other than training (which only
// matters while training) and a null mask.
func checkKwargs(kw map[string]json.RawMessage) error {
	for k, v := range kw {
		if k == "training" || !present(v) {
			continue
		}
		return fmt.Errorf("call argument %q = %s is not supported", k, v)
	}
	return nil
}

// kerasTensors appends the keras_history of every Keras 3 tensor in raw
// (nested lists allowed) to out.
func kerasTensors(raw json.RawMessage, out *[]kref) error {
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		for _, it := range list {
			if err := kerasTensors(it, out); err != nil {
				return err
			}
		}
		return nil
	}
	var t struct {
		Class  string `json:"class_name"`
		Config struct {
			History []json.RawMessage `json:"keras_history"`
		} `json:"config"`
	}
	if err := json.Unmarshal(raw, &t); err != nil || t.Class != "__keras_tensor__" {
		return fmt.Errorf("argument %s is not a Keras tensor", raw)
	}
	r, err := parseRef(t.Config.History)
	if err != nil {
		return err
	}
	*out = append(*out, r)
	return nil
}

// parseRef decodes [layer, node, tensor, ...].
func parseRef(it []json.RawMessage) (kref, error) {
	var r kref
	if len(it) < 3 {
		return r, fmt.Errorf("reference %v: want [layer, node, tensor]", it)
	}
	if err := json.Unmarshal(it[0], &r.Layer); err != nil {
		return r, fmt.Errorf("reference layer %s: %w", it[0], err)
	}
	for i, dst := range []*int{&r.Node, &r.Tensor} {
		v, err := jsonInt64(it[i+1])
		if err != nil || v < 0 || v > maxAttrInt {
			return r, fmt.Errorf("reference %s: bad index %s", it[0], it[i+1])
		}
		*dst = int(v)
	}
	return r, nil
}

// refList decodes input_layers or output_layers: a list of references, or
// a single one (Keras 3 writes a model with one input that way).
func refList(raw json.RawMessage) ([]kref, error) {
	var items [][]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		var one []json.RawMessage
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, err
		}
		items = [][]json.RawMessage{one}
	}
	if len(items) == 0 {
		return nil, errors.New("empty")
	}
	out := make([]kref, len(items))
	for i, it := range items {
		r, err := parseRef(it)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// layer lowers one call of layer ly of model m on the values ins and
// returns its outputs.
func (b *kbuilder) layer(ly kerasObj, m *klayer, ins []string) ([]string, error) {
	var cfg map[string]json.RawMessage
	if present(ly.Config) && !strings.HasPrefix(strings.TrimSpace(string(ly.Config)), "[") {
		if err := json.Unmarshal(ly.Config, &cfg); err != nil {
			return nil, &ir.NodeError{Node: ly.Name, Op: ir.Op(ly.Class), Err: fmt.Errorf("config: %w", err)}
		}
	}
	scope := m.scope
	if m.base != "" {
		scope = append(scope[:len(scope):len(scope)], m.name)
	}
	base := ly.Name
	if m.base != "" {
		base = m.base + "/" + ly.Name
	}
	l := b.newLayer(ly.Class, ly.Name, base, cfg, scope)
	if isModelClass(ly.Class) {
		outs, err := b.model(l, ly.Config, ins)
		return outs, l.wrap(err)
	}
	out, err := b.lower(l, ins)
	if err != nil {
		return nil, err
	}
	return []string{out}, nil
}

// lower lowers layer l on ins with its converter, checks that every
// config key was understood, and names its output after the layer.
func (b *kbuilder) lower(l *klayer, ins []string) (string, error) {
	conv := layerConverters[l.class]
	if conv == nil {
		return "", l.errorf("layer class %q is not supported", l.class)
	}
	start := len(b.g.Nodes)
	for _, in := range ins {
		if b.g.Values[in] == nil {
			return "", l.errorf("input %q is not defined", in)
		}
	}
	out, err := conv(l, ins)
	if err != nil {
		return "", l.wrap(err)
	}
	if err := l.checkKeys(); err != nil {
		return "", err
	}
	return b.rename(out, l.base, start), nil
}

// rename gives value v, when a node added since index start computes it,
// the name want (made unique), and returns its name.
func (b *kbuilder) rename(v, want string, start int) string {
	if v == want {
		return v
	}
	for i := len(b.g.Nodes) - 1; i >= start; i-- {
		n := b.g.Nodes[i]
		if n.Output != v {
			continue
		}
		name := b.g.UniqueName(want)
		val := b.g.Values[v]
		delete(b.g.Values, v)
		val.Name = name
		b.g.Values[name] = val
		n.Output, n.Name = name, name
		for _, m := range b.g.Nodes[i+1:] {
			for j, in := range m.Inputs {
				if in == v {
					m.Inputs[j] = name
				}
			}
		}
		return name
	}
	return v
}

// input declares the graph input of InputLayer ly (or of the input layer
// Keras makes for a Sequential model from its first layer's shape).
func (b *kbuilder) input(ly kerasObj, base string) (string, error) {
	var cfg map[string]json.RawMessage
	if present(ly.Config) {
		if err := json.Unmarshal(ly.Config, &cfg); err != nil {
			return "", &ir.NodeError{Node: ly.Name, Op: ir.Op(ly.Class), Err: fmt.Errorf("config: %w", err)}
		}
	}
	l := b.newLayer(ly.Class, ly.Name, ly.Name, cfg, nil)
	if base != "" {
		l.base = base + "/" + ly.Name
	}
	if dt, _ := l.str("dtype", "float32"); dt != "float32" && dt != "" {
		var policy struct {
			Config struct {
				Name string `json:"name"`
			} `json:"config"`
		}
		if json.Unmarshal(l.cfg["dtype"], &policy) != nil || policy.Config.Name != "float32" {
			return "", l.errorf("input dtype %s is not supported (veil's inputs are float32)", l.cfg["dtype"])
		}
	}
	if err := l.flag("sparse", false); err != nil {
		return "", err
	}
	for _, k := range []string{"ragged", "optional"} {
		if err := l.flag(k, false); err != nil {
			return "", err
		}
	}
	var dims []*int
	var key string
	for _, k := range []string{"batch_input_shape", "batch_shape"} {
		if r := l.raw(k); r != nil {
			key = k
			if err := json.Unmarshal(r, &dims); err != nil {
				return "", l.errorf("attribute %q = %s: want a list of sizes", k, r)
			}
			break
		}
	}
	if key == "" {
		return "", l.errorf("the input shape is not given (no batch_input_shape)")
	}
	shape := make(ir.Shape, len(dims))
	open := false
	for i, d := range dims {
		switch {
		case d == nil && i == 0:
			shape[i] = 1
		case d == nil:
			shape[i] = -1
			open = true
		case *d < 1 || *d > maxAttrInt:
			return "", l.errorf("attribute %q = %s has a size that is not positive", key, l.cfg[key])
		default:
			shape[i] = *d
		}
	}
	given, named := b.opt.InputShapes[ly.Name]
	if !named && b.opt.InputShape != nil {
		if b.inputs > 0 {
			return "", l.errorf("an input shape without a name was given, but the model has several inputs; name each (--input-shape NAME=DIMS)")
		}
		given = b.opt.InputShape
	}
	if given != nil {
		if len(given) != len(shape) {
			return "", l.errorf("the input shape given, %v, has rank %d; the model's %s is %s", given, len(given), key, l.cfg[key])
		}
		for i, d := range given {
			if i > 0 && shape[i] > 0 && d != shape[i] {
				return "", l.errorf("the input shape given, %v, disagrees with the model's %s %s", given, key, l.cfg[key])
			}
			shape[i] = d
		}
	} else if open {
		return "", l.errorf("%s %s leaves a dimension other than the batch open; give the input shape (--input-shape NAME=DIMS)", key, l.cfg[key])
	}
	b.inputs++
	name := b.g.UniqueName(l.base)
	if err := b.g.AddInput(name, shape); err != nil {
		return "", l.errorf("%v", err)
	}
	return name, nil
}
