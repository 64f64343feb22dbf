// reference.mjs computes independent reference outputs for every zoo3p model:
// pure-JS @tensorflow/tfjs on its CPU backend for TF.js graph and layers
// models, onnxruntime-node (CPU) for ONNX models. For each model it makes a
// deterministic input (seeded, in the model's documented input range, the
// fixed shape of testdata/zoo3p/models.json), runs the model and writes
//
//   $VEIL_ZOO3P/ref/<id>/in<k>.f32    input k, float32 little-endian, row-major
//   $VEIL_ZOO3P/ref/<id>/out<k>.f32   output k, float32 little-endian, row-major
//   $VEIL_ZOO3P/ref/<id>/ref.json     names, shapes, dtypes, files, ranges
//
// Integer inputs (int32, uint8, int64) are stored as float32 too (they are
// small integers, exactly representable). ref.json is written last, so a
// model whose ref.json exists is complete; it records the sha256 of the
// model's manifest entry and is redone when that changes.
//
// usage: node reference.mjs [--force] [ID...]   (run scripts/zoo3p/fetch first;
//        scripts/zoo3p/reference installs the packages and calls this)
import { createRequire } from "node:module";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const cache = process.env.VEIL_ZOO3P || path.join(os.homedir(), ".cache", "veil-zoo3p");
const manifestPath = process.env.VEIL_ZOO3P_MANIFEST || path.join(here, "..", "..", "testdata", "zoo3p", "models.json");
const require = createRequire(path.join(cache, "node", "package.json"));
const tf = require("@tensorflow/tfjs");
const ort = require("onnxruntime-node");
const ortVersion = require("onnxruntime-node/package.json").version;

// ---- deterministic inputs -------------------------------------------------

function fnv1a(s) {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(s, "utf8")) {
    h ^= c;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

// mulberry32: a small, well-known 32-bit PRNG; returns floats in [0, 1).
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// imageAxes returns [H axis, W axis, C axis] when the shape looks like one
// image (batch 1, 1–4 channels, both sides at least 16), else null.
function imageAxes(shape) {
  if (shape.length !== 4 || shape[0] !== 1) return null;
  if (shape[3] <= 4 && shape[1] >= 16 && shape[2] >= 16) return [1, 2, 3];
  if (shape[1] <= 4 && shape[2] >= 16 && shape[3] >= 16) return [2, 3, 1];
  return null;
}

// textImage draws synthetic printed text, pixels in [0, 1], channel-major
// per pixel (out[(y*W+x)*C+c]): a light, slightly uneven page with lines of
// dark glyph-like strokes, so OCR models see text rather than noise.
function textImage(r, H, W, C) {
  const px = new Float64Array(H * W);
  for (let i = 0; i < px.length; i++) px[i] = 0.85 + 0.1 * r();
  const lineH = Math.max(8, Math.round(Math.min(H, 48) * 0.6));
  for (let top = Math.round(lineH * 0.3); top + lineH <= H; top += Math.round(lineH * 1.6)) {
    let x = Math.round(2 + 6 * r());
    while (x < W - 4) {
      const gw = Math.round(lineH * (0.35 + 0.4 * r())); // glyph width
      const ink = 0.05 + 0.2 * r();
      const strokes = 2 + Math.floor(3 * r());
      const th = Math.max(1, Math.round(lineH / 10));
      for (let s = 0; s < strokes; s++) {
        const vertical = r() < 0.5;
        const a = Math.floor(r() * (vertical ? gw : lineH));
        for (let t = 0; t < th; t++) {
          if (vertical) for (let y = top; y < top + lineH; y++) set(y, x + a + t);
          else for (let xx = x; xx < x + gw; xx++) set(top + a + t, xx);
        }
      }
      function set(y, xx) { if (y >= 0 && y < H && xx >= 0 && xx < W) px[y * W + xx] = ink; }
      x += gw + Math.round(lineH * (0.1 + 0.15 * r())) + (r() < 0.15 ? lineH : 0); // letter gap, sometimes a word gap
    }
  }
  const out = new Float64Array(H * W * C);
  for (let i = 0; i < H * W; i++) for (let c = 0; c < C; c++) out[i * C + c] = px[i];
  return out;
}

// makeInput returns the input's values as a Float64Array. Image-like
// inputs are smooth random images (a random 8×8 grid per channel,
// bilinearly upsampled, 70%, plus 30% per-pixel noise), so activations look
// more like those of photos than white noise does; other inputs are uniform.
// Values are mapped onto [lo, hi] and rounded for integer dtypes.
function makeInput(id, inp) {
  const n = inp.shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n);
  if (inp.value !== undefined) return out.fill(inp.value);
  const r = rng(fnv1a(`${id}/${inp.name}`));
  const [lo, hi] = inp.range;
  const ax = imageAxes(inp.shape);
  if (inp.pixels === "text") {
    // pixels p in [0, 1], then (p - mean[c]) / std[c]: the model's own normalization
    const [H, W, C] = ax.map((a) => inp.shape[a]);
    const img = textImage(r, H, W, C);
    const strides = [1, 1, 1, 1];
    for (let i = 2; i >= 0; i--) strides[i] = strides[i + 1] * inp.shape[i + 1];
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        for (let c = 0; c < C; c++)
          out[y * strides[ax[0]] + x * strides[ax[1]] + c * strides[ax[2]]] = Math.fround((img[(y * W + x) * C + c] - inp.mean[c]) / inp.std[c]);
    return out;
  }
  if (ax) {
    const G = 8;
    const [H, W, C] = ax.map((a) => inp.shape[a]);
    const grid = Float64Array.from({ length: G * G * C }, () => r());
    const strides = [1, 1, 1, 1];
    for (let i = 2; i >= 0; i--) strides[i] = strides[i + 1] * inp.shape[i + 1];
    for (let y = 0; y < H; y++) {
      const gy = (y / Math.max(H - 1, 1)) * (G - 1), y0 = Math.min(Math.floor(gy), G - 2), fy = gy - y0;
      for (let x = 0; x < W; x++) {
        const gx = (x / Math.max(W - 1, 1)) * (G - 1), x0 = Math.min(Math.floor(gx), G - 2), fx = gx - x0;
        for (let c = 0; c < C; c++) {
          const g = (yy, xx) => grid[(yy * G + xx) * C + c];
          const smooth = (1 - fy) * ((1 - fx) * g(y0, x0) + fx * g(y0, x0 + 1)) + fy * ((1 - fx) * g(y0 + 1, x0) + fx * g(y0 + 1, x0 + 1));
          out[y * strides[ax[0]] + x * strides[ax[1]] + c * strides[ax[2]]] = 0.7 * smooth + 0.3 * r();
        }
      }
    }
  } else {
    for (let i = 0; i < n; i++) out[i] = r();
  }
  const integer = inp.dtype !== "float32";
  for (let i = 0; i < n; i++) {
    let v = lo + (hi - lo) * out[i];
    if (integer) v = Math.round(v);
    out[i] = Math.fround(v);
  }
  return out;
}

// ---- runners ----------------------------------------------------------------

function ioHandler(file) {
  const dir = path.dirname(file);
  return {
    async load() {
      const m = JSON.parse(fs.readFileSync(file, "utf8"));
      const specs = [];
      const bufs = [];
      for (const g of m.weightsManifest) {
        specs.push(...g.weights);
        for (const p of g.paths) bufs.push(fs.readFileSync(path.join(dir, p)));
      }
      const all = Buffer.concat(bufs);
      return {
        modelTopology: m.modelTopology,
        format: m.format,
        generatedBy: m.generatedBy,
        convertedBy: m.convertedBy,
        signature: m.signature,
        userDefinedMetadata: m.userDefinedMetadata,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.length),
      };
    },
  };
}

function tfTensor(inp, vals) {
  if (inp.dtype === "float32") return tf.tensor(Float32Array.from(vals), inp.shape, "float32");
  return tf.tensor(Int32Array.from(vals), inp.shape, "int32"); // tfjs has no uint8/int64
}

async function runTFJSGraph(m, file, inputs) {
  const model = await tf.loadGraphModel(ioHandler(file));
  const feed = {};
  m.inputs.forEach((inp, k) => (feed[inp.name] = tfTensor(inp, inputs[k])));
  // execute() where the graph allows it; executeAsync() for control flow
  // and dynamic shapes (it would warn about every static graph).
  let outs;
  try {
    outs = model.execute(feed, m.outputs);
  } catch (e) {
    if (!/executeAsync|dynamic|control flow/i.test(String(e.message))) throw e;
    outs = await model.executeAsync(feed, m.outputs);
  }
  if (!Array.isArray(outs)) outs = [outs];
  const res = [];
  for (let k = 0; k < outs.length; k++) {
    res.push({ name: m.outputs[k], shape: outs[k].shape, data: Float32Array.from(await outs[k].data()) });
  }
  tf.dispose([...Object.values(feed), ...outs]);
  model.dispose();
  return res;
}

async function runTFJSLayers(m, file, inputs) {
  const model = await tf.loadLayersModel(ioHandler(file));
  const xs = m.inputs.map((inp, k) => tfTensor(inp, inputs[k]));
  let outs = model.predict(xs.length === 1 ? xs[0] : xs);
  if (!Array.isArray(outs)) outs = [outs];
  const res = [];
  for (let k = 0; k < outs.length; k++) {
    res.push({ name: model.outputNames[k], shape: outs[k].shape, data: Float32Array.from(await outs[k].data()) });
  }
  tf.dispose([...xs, ...outs]);
  model.dispose();
  return res;
}

async function runONNX(m, file, inputs) {
  const sess = await ort.InferenceSession.create(file, { executionProviders: ["cpu"], graphOptimizationLevel: "disabled", intraOpNumThreads: 1 });
  const feeds = {};
  m.inputs.forEach((inp, k) => {
    const v = inputs[k];
    if (inp.dtype === "int64") feeds[inp.name] = new ort.Tensor("int64", BigInt64Array.from(v, (x) => BigInt(x)), inp.shape);
    else if (inp.dtype === "int32") feeds[inp.name] = new ort.Tensor("int32", Int32Array.from(v), inp.shape);
    else feeds[inp.name] = new ort.Tensor("float32", Float32Array.from(v), inp.shape);
  });
  const names = m.outputs || sess.outputNames;
  const outs = await sess.run(feeds, names);
  const res = names.map((n) => ({ name: n, shape: outs[n].dims.map(Number), data: Float32Array.from(outs[n].data, Number) }));
  await sess.release();
  return res;
}

// ---- main -------------------------------------------------------------------

// entryHash is the sha256 of the part of a manifest entry the reference
// depends on (the model, its files, inputs and outputs), so that the
// test's own settings (expect, float_tol, fixed, skip_3pc, short, an
// input's const) can change without recomputing references.
function entryHash(m) {
  const pick = (o, keys) => Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
  const e = pick(m, ["id", "package", "version", "format", "model", "files", "bundle", "outputs"]);
  e.inputs = m.inputs.map((inp) => pick(inp, ["name", "shape", "dtype", "range", "value", "pixels", "mean", "std"]));
  return crypto.createHash("sha256").update(JSON.stringify(e)).digest("hex");
}

function stats(a) {
  let min = Infinity, max = -Infinity, absmax = 0;
  for (const v of a) {
    if (v < min) min = v;
    if (v > max) max = v;
    if (Math.abs(v) > absmax) absmax = Math.abs(v);
  }
  return { min, max, absmax };
}

function writeF32(file, a) {
  const f = Float32Array.from(a);
  fs.writeFileSync(file, Buffer.from(f.buffer, f.byteOffset, f.byteLength));
}

async function main() {
  let args = process.argv.slice(2);
  const force = args.includes("--force");
  args = args.filter((a) => a !== "--force");
  await tf.setBackend("cpu");
  const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8"));
  let models = manifest.models;
  if (args.length) models = models.filter((m) => args.includes(m.id));
  let failed = 0;
  for (const m of models) {
    const entry = entryHash(m);
    const dir = path.join(cache, "ref", m.id);
    const refFile = path.join(dir, "ref.json");
    if (!force && fs.existsSync(refFile) && JSON.parse(fs.readFileSync(refFile, "utf8")).entry_sha256 === entry) continue;
    const file = path.join(cache, "models", m.id, path.posix.basename(m.model));
    if (!fs.existsSync(file)) throw new Error(`${file} missing: run scripts/zoo3p/fetch first`);
    const t0 = Date.now();
    const inputs = m.inputs.map((inp) => makeInput(m.id, inp));
    let outs, generator;
    try {
      if (m.format === "onnx") {
        outs = await runONNX(m, file, inputs);
        generator = `onnxruntime-node ${ortVersion} (CPU, graph optimizations off)`;
      } else if (m.format === "tfjs-graph") {
        outs = await runTFJSGraph(m, file, inputs);
        generator = `@tensorflow/tfjs ${tf.version.tfjs} (backend ${tf.getBackend()}), loadGraphModel + executeAsync`;
      } else if (m.format === "tfjs-layers") {
        outs = await runTFJSLayers(m, file, inputs);
        generator = `@tensorflow/tfjs ${tf.version.tfjs} (backend ${tf.getBackend()}), loadLayersModel + predict`;
      } else {
        throw new Error(`unknown format ${m.format}`);
      }
    } catch (e) {
      console.error(`${m.id}: FAILED: ${e.stack || e}`);
      failed++;
      continue;
    }
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const ref = { id: m.id, entry_sha256: entry, generator, seed: "mulberry32(fnv1a(id/input))", inputs: [], outputs: [] };
    m.inputs.forEach((inp, k) => {
      writeF32(path.join(dir, `in${k}.f32`), inputs[k]);
      ref.inputs.push({ name: inp.name, shape: inp.shape, dtype: inp.dtype, file: `in${k}.f32`, ...stats(inputs[k]) });
    });
    outs.forEach((o, k) => {
      writeF32(path.join(dir, `out${k}.f32`), o.data);
      ref.outputs.push({ name: o.name, shape: o.shape, file: `out${k}.f32`, ...stats(o.data) });
    });
    fs.writeFileSync(refFile, JSON.stringify(ref, null, 1) + "\n");
    console.log(`${m.id}: ${((Date.now() - t0) / 1000).toFixed(1)} s, outputs ${ref.outputs.map((o) => `${o.name}[${o.shape}]`).join(" ")}`);
  }
  if (failed) {
    console.error(`${failed} model(s) failed`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
