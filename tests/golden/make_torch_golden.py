#!/usr/bin/env python3
"""Golden files from PyTorch (Debian python3-torch 1.13, CPU) for the spine tests.

The PyTorch modules below are written by hand from the seed documents, independently of
models/*.yaml, so the tests check that snnc's YAML, IR and weight layout agree with
real PyTorch modules:

  state_dicts.json        every model's state_dict (names, shapes, order) and parameter
                          count (sum of p.numel() over parameters())
  <name>.safetensors      random weights (and BN statistics) for the small models
  <name>.input.bin        float32 input batch [N, C, H, W]
  <name>.logits.bin       float32 outputs of the module on that batch (eval mode)

Quantized models are checked for fragile rounding: the script evaluates them in float32
and float64 and only accepts a seed where every Q(k,B) and ternary decision agrees
between the two, so a correct float32 implementation cannot land on the other side of a
rounding midpoint.

usage: python3 tests/golden/make_torch_golden.py   (from the repository root)
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# ---------------------------------------------------------------------------- ops ---


class Quant(nn.Module):
    """Q(k, B): nearest of 2^k*B+1 levels in [0, B], ties up (spec-spatiotemporal.md)."""

    def __init__(self, k, B):
        super().__init__()
        self.k, self.B = k, B

    def forward(self, x):
        s = 2.0 ** self.k
        return torch.floor(s * torch.clamp(x, 0.0, self.B) + 0.5) / s


def ternarize(w, t=0.7):
    delta = t * w.abs().mean()
    return torch.sign(w) * (w.abs() > delta).to(w.dtype)


class TernaryConv2d(nn.Conv2d):
    def forward(self, x):
        return self._conv_forward(x, ternarize(self.weight), self.bias)


class LIF(nn.Module):
    """SpikingJelly LIFNode semantics (decay_input, hard reset to 0) over [T, N, ...]."""

    def __init__(self, tau=2.0, v_th=1.0, v_reset=0.0):
        super().__init__()
        self.tau, self.v_th, self.v_reset = tau, v_th, v_reset

    def forward(self, x_seq):
        v = torch.full_like(x_seq[0], self.v_reset)
        out = []
        for x in x_seq:
            h = v + (x - (v - self.v_reset)) / self.tau
            s = (h >= self.v_th).to(x.dtype)
            v = h * (1 - s) + self.v_reset * s
            out.append(s)
        return torch.stack(out)


# -------------------------------------------------------------------------- models ---

CFG = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
    "vgg16_narrow": [16, 16, "M", 32, 32, "M", 64, 64, 64, "M", 128, 128, 128, "M", 128, 128, 128, "M"],
}


def vgg_features(cfg, bias, bn, in_ch=3):
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers.append(nn.Conv2d(in_ch, v, 3, padding=1, bias=bias))
            if bn:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            in_ch = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features, classifier):
        super().__init__()
        self.features, self.classifier = features, classifier

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def seed000_classifier(n_in=512, classes=10):  # seed 000: 512-512-256-10, no bias
    return nn.Sequential(nn.Linear(n_in, 512, bias=False), nn.ReLU(True), nn.Dropout(0.5),
                         nn.Linear(512, 256, bias=False), nn.ReLU(True), nn.Dropout(0.5),
                         nn.Linear(256, classes, bias=False))


def vgg_seed000(name):
    return VGG(vgg_features(CFG[name], bias=False, bn=False), seed000_classifier())


def vgg16_narrow():  # seed 003
    cls = nn.Sequential(nn.Dropout(0.4), nn.Linear(128, 512), nn.ReLU(True), nn.Dropout(0.4),
                        nn.Linear(512, 512), nn.ReLU(True), nn.Linear(512, 10))
    return VGG(vgg_features(CFG["vgg16_narrow"], bias=True, bn=False), cls)


def vgg16_bn():  # seed 002 (MindSpore CIFAR-10 config: batch_norm, has_bias False)
    cls = nn.Sequential(nn.Linear(512, 512), nn.ReLU(True), nn.Dropout(0.5),
                        nn.Linear(512, 512), nn.ReLU(True), nn.Dropout(0.5), nn.Linear(512, 10))
    return VGG(vgg_features(CFG["vgg16"], bias=False, bn=True), cls)


def quant_block(cin, cout, k, stride, pad, ternary, kq, B):
    conv = (TernaryConv2d if ternary else nn.Conv2d)(cin, cout, k, stride=stride, padding=pad, bias=False)
    return [conv, nn.BatchNorm2d(cout), nn.ReLU(), Quant(kq, B)]


class QuantNet(nn.Module):
    def __init__(self, blocks, n_flat, classes, kq, B, in_ch):
        super().__init__()
        layers, c = [], in_ch
        for i, (cout, k, s, p) in enumerate(blocks):
            layers += quant_block(c, cout, k, s, p, ternary=i > 0, kq=kq, B=B)
            c = cout
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(n_flat, classes, bias=False))

    def forward(self, x):
        return self.classifier(self.features(x))


def quant_vgg(kq=1, B=2):  # seed 001, spec-spatiotemporal.md table
    blocks = [(64, 3, 1, 1), (64, 3, 1, 1), (64, 3, 1, 1), (64, 2, 2, 0),
              (128, 3, 1, 1), (128, 3, 1, 1), (128, 2, 2, 0),
              (256, 3, 1, 1), (256, 3, 1, 1), (256, 2, 2, 0),
              (512, 3, 1, 1), (512, 3, 1, 0)]
    return QuantNet(blocks, 512, 10, kq, B, 3)


def quant_lenet(kq=1, B=2):  # seed 001 MNIST LeNet
    blocks = [(16, 5, 1, 2), (16, 5, 1, 0), (16, 2, 2, 0), (32, 5, 1, 0), (32, 2, 2, 0), (256, 4, 1, 0)]
    return QuantNet(blocks, 256, 10, kq, B, 1)


class LifFc(nn.Module):  # seed 004 / SpikingJelly lif_fc_mnist
    def __init__(self, tau=2.0, T=4):
        super().__init__()
        self.T = T
        self.layer = nn.Sequential(nn.Flatten(), nn.Linear(784, 10, bias=False), LIF(tau))

    def forward(self, x):  # direct encoding: [N, 1, 28, 28] repeated T times -> rate [N, 10]
        N = x.shape[0]
        x_seq = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        flat = self.layer[0](x_seq.reshape(self.T * N, *x.shape[1:]))
        cur = self.layer[1](flat).reshape(self.T, N, -1)
        return self.layer[2](cur).mean(0)


def tiny_vgg():  # tests/golden/tiny_vgg.yaml: BN + bias + dropout-before classifier
    feats = vgg_features([8, "M", 16, "M", 16, "M"], bias=True, bn=True)
    cls = nn.Sequential(nn.Dropout(0.3), nn.Linear(16, 32), nn.ReLU(True), nn.Linear(32, 10))
    return VGG(feats, cls)


ALL = {
    "vgg11_cifar10": lambda: vgg_seed000("vgg11"),
    "vgg13_cifar10": lambda: vgg_seed000("vgg13"),
    "vgg16_cifar10": lambda: vgg_seed000("vgg16"),
    "vgg19_cifar10": lambda: vgg_seed000("vgg19"),
    "vgg16_narrow_cifar10": vgg16_narrow,
    "vgg16_bn_cifar10": vgg16_bn,
    "quant_vgg_cifar10": quant_vgg,
    "quant_lenet_mnist": quant_lenet,
    "lif_fc_mnist": LifFc,
}

# ---------------------------------------------------------------------------- I/O ---

DT = {torch.float32: "F32", torch.int64: "I64"}


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": DT[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_idx_images(path, n):
    with open(path, "rb") as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 0x803
        data = f.read(n * rows * cols)
    return torch.tensor(list(data), dtype=torch.float32).reshape(n, 1, rows, cols)


def randomize(model, gen):
    """Random weights and non-trivial BN statistics, so BN is exercised."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.2, 0.2, generator=gen)
                m.running_mean.uniform_(-0.2, 0.2, generator=gen)
                m.running_var.uniform_(0.5, 2.0, generator=gen)
                m.num_batches_tracked.fill_(7)


def quant_decisions(model, x):
    """Inputs of every Quant and every ternarized weight, to compare float32 vs float64."""
    seen = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: seen.append(out.detach().clone()))
             for m in model.modules() if isinstance(m, (Quant, LIF))]
    out = model(x)
    for h in hooks:
        h.remove()
    levels = [t.float() for t in seen]  # quantized levels and spikes
    for m in model.modules():
        if isinstance(m, TernaryConv2d):
            levels.append(ternarize(m.weight))
    return out, levels


def golden(name, model, x, out_dir, quantized):
    for seed in range(100):
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        for p in model.parameters():
            with torch.no_grad():
                bound = 1.0 / max(1, p[0].numel()) ** 0.5 if p.dim() > 1 else 0.1
                p.uniform_(-bound, bound, generator=gen)
        randomize(model, gen)
        model.eval()
        with torch.no_grad():
            y32, lv32 = quant_decisions(model, x)
            if not quantized:
                y = y32
                break
            m64 = model._golden_ctor()
            m64.load_state_dict(model.state_dict())
            m64 = m64.double().eval()
            y64, lv64 = quant_decisions(m64, x.double())
            if all(torch.equal(a, b.float()) for a, b in zip(lv32, lv64)):
                y = y64.float()
                print(f"  {name}: seed {seed}: float32 and float64 agree on every rounding decision")
                break
    else:
        sys.exit(f"{name}: no seed without fragile rounding decisions")
    sd = model.state_dict()
    write_safetensors(os.path.join(out_dir, f"{name}.safetensors"), sd)
    with open(os.path.join(out_dir, f"{name}.input.bin"), "wb") as f:
        f.write(x.contiguous().numpy().astype("<f4").tobytes())
    with open(os.path.join(out_dir, f"{name}.logits.bin"), "wb") as f:
        f.write(y.contiguous().numpy().astype("<f4").tobytes())
    print(f"  {name}: input {list(x.shape)} -> logits {list(y.shape)}")


INPUT = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32), "quant_vgg_cifar10": (3, 24, 24)}


def count_macs(m, x):
    """Forward multiply-accumulates of conv and linear layers for one sample."""
    total = [0]

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            total[0] += out.numel() * mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1]
        elif isinstance(mod, nn.Linear):
            total[0] += out.numel() * mod.in_features

    hooks = [mod.register_forward_hook(hook) for mod in m.modules() if isinstance(mod, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        m.eval()(x)
    for h in hooks:
        h.remove()
    return total[0]


def main():
    torch.set_num_threads(1)
    listing = {}
    for name, ctor in ALL.items():
        m = ctor()
        shape = INPUT.get(name) or INPUT[name.split("_")[-1]]
        listing[name] = {
            "params": sum(p.numel() for p in m.parameters()),
            "macs": count_macs(m, torch.zeros(1, *shape)),
            "state_dict": [[k, list(v.shape)] for k, v in m.state_dict().items()],
        }
        print(f"{name}: {listing[name]['params']} parameters, {listing[name]['macs']} MACs/sample")
    with open(os.path.join(HERE, "state_dicts.json"), "w") as f:
        json.dump(listing, f, indent=1)

    mnist = os.path.join(ROOT, "models", "data", "mnist-sample", "t10k-images-idx3-ubyte")
    digits = read_idx_images(mnist, 8) / 255.0

    # tiny_vgg: random CIFAR-like input
    gen = torch.Generator().manual_seed(1234)
    tv = tiny_vgg()
    tv._golden_ctor = tiny_vgg
    golden("tiny_vgg", tv, torch.rand(4, 3, 8, 8, generator=gen) * 2 - 1, HERE, quantized=False)

    ql = quant_lenet()
    ql._golden_ctor = quant_lenet
    golden("quant_lenet_mnist", ql, digits, HERE, quantized=True)

    # lif_fc_mnist with the direct encoder (deterministic), T = 4; the scale makes the
    # membrane cross the threshold often
    lf = LifFc()
    lf._golden_ctor = LifFc
    golden("lif_fc_mnist", lf, digits * 8.0, HERE, quantized=True)


if __name__ == "__main__":
    main()
