// extract_model.js turns the nsfwjs npm package's bundled MobileNetV2Mid
// graph model back into the files TF.js's converter wrote: model.json and
// the binary weight shards named in its weightsManifest.
//
// nsfwjs ships each file as a browserify bundle (dist/models/<m>/*.min.js)
// whose module exports either the model.json object or a shard as base64.
//
// usage: node extract_model.js PACKAGE_DIR OUT_DIR
"use strict";
const fs = require("fs");
const path = require("path");

const [pkg, out] = process.argv.slice(2);
if (!pkg || !out) {
  console.error("usage: node extract_model.js PACKAGE_DIR OUT_DIR");
  process.exit(2);
}
const dir = path.resolve(pkg, "dist/models/mobilenet_v2_mid");
const model = require(path.join(dir, "model.min.js"));
if (model.format !== "graph-model") {
  throw new Error(`expected a graph model, got format ${model.format}`);
}
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, "model.json"), JSON.stringify(model));
for (const group of model.weightsManifest) {
  for (const shard of group.paths) {
    const b64 = require(path.join(dir, shard + ".min.js"));
    const bytes = Buffer.from(b64, "base64");
    fs.writeFileSync(path.join(out, shard), bytes);
    console.log(`${shard}: ${bytes.length} bytes`);
  }
}
