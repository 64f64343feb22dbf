// make.mjs builds small Keras models with pure-JS @tensorflow/tfjs (CPU
// backend), gives them seeded random weights, saves each as a TF.js layers
// model (model.json + weights.bin, written by a custom save handler since
// tfjs-node is not used) and records tfjs's predictions on seeded inputs in
// ref.json. Run by make.sh: node make.mjs OUTDIR (with NODE_PATH set).
import { createRequire } from 'module';
import fs from 'fs';
import path from 'path';

const require = createRequire(import.meta.url);
const tf = require('@tensorflow/tfjs');

const out = process.argv[2];
if (!out) throw new Error('usage: node make.mjs OUTDIR');

// Park–Miller minimal standard generator, values in (0, 1).
function prng(seed) {
  let s = seed;
  return () => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647;
  };
}

// setWeights gives every weight of model seeded values: uniform in
// ±1/sqrt(fan-in) for kernels, ±0.5 for biases and the like, and in
// [0.5, 1.5] for BatchNorm's gamma and moving variance.
function setWeights(model, seed) {
  const rnd = prng(seed);
  const vals = model.weights.map((w) => {
    const shape = w.shape;
    const n = shape.reduce((a, b) => a * b, 1);
    const name = w.originalName;
    const data = new Float32Array(n);
    let lo = -0.5, hi = 0.5;
    if (/(gamma|moving_variance)$/.test(name)) {
      lo = 0.5; hi = 1.5;
    } else if (/kernel$/.test(name) && shape.length >= 2) {
      const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      hi = Math.sqrt(3 / fanIn); lo = -hi;
    }
    for (let i = 0; i < n; i++) data[i] = lo + (hi - lo) * rnd();
    return tf.tensor(data, shape);
  });
  model.setWeights(vals);
}

async function save(model, name, seed) {
  setWeights(model, seed);
  const dir = path.join(out, name);
  fs.mkdirSync(dir, { recursive: true });
  await model.save(tf.io.withSaveHandler(async (a) => {
    let data = a.weightData;
    if (Array.isArray(data)) data = tf.io.concatenateArrayBuffers(data);
    fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(data));
    const json = {
      format: a.format,
      generatedBy: a.generatedBy,
      convertedBy: a.convertedBy,
      modelTopology: a.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
    };
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  // Inputs uniform in [-1, 1) from seed+1, +2 …; outputs as predict gives them.
  const inputs = model.inputs.map((t, i) => {
    const shape = t.shape.map((d) => (d == null ? 1 : d));
    const n = shape.reduce((a, b) => a * b, 1);
    const rnd = prng(seed + 1 + i);
    const v = new Float32Array(n);
    for (let j = 0; j < n; j++) v[j] = 2 * rnd() - 1;
    return { name: model.inputLayers[i].name, shape, values: Array.from(v) };
  });
  let preds = model.predict(inputs.map((x) => tf.tensor(x.values, x.shape)));
  if (!Array.isArray(preds)) preds = [preds];
  const outputs = preds.map((p, i) => ({
    name: model.outputLayers[i].name,
    shape: p.shape,
    values: Array.from(p.dataSync()),
  }));
  const ref = { tfjs: tf.version.tfjs, seed, inputs, outputs };
  fs.writeFileSync(path.join(dir, 'ref.json'), JSON.stringify(ref));
  console.log(name, model.countParams(), 'parameters', outputs.map((o) => o.shape));
}

const L = tf.layers;

// cnn: a small image classifier with BatchNorm, Dropout, pooling and the
// depthwise, separable and activation layers.
async function cnn() {
  const m = tf.sequential({ name: 'cnn' });
  m.add(L.conv2d({ inputShape: [12, 12, 3], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }));
  m.add(L.batchNormalization({ epsilon: 0.01 }));
  m.add(L.maxPooling2d({ poolSize: 2 }));
  m.add(L.dropout({ rate: 0.3 }));
  m.add(L.gaussianNoise({ stddev: 0.1 }));
  m.add(L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu6' }));
  m.add(L.separableConv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'valid' }));
  m.add(L.leakyReLU({ alpha: 0.1 }));
  m.add(L.elu({}));
  m.add(L.zeroPadding2d({ padding: [[1, 0], [0, 1]] }));
  m.add(L.conv2d({ filters: 5, kernelSize: 2, useBias: false, activation: 'elu' }));
  m.add(L.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same' }));
  m.add(L.flatten());
  m.add(L.dense({ units: 16, activation: 'tanh' }));
  m.add(L.prelu({}));
  m.add(L.dense({ units: 10, activation: 'softmax' }));
  await save(m, 'cnn', 1001);
}

// functional: two inputs, a shared layer called twice, a nested
// Sequential, Add/Concatenate/Multiply/Minimum/Maximum/Average and two
// outputs.
async function functional() {
  const img = tf.input({ shape: [8, 8, 3], name: 'image' });
  const vec = tf.input({ shape: [4], name: 'features' });
  const c1 = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'c1' }).apply(img);
  const c2 = L.conv2d({ filters: 4, kernelSize: 1, name: 'c2' }).apply(img);
  const s = L.add().apply([c1, c2]);
  const r = L.reLU({ maxValue: 1.5 }).apply(s);
  const up = L.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }).apply(r);
  const tr = L.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'sigmoid' }).apply(r);
  const mx = L.maximum().apply([up, tr]);
  const crop = L.cropping2D({ cropping: [[1, 2], [2, 1]] }).apply(mx);
  const ln = L.layerNormalization({ epsilon: 1e-3 }).apply(crop);
  const head = L.conv2d({ filters: 2, kernelSize: 1, activation: 'softplus', name: 'seg' }).apply(ln);
  const g = L.globalAveragePooling2d({}).apply(r);
  const gm = L.globalMaxPooling2d({}).apply(c1);
  const shared = L.dense({ units: 4, name: 'shared' });
  const d1 = shared.apply(vec);
  const d2 = shared.apply(g);
  const sub = L.minimum().apply([d1, d2]);
  const mul = L.multiply().apply([d1, gm]);
  const avg = L.average().apply([sub, mul, d2]);
  const mlp = tf.sequential({ name: 'mlp' });
  mlp.add(L.dense({ inputShape: [8], units: 6, activation: 'swish' }));
  mlp.add(L.activation({ activation: 'hardSigmoid' }));
  const cat = L.concatenate().apply([avg, mlp.apply(L.concatenate({ axis: 1 }).apply([d1, sub]))]);
  const cls = L.dense({ units: 3, activation: 'softmax', name: 'cls' }).apply(cat);
  const m = tf.model({ inputs: [img, vec], outputs: [cls, head], name: 'functional' });
  await save(m, 'functional', 2002);
}

// lstm: two stacked LSTMs (the first returning sequences, tfjs's default
// hard-sigmoid recurrent activation; the second sigmoid) and a
// Bidirectional LSTM.
async function lstm() {
  const m = tf.sequential({ name: 'lstm' });
  m.add(L.lstm({ inputShape: [6, 4], units: 5, returnSequences: true }));
  m.add(L.bidirectional({ layer: L.lstm({ units: 3, returnSequences: true, recurrentActivation: 'sigmoid' }), mergeMode: 'concat' }));
  m.add(L.lstm({ units: 4, recurrentActivation: 'sigmoid' }));
  m.add(L.dense({ units: 2 }));
  await save(m, 'lstm', 3003);
}

// gru: a GRU returning sequences, TimeDistributed(Dense), a SimpleRNN
// and a Bidirectional GRU summed.
async function gru() {
  const m = tf.sequential({ name: 'gru' });
  m.add(L.gru({ inputShape: [5, 3], units: 4, returnSequences: true }));
  m.add(L.timeDistributed({ layer: L.dense({ units: 3, activation: 'relu' }) }));
  m.add(L.bidirectional({ layer: L.gru({ units: 3, returnSequences: true, recurrentActivation: 'sigmoid' }), mergeMode: 'sum' }));
  m.add(L.simpleRNN({ units: 4 }));
  m.add(L.dense({ units: 2, activation: 'sigmoid' }));
  await save(m, 'gru', 4004);
}

// conv1d: an audio-like 1-D CNN over 32 samples.
async function conv1d() {
  const m = tf.sequential({ name: 'conv1d' });
  m.add(L.rescaling({ inputShape: [32, 2], scale: 2, offset: -0.5 }));
  m.add(L.conv1d({ filters: 4, kernelSize: 5, strides: 2, activation: 'relu' }));
  m.add(L.maxPooling1d({ poolSize: 2 }));
  m.add(L.spatialDropout1d({ rate: 0.2 }));
  m.add(L.conv1d({ filters: 6, kernelSize: 3, padding: 'same' }));
  m.add(L.batchNormalization({}));
  m.add(L.averagePooling1d({ poolSize: 2, strides: 1, padding: 'same' }));
  m.add(L.conv1d({ filters: 4, kernelSize: 3, activation: 'selu' }));
  m.add(L.permute({ dims: [2, 1] }));
  m.add(L.reshape({ targetShape: [-1, 2] }));
  m.add(L.globalAveragePooling1d({}));
  m.add(L.softmax({}));
  m.add(L.repeatVector({ n: 3 }));
  m.add(L.globalMaxPooling1d({}));
  m.add(L.dense({ units: 3, activation: 'softmax' }));
  await save(m, 'conv1d', 5005);
}

await tf.setBackend('cpu');
await cnn();
await functional();
await lstm();
await gru();
await conv1d();
