package tf

// TF.js layers models: the format of tf.LayersModel.save and of
// tensorflowjs_converter --input_format keras. model.json holds a Keras
// model config (modelTopology) and the same weightsManifest as a graph
// model; the weights are read by the graph model's shard reader, with the
// same dequantization. The config is lowered layer by layer onto IR nodes
// (layers_model.go for the topology; layers_core.go, layers_activation.go,
// layers_norm.go, layers_conv.go, layers_rnn.go), activations in NHWC as
// Keras's channels_last. Every layer class, activation and attribute
// value that the lowering does not implement is an *ir.NodeError naming
// the layer and its class; config keys that cannot change inference
// (initializers, regularizers, constraints, dropout rates …) are the only
// ones passed over (ignoredKey).

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"veil/ir"
)

// LoadLayers reads a TF.js layers model (path is its model.json or the
// directory holding it, with the weight shards beside it) and imports it.
// Sequential and functional models (several inputs and outputs, shared
// layers, nested models) are supported; the graph inputs are the model's
// input layers in order, named after them, and its outputs the model's
// outputs in order. A null batch dimension becomes 1; any other null
// dimension needs opt.InputShape (the model must then have one input).
// opt.Outputs is not used.
func LoadLayers(path string, opt Options) (*ir.Graph, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %w", err)
	}
	dir, name := filepath.Dir(path), filepath.Base(path)
	if st.IsDir() {
		dir, name = path, "model.json"
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	g, err := readLayers(os.DirFS(dir), name, dir, filepath.Base(abs), opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// IsLayersModel reports whether path (a model.json or the directory
// holding it) is a TF.js layers model rather than a graph model: its
// format is "layers-model", or, without a format, its modelTopology is a
// Keras model config.
func IsLayersModel(path string) bool {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "model.json")
	}
	data, err := os.ReadFile(path)
	return err == nil && isLayersJSON(data)
}

func isLayersJSON(data []byte) bool {
	var m struct {
		Format        string          `json:"format"`
		ModelTopology json.RawMessage `json:"modelTopology"`
	}
	if json.Unmarshal(data, &m) != nil {
		return false
	}
	if m.Format != "" {
		return m.Format == "layers-model"
	}
	_, _, err := kerasTopology(m.ModelTopology)
	return err == nil
}

// kerasObj is a serialized Keras object: a model, or a layer in a model's
// layer list.
type kerasObj struct {
	Class   string          `json:"class_name"`
	Config  json.RawMessage `json:"config"`
	Name    string          `json:"name"`
	Inbound json.RawMessage `json:"inbound_nodes"`
}

func isModelClass(c string) bool {
	return c == "Sequential" || c == "Model" || c == "Functional"
}

// kerasTopology finds the model in a modelTopology: the model itself
// ({"class_name", "config", "keras_version", "backend"}, as tfjs's
// LayersModel.save writes it) or under "model_config" (as
// tensorflowjs_converter writes a Keras model).
func kerasTopology(raw json.RawMessage) (kerasObj, string, error) {
	var top struct {
		kerasObj
		ModelConfig  *kerasObj `json:"model_config"`
		KerasVersion string    `json:"keras_version"`
	}
	if !present(raw) {
		return kerasObj{}, "", errors.New("model.json has no modelTopology")
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		return kerasObj{}, "", fmt.Errorf("modelTopology: %w", err)
	}
	m := top.kerasObj
	if top.ModelConfig != nil {
		m = *top.ModelConfig
	}
	if !isModelClass(m.Class) {
		if m.Class == "" {
			return m, "", errors.New("modelTopology is not a Keras model (no class_name)")
		}
		return m, "", fmt.Errorf("modelTopology is a %q, not a Keras Sequential or functional model", m.Class)
	}
	return m, top.KerasVersion, nil
}

// readLayers reads and imports the layers model whose model.json is name
// in fsys, as a graph called graphName. root prefixes file names in
// errors.
func readLayers(fsys fs.FS, name, root, graphName string, opt Options) (*ir.Graph, error) {
	show := func(p string) string {
		if root == "" {
			return p
		}
		return filepath.Join(root, filepath.FromSlash(p))
	}
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("tfjs: reading model: %w", err)
	}
	var m jsonModel
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("tfjs: decoding model.json: %w", err)
	}
	if m.Format != "" && m.Format != "layers-model" {
		return nil, fmt.Errorf("tfjs: format is %q, not a layers model (\"layers-model\")", m.Format)
	}
	top, version, err := kerasTopology(m.ModelTopology)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %w", err)
	}
	weights, err := layerWeights(m.WeightsManifest, fsys, path.Dir(name), show)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %w", err)
	}
	b := &kbuilder{g: ir.NewGraph(graphName), opt: opt, weights: weights}
	b.g.Layout = ir.NHWC
	b.version = version
	b.tfjs = strings.HasPrefix(version, "tfjs")
	b.keras3 = strings.HasPrefix(version, "3.")
	for n := range weights {
		b.names = append(b.names, n)
	}
	sort.Strings(b.names)
	var cfg map[string]json.RawMessage
	if present(top.Config) && !strings.HasPrefix(strings.TrimSpace(string(top.Config)), "[") {
		if err := json.Unmarshal(top.Config, &cfg); err != nil {
			return nil, fmt.Errorf("tfjs: model config: %w", err)
		}
	}
	name0 := top.Name
	if s, err := jsonString(cfg["name"]); err == nil && s != "" {
		name0 = s
	}
	l := b.newLayer(top.Class, name0, "", cfg, nil)
	outs, err := b.model(l, top.Config, nil)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %w", err)
	}
	if err := b.g.SetOutputs(outs...); err != nil {
		return nil, fmt.Errorf("tfjs: %w", err)
	}
	b.g.Prune()
	if err := b.g.Validate(); err != nil {
		return nil, fmt.Errorf("tfjs: imported graph is invalid: %w", err)
	}
	return b.g, nil
}

// layerWeights reads the manifest's weights with the graph model's shard
// reader (loadWeights), through a GraphDef of one Const per weight.
func layerWeights(manifest []jsonGroup, fsys fs.FS, dir string, show func(string) string) (map[string]*ir.Tensor, error) {
	gd := &GraphDef{}
	for _, grp := range manifest {
		for _, w := range grp.Weights {
			gd.Nodes = append(gd.Nodes, &NodeDef{Name: w.Name, Op: "Const", Attrs: map[string]*AttrValue{
				"value": {Kind: AttrTensor, Tensor: &Tensor{DType: DTFloat}},
			}})
		}
	}
	if err := loadWeights(gd, manifest, nil, fsys, dir, show); err != nil {
		return nil, err
	}
	out := map[string]*ir.Tensor{}
	for _, n := range gd.Nodes {
		t := n.Attrs["value"].Tensor
		shape := make(ir.Shape, len(t.Shape))
		for i, d := range t.Shape {
			shape[i] = int(d)
		}
		size, err := shape.CheckedSize(ir.MaxElements)
		if err != nil {
			return nil, fmt.Errorf("weight %q: %w", n.Name, err)
		}
		switch {
		case t.DType == DTFloat && len(t.Floats) == size:
			out[n.Name] = ir.FloatTensor(shape, t.Floats)
		case len(t.Ints) == size:
			out[n.Name] = ir.IntTensor(shape, t.Ints)
		default:
			return nil, fmt.Errorf("weight %q: %d values for shape %v", n.Name, max(len(t.Floats), len(t.Ints)), shape)
		}
	}
	return out, nil
}

// kbuilder holds the state of one layers-model import.
type kbuilder struct {
	g       *ir.Graph
	opt     Options
	weights map[string]*ir.Tensor // manifest name → tensor
	names   []string              // the manifest names, sorted
	version string                // keras_version of the writer
	tfjs    bool                  // written by tfjs-layers (not Python Keras)
	keras3  bool                  // written by Keras 3
	inputs  int                   // graph inputs declared so far
	depth   int                   // models being lowered (nesting)
}
