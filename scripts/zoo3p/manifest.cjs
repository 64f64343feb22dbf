// manifest.cjs: helpers for scripts/zoo3p/fetch (plain node, no packages).
//
//   node manifest.cjs plan MODELS.json [ID...]   print the fetch plan
//   node manifest.cjs unbundle SRC_DIR OUT_DIR   decode an nsfwjs model bundle
//
// The plan has one tab-separated line per package ("P name version
// integrity") and per model ("M id package version extract model files"),
// where extract is "files" (copy the files, flattened into one directory)
// or "nsfwjs" (files[0] is a directory of browserify bundles: model.min.js
// exports the model.json object, <shard>.min.js each weight shard as base64).
"use strict";
const fs = require("fs");
const path = require("path");

const [cmd, ...args] = process.argv.slice(2);
if (cmd === "plan") {
  const [file, ...ids] = args;
  const m = JSON.parse(fs.readFileSync(file, "utf8"));
  let models = m.models;
  if (ids.length) {
    const unknown = ids.filter((id) => !models.some((x) => x.id === id));
    if (unknown.length) throw new Error(`unknown model id(s): ${unknown.join(" ")}`);
    models = models.filter((x) => ids.includes(x.id));
  }
  const lines = [];
  for (const p of m.packages) {
    if (models.some((x) => x.package === p.name && x.version === p.version)) {
      lines.push(["P", p.name, p.version, p.integrity].join("\t"));
    }
  }
  for (const x of models) {
    if (!m.packages.some((p) => p.name === x.package && p.version === x.version)) {
      throw new Error(`${x.id}: package ${x.package}@${x.version} is not in the packages list`);
    }
    for (const f of x.files) {
      if (f.includes("..") || /\s/.test(f)) throw new Error(`${x.id}: bad file name ${f}`);
    }
    lines.push(["M", x.id, x.package, x.version, x.bundle || "files", path.posix.basename(x.model), x.files.join(" ")].join("\t"));
  }
  console.log(lines.join("\n"));
} else if (cmd === "unbundle") {
  const [src, out] = args;
  const model = require(path.resolve(src, "model.min.js"));
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, "model.json"), JSON.stringify(model));
  for (const group of model.weightsManifest) {
    for (const shard of group.paths) {
      const b64 = require(path.resolve(src, shard + ".min.js"));
      fs.writeFileSync(path.join(out, shard), Buffer.from(b64, "base64"));
    }
  }
} else {
  console.error("usage: node manifest.cjs plan MODELS.json [ID...] | unbundle SRC_DIR OUT_DIR");
  process.exit(2);
}
