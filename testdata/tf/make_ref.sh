#!/bin/sh
# make_ref.sh regenerates testdata/tf/nsfw_mobilenet_v2_mid.ref.json: it
# decodes three real photos shipped by Debian's python3-skimage, then runs
# the TF.js model on them with pure-JS @tensorflow/tfjs (make_ref.js).
#
# Needs: /usr/bin/python3 with PIL (python3-pil), node and npm. TFJS_DIR may
# name a directory where @tensorflow/tfjs is installed already; otherwise it
# is installed into a temporary directory (never into the repository).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

skdata=$(/usr/bin/python3 -c 'import os, skimage; print(os.path.join(os.path.dirname(skimage.__file__), "data"))' 2>/dev/null || true)
if [ -z "$skdata" ]; then
	(cd "$tmp" && apt-get download python3-skimage >/dev/null 2>&1 && dpkg -x python3-skimage_*.deb sk)
	skdata="$tmp/sk/usr/lib/python3/dist-packages/skimage/data"
fi

for img in astronaut chelsea coffee; do
	/usr/bin/python3 - "$skdata/$img.png" "$tmp/$img.rgb" <<'PY'
import struct, sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
w, h = im.size
with open(sys.argv[2], "wb") as f:
    f.write(struct.pack("<III", h, w, 3))
    f.write(im.tobytes())
PY
done

tfjs=${TFJS_DIR:-}
if [ -z "$tfjs" ]; then
	tfjs="$tmp/tfjs"
	mkdir -p "$tfjs"
	(cd "$tfjs" && npm init -y >/dev/null && npm install --silent @tensorflow/tfjs@4.22.0 >/dev/null)
fi
NODE_PATH="$tfjs/node_modules" node "$here/make_ref.js" \
	"$here/../models/tfjs-nsfw-mobilenet_v2_mid" \
	"$here/nsfw_mobilenet_v2_mid.ref.json" \
	"$tmp/astronaut.rgb" "$tmp/chelsea.rgb" "$tmp/coffee.rgb"
