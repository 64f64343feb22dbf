// make_ref.js computes independent reference outputs for the nsfwjs
// MobileNetV2Mid TF.js graph model with pure-JS @tensorflow/tfjs (CPU
// backend, no native bindings) and writes them as JSON for model/tf's tests.
//
// usage: node make_ref.js MODEL_DIR OUT.json NAME.rgb...
//
// Each NAME.rgb file is a decoded photo: a 12-byte header of three
// little-endian uint32 (height, width, channels = 3) then the pixels, row
// by row, RGB, one byte each (make_ref.sh writes them from skimage's PNGs).
//
// Preprocessing follows nsfwjs's own infer(): pixels are resized to
// 224×224 with tf.image.resizeBilinear(alignCorners = true) and scaled to
// [0, 1]. nsfwjs divides by 255 before resizing; here the resized pixels are
// rounded to bytes first so the reference input is exactly u8/255 and can
// be stored compactly. The model is then run on exactly that input.
"use strict";
const fs = require("fs");
const path = require("path");
const tf = require("@tensorflow/tfjs");

const SIZE = 224;
const CLASSES = ["Drawing", "Hentai", "Neutral", "Porn", "Sexy"];
const LOGITS = "StatefulPartitionedCall/sequential/dense/BiasAdd";

function handler(dir) {
  return {
    async load() {
      const model = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8"));
      const specs = [];
      const bufs = [];
      for (const group of model.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) bufs.push(fs.readFileSync(path.join(dir, p)));
      }
      const all = Buffer.concat(bufs);
      return {
        modelTopology: model.modelTopology,
        format: model.format,
        generatedBy: model.generatedBy,
        convertedBy: model.convertedBy,
        userDefinedMetadata: model.userDefinedMetadata,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.length),
      };
    },
  };
}

function readRGB(file) {
  const b = fs.readFileSync(file);
  const h = b.readUInt32LE(0), w = b.readUInt32LE(4), c = b.readUInt32LE(8);
  if (c !== 3 || b.length !== 12 + h * w * c) throw new Error(`${file}: bad header`);
  return tf.tensor3d(new Uint8Array(b.buffer, b.byteOffset + 12, h * w * c), [h, w, c], "int32");
}

async function main() {
  const [dir, out, ...images] = process.argv.slice(2);
  if (!dir || !out || images.length === 0) {
    console.error("usage: node make_ref.js MODEL_DIR OUT.json NAME.rgb...");
    process.exit(2);
  }
  await tf.setBackend("cpu");
  const model = await tf.loadGraphModel(handler(dir));
  const ref = {
    model: "testdata/models/tfjs-nsfw-mobilenet_v2_mid",
    generator: `testdata/tf/make_ref.js with @tensorflow/tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}`,
    classes: CLASSES,
    input_shape: [1, SIZE, SIZE, 3],
    input_scale: 1 / 255,
    input_note: "inputs hold the resized RGB pixels as bytes, flattened NHWC; the model input is each byte times input_scale",
    images: [],
    inputs: [],
    outputs: [],
    logits_node: LOGITS,
    logits: [],
  };
  for (const file of images) {
    const pixels = tf.tidy(() => {
      const img = readRGB(file).toFloat();
      const r = tf.image.resizeBilinear(img, [SIZE, SIZE], true);
      return r.round().clipByValue(0, 255).toInt();
    });
    const u8 = Array.from(await pixels.data());
    const x = tf.tidy(() => pixels.toFloat().div(tf.scalar(255)).reshape([1, SIZE, SIZE, 3]));
    const [probs, logits] = model.execute({ input: x }, ["Identity", LOGITS]);
    ref.images.push(path.basename(file, ".rgb"));
    ref.inputs.push(u8);
    ref.outputs.push(Array.from(await probs.data()));
    ref.logits.push(Array.from(await logits.data()));
    const p = ref.outputs[ref.outputs.length - 1];
    const best = p.indexOf(Math.max(...p));
    console.log(`${path.basename(file)}: ${CLASSES[best]} ${p.map((v) => v.toFixed(4)).join(" ")}`);
    tf.dispose([pixels, x, probs, logits]);
  }
  // One image per line keeps the file readable and diffs small.
  const lines = [];
  for (const [k, v] of Object.entries(ref)) {
    if (Array.isArray(v) && Array.isArray(v[0])) {
      lines.push(`  ${JSON.stringify(k)}: [\n` + v.map((r) => "    " + JSON.stringify(r)).join(",\n") + "\n  ]");
    } else {
      lines.push(`  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
    }
  }
  fs.writeFileSync(out, "{\n" + lines.join(",\n") + "\n}\n");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
