#!/bin/sh
# make.sh regenerates the TF.js layers-model fixtures in this directory
# (cnn, functional, lstm, gru, conv1d: model.json, weights.bin, ref.json)
# with make.mjs. Needs node and npm; @tensorflow/tfjs 4.22.0 (pure JS, CPU
# backend) is installed into a temporary directory, or give an existing
# install with TFJS_DIR=/dir/with/node_modules/..
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tfjs=${TFJS_DIR:-}
if [ -z "$tfjs" ]; then
	tfjs="$tmp/tfjs"
	mkdir -p "$tfjs"
	(cd "$tfjs" && npm init -y >/dev/null && npm install --silent @tensorflow/tfjs@4.22.0 >/dev/null)
fi
NODE_PATH="$tfjs/node_modules" node "$here/make.mjs" "$here"
