// subset.js cuts a real TF.js graph model down to a small test fixture.
//
// usage: node subset.js MODEL.json OUT_DIR OUTPUTS CUTS
//
// OUTPUTS and CUTS are comma-separated node names. The fixture keeps the
// nodes the outputs depend on, stopping at the cut nodes, which become
// Placeholders of the shape they have in the full model (run once on
// the model's own input). The kept weights are copied byte for byte with
// their manifest entries. The reference (ref.json) holds, for each
// placeholder, its name, shape and seed (inputs are Park-Miller values
// s = s·16807 mod (2^31 − 1), each s/(2^31 − 1) as float32) and, for each
// output, its shape and every stride-th value (at most 256, to 8 significant digits) computed
// by pure-JS tfjs.
"use strict";
const fs = require("fs");
const path = require("path");
const tf = require("@tensorflow/tfjs");

function lcg(seed, n) {
  let s = seed;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) { s = (s * 16807) % 2147483647; x[i] = s / 2147483647; }
  return x;
}

function loadModel(file) {
  const dir = path.dirname(file);
  const model = JSON.parse(fs.readFileSync(file, "utf8"));
  const specs = [], bufs = [];
  for (const g of model.weightsManifest) { specs.push(...g.weights); for (const p of g.paths) bufs.push(fs.readFileSync(path.join(dir, p))); }
  return { model, specs, data: Buffer.concat(bufs) };
}

function handler(m) {
  return { async load() {
    return { modelTopology: m.model.modelTopology, format: m.model.format, weightSpecs: m.specs,
      weightData: m.data.buffer.slice(m.data.byteOffset, m.data.byteOffset + m.data.length), signature: m.model.signature };
  } };
}

function byteSize(w) {
  const n = w.shape.reduce((a, b) => a * b, 1);
  if (w.quantization) return n * { uint8: 1, uint16: 2, float16: 2 }[w.quantization.dtype];
  return n * { float32: 4, int32: 4, bool: 1 }[w.dtype];
}

async function main() {
  const [file, out, outArg, cutArg] = process.argv.slice(2);
  const outputs = outArg.split(",");
  const cuts = cutArg ? cutArg.split(",") : [];
  await tf.setBackend("cpu");
  const full = loadModel(file);
  const nodes = full.model.modelTopology.node;
  const by = new Map(nodes.map((n) => [n.name, n]));

  // Shapes of the cut nodes in the full model.
  const cutShapes = {};
  if (cuts.length) {
    const fm = await tf.loadGraphModel(handler(full));
    const inp = fm.inputs[0];
    const shape = inp.shape.map((d) => (d < 0 ? 1 : d));
    const r = fm.execute({ [inp.name]: tf.tensor(lcg(1, shape.reduce((a, b) => a * b, 1)), shape) }, cuts);
    (Array.isArray(r) ? r : [r]).forEach((t, i) => { cutShapes[cuts[i]] = t.shape; });
  }

  const keep = new Set();
  const visit = (ref) => {
    const name = ref.replace(/^\^/, "").split(":")[0];
    if (keep.has(name)) return;
    keep.add(name);
    if (cuts.includes(name)) return;
    for (const i of by.get(name).input || []) if (!i.startsWith("^")) visit(i);
  };
  outputs.forEach(visit);
  const kept = nodes.filter((n) => keep.has(n.name)).map((n) => {
    if (!cuts.includes(n.name)) {
      const c = JSON.parse(JSON.stringify(n));
      if (c.input) c.input = c.input.filter((i) => !i.startsWith("^"));
      return c;
    }
    return { name: n.name, op: "Placeholder", attr: { dtype: { type: "DT_FLOAT" },
      shape: { shape: { dim: cutShapes[n.name].map((d) => ({ size: String(d) })) } } } };
  });

  // Weights: copy the kept ones' bytes.
  const specs = [], parts = [];
  let off = 0;
  for (const w of full.specs) {
    const size = byteSize(w);
    if (keep.has(w.name) && !cuts.includes(w.name)) { specs.push(w); parts.push(full.data.subarray(off, off + size)); }
    off += size;
  }
  const data = Buffer.concat(parts);
  const placeholders = kept.filter((n) => n.op === "Placeholder").map((n) => n.name).sort();
  const sig = { inputs: {}, outputs: {} };
  outputs.forEach((o) => { sig.outputs[o] = { name: o }; });
  const model = {
    format: "graph-model",
    generatedBy: full.model.generatedBy,
    convertedBy: full.model.convertedBy,
    modelTopology: { node: kept, library: {}, versions: full.model.modelTopology.versions },
    signature: sig,
    weightsManifest: [{ paths: ["weights.bin"], weights: specs }],
  };
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, "model.json"), JSON.stringify(model));
  fs.writeFileSync(path.join(out, "weights.bin"), data);

  // The reference, from the fixture itself.
  const sm = await tf.loadGraphModel(handler(loadModel(path.join(out, "model.json"))));
  const feeds = {}, inputs = [];
  placeholders.forEach((name, i) => {
    const shape = kept.find((n) => n.name === name).attr.shape.shape.dim.map((d) => Math.max(1, Number(d.size)));
    feeds[name] = tf.tensor(lcg(i + 1, shape.reduce((a, b) => a * b, 1)), shape);
    inputs.push({ name, shape, seed: i + 1 });
  });
  const r = sm.execute(feeds, outputs);
  const ref = { source: path.basename(file), generator: `subset.js with @tensorflow/tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}`, inputs, outputs: [] };
  for (const [i, t] of (Array.isArray(r) ? r : [r]).entries()) {
    const all = await t.data();
    const stride = Math.max(1, Math.ceil(all.length / 256));
    const vals = [];
    for (let j = 0; j < all.length; j += stride) vals.push(Number(all[j].toPrecision(8)));
    ref.outputs.push({ name: outputs[i], shape: t.shape, stride, values: vals });
  }
  fs.writeFileSync(path.join(out, "ref.json"), JSON.stringify(ref));
  const ops = {};
  kept.forEach((n) => { ops[n.op] = (ops[n.op] || 0) + 1; });
  console.log(out, "nodes", kept.length, "weights", data.length, "bytes", JSON.stringify(ops), ref.outputs.map((o) => o.shape));
}
main().catch((e) => { console.error(e); process.exit(1); });
