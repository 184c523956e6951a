#!/usr/bin/env python3
"""Training-parity golden files from PyTorch (Debian python3-torch 1.13, CPU).

For each parity model (tests/golden/parity_*.yaml), an equivalent PyTorch module written
here by hand is initialised with torch's default initializers (seeded), its weights are
saved as <model>.init.safetensors (the C test starts snnc from the same file), and it is
trained for 20 SGD/Adam steps of batch 32 in order (no shuffling, no augmentation, dropout
off). The per-step losses, and the evaluation-mode outputs on 16 test images afterwards,
go to train_golden.json:

  parity_vgg    small VGG, SGD momentum 0.9, weight decay  (CIFAR-10)
  parity_bn     batch norm in training mode, Nesterov       (CIFAR-10)
  parity_quant  Q(k,B) + ternary weights with straight-through gradients, batch norm,
                Adam                                         (the built-in MNIST sample)

CIFAR runs twice: on a synthetic CIFAR-format set that the C test regenerates bit for bit
(so the test runs without ../shared), and on the first images of ../shared's
data_batch_1.bin when it exists.

usage: python3 tests/golden/make_train_golden.py   (from the repository root)
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from make_torch_golden import write_safetensors  # noqa: E402

STEPS, BATCH = 20, 32
CIFAR_MEAN = [0.4914, 0.4822, 0.4465]
CIFAR_STD = [0.2470, 0.2435, 0.2616]


def lowbias32(x):
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7feb352d)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846ca68b)
    x ^= x >> np.uint32(16)
    return x


def synthetic_cifar(n):
    """The same records as tests/unit/test_train_parity.c: pixel j of image i is the top
    byte of lowbias32(i * 3072 + j + 0x51ed), the label lowbias32(i + 0x1abe1) % 10."""
    i = np.arange(n, dtype=np.uint64)
    j = np.arange(3072, dtype=np.uint64)
    idx = (i[:, None] * 3072 + j[None, :] + 0x51ED) & 0xFFFFFFFF
    pix = (lowbias32(idx) >> np.uint32(24)).astype(np.uint8)
    lab = (lowbias32((i + 0x1ABE1) & 0xFFFFFFFF) % 10).astype(np.int64)
    return pix.reshape(n, 3, 32, 32), lab


def real_cifar(n):
    path = os.path.join(ROOT, "..", "shared", "data", "cifar-10-batches-bin", "data_batch_1.bin")
    if not os.path.exists(path):
        return None
    raw = np.fromfile(path, dtype=np.uint8, count=n * 3073).reshape(n, 3073)
    return raw[:, 1:].reshape(n, 3, 32, 32), raw[:, 0].astype(np.int64)


def mnist_sample(split, n):
    d = os.path.join(ROOT, "models", "data", "mnist-sample")
    with open(os.path.join(d, f"{split}-images-idx3-ubyte"), "rb") as f:
        f.read(16)
        pix = np.frombuffer(f.read(n * 784), dtype=np.uint8).reshape(n, 1, 28, 28)
    with open(os.path.join(d, f"{split}-labels-idx1-ubyte"), "rb") as f:
        f.read(8)
        lab = np.frombuffer(f.read(n), dtype=np.uint8).astype(np.int64)
    return pix, lab


def cifar_tensor(pix):
    x = torch.tensor(pix, dtype=torch.float32) / 255.0
    m = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
    s = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    return (x - m) / s


class QuantSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, k, B):
        ctx.save_for_backward(x)
        ctx.B = B
        s = 2.0 ** k
        return torch.floor(s * torch.clamp(x, 0.0, B) + 0.5) / s

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ((x > 0) & (x < ctx.B)).to(g.dtype), None, None


class Quant(nn.Module):
    def __init__(self, k, B):
        super().__init__()
        self.k, self.B = k, B

    def forward(self, x):
        return QuantSTE.apply(x, self.k, self.B)


class TernarySTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w):
        delta = 0.7 * w.abs().mean()
        return torch.sign(w) * (w.abs() > delta).to(w.dtype)

    @staticmethod
    def backward(ctx, g):
        return g


class TernaryConv2d(nn.Conv2d):
    def forward(self, x):
        return self._conv_forward(x, TernarySTE.apply(self.weight), self.bias)


class Net(nn.Module):
    def __init__(self, features, classifier, flatten_in_forward=True):
        super().__init__()
        self.features, self.classifier = features, classifier
        self.flat = flatten_in_forward

    def forward(self, x):
        y = self.features(x)
        return self.classifier(torch.flatten(y, 1) if self.flat else y)


def vgg_features(cfg, bn, bias):
    layers, c = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers.append(nn.Conv2d(c, v, 3, padding=1, bias=bias))
            if bn:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            c = v
    return nn.Sequential(*layers)


def parity_vgg():
    return Net(vgg_features([16, 16, "M", 32, "M", 64, "M", 64, "M", 64, "M"], bn=False, bias=True),
               nn.Sequential(nn.Linear(64, 64), nn.ReLU(True), nn.Linear(64, 10)))


def parity_bn():
    return Net(vgg_features([16, "M", 32, "M", 32, "M", 64, "M", 64, "M"], bn=True, bias=False),
               nn.Sequential(nn.Linear(64, 32), nn.ReLU(True), nn.Linear(32, 10)))


def parity_quant():
    f = nn.Sequential(nn.Conv2d(1, 8, 5, padding=2, bias=False), nn.BatchNorm2d(8), nn.ReLU(), Quant(1, 2),
                      TernaryConv2d(8, 16, 2, stride=2, bias=False), nn.BatchNorm2d(16), nn.ReLU(), Quant(1, 2),
                      TernaryConv2d(16, 16, 5, bias=False), nn.BatchNorm2d(16), nn.ReLU(), Quant(1, 2),
                      nn.MaxPool2d(2))
    c = nn.Sequential(nn.Flatten(), nn.Linear(400, 10, bias=False))
    return Net(f, c, flatten_in_forward=False)


def train(model, opt, x, y, xtest, reverse=False, channels_last=False):
    """SGD steps over consecutive batches. reverse presents each batch's images in reverse
    order and channels_last runs PyTorch's NHWC kernels: the same computation with its sums
    taken in another order, used to measure how far float32 training reproduces itself."""
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    losses = []
    loss_fn = nn.CrossEntropyLoss()
    for s in range(STEPS):
        xb, yb = x[s * BATCH:(s + 1) * BATCH], y[s * BATCH:(s + 1) * BATCH]
        if reverse:
            xb, yb = xb.flip(0), yb.flip(0)
        if channels_last and xb.dim() == 4:
            xb = xb.contiguous(memory_format=torch.channels_last)
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        out = model(xtest).flatten().tolist()
    return losses, out


def run(name, ctor, make_opt, datasets):
    """Trains in float32 (the golden), then again in float64, in float32 with every batch
    reversed and in float32 with channels-last kernels, to find how far PyTorch agrees with
    itself: training through max pooling, ReLU and quantizer thresholds can amplify rounding
    once the weights move (a ReLU input within an ulp of zero, a tie in a pooling window),
    and no implementation with another summation order can match beyond that point. The
    horizon is the number of leading steps on which every variant agrees to 1e-5; spread[s]
    is the largest relative difference of any variant's step-s loss from the golden one."""
    torch.manual_seed(2026)
    model = ctor()
    init = {k: v.clone() for k, v in model.state_dict().items()}
    write_safetensors(os.path.join(HERE, f"{name}.init.safetensors"), init)
    result = {}
    for dname, (x, y, xt) in datasets.items():
        model.load_state_dict(init)
        losses, out = train(model, make_opt(model), x, y, xt)
        m64 = ctor()
        m64.load_state_dict(init)
        m64 = m64.double()
        losses64, _ = train(m64, make_opt(m64), x.double(), y, xt.double())
        variants = [losses64]
        for kw in ({"reverse": True}, {"channels_last": True}):
            mv = ctor()
            mv.load_state_dict(init)
            variants.append(train(mv, make_opt(mv), x, y, xt, **kw)[0])
        def agree(v):
            h = 0
            while h < STEPS and abs(losses[h] - v[h]) <= 1e-5 * abs(v[h]):
                h += 1
            return h
        each = [agree(v) for v in variants]
        horizon = min(each)
        spread = [max(abs(v[s] - losses[s]) / abs(losses[s]) for v in variants) for s in range(STEPS)]
        result[dname] = {"losses": losses, "eval_outputs": out, "horizon": horizon,
                         "variant_horizons": each, "spread": spread}
        print(f"{name} [{dname}]: loss {losses[0]:.4f} -> {losses[-1]:.4f}; float32 agrees with its "
              f"variants for {horizon} steps "
              f"(float64 {each[0]}, reversed batches {each[1]}, channels-last {each[2]})")
    return result


def main():
    torch.set_num_threads(1)
    n = STEPS * BATCH
    pix, lab = synthetic_cifar(n + 16)
    cifar_sets = {"synthetic": (cifar_tensor(pix[:n]), torch.tensor(lab[:n]), cifar_tensor(pix[n:n + 16]))}
    real = real_cifar(n + 16)
    if real is not None:
        rp, rl = real
        cifar_sets["cifar"] = (cifar_tensor(rp[:n]), torch.tensor(rl[:n]), cifar_tensor(rp[n:n + 16]))
    mp, ml = mnist_sample("train", n)
    mtp, _ = mnist_sample("t10k", 16)
    mnist_sets = {"mnist_sample": (torch.tensor(mp, dtype=torch.float32) / 255.0, torch.tensor(ml),
                                   torch.tensor(mtp, dtype=torch.float32) / 255.0)}
    golden = {
        "steps": STEPS, "batch": BATCH,
        "parity_vgg": run("parity_vgg", parity_vgg,
                          lambda m: torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4),
                          cifar_sets),
        "parity_bn": run("parity_bn", parity_bn,
                         lambda m: torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, nesterov=True,
                                                   weight_decay=1e-4), cifar_sets),
        "parity_quant": run("parity_quant", parity_quant,
                            lambda m: torch.optim.Adam(m.parameters(), lr=0.002), mnist_sets),
    }
    with open(os.path.join(HERE, "train_golden.json"), "w") as f:
        json.dump(golden, f, indent=1)


if __name__ == "__main__":
    main()
