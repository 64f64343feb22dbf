#!/bin/sh
# fetch_model.sh rebuilds testdata/models/tfjs-nsfw-mobilenet_v2_mid from the
# nsfwjs npm package (needs npm and node; no other packages).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../models/tfjs-nsfw-mobilenet_v2_mid"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent nsfwjs@4.3.0 >/dev/null && tar xzf nsfwjs-4.3.0.tgz)
node "$here/extract_model.js" "$tmp/package" "$out"
cp "$tmp/package/LICENSE" "$out/LICENSE"
(cd "$out" && sha256sum model.json group1-shard* > SHA256SUMS)
