#!/usr/bin/env python3
"""SNN training: snnc against PyTorch on the seed-004 network, in the same run.

The network is SpikingJelly's lif_fc_mnist (models/lif_fc_mnist.yaml): Flatten ->
Linear(784, 10, bias=False) -> LIF(tau=2, decay_input, hard reset to 0, ATan surrogate
alpha=2), Poisson encoding of pixels/255 afresh every step, output = spike rate over T
steps, MSE against the one-hot label, Adam, batch 32, the model's recipe (lr 5e-3 annealed
by a cosine over the epochs; --lr/--schedule change both sides). SpikingJelly itself is not
installable here (no PyPI), so the peer is a plain-PyTorch transcription of its
activation_based multi-step LIF node (charge -> fire -> hard reset, the ATan surrogate as a
custom autograd function, the reset not detached), which does the same arithmetic
SpikingJelly's torch backend does.

For each side: training throughput (samples/s over whole epochs, evaluation excluded) and
the test accuracy after every epoch, on ../shared/data/mnist (8,000 training and 1,000
test digits). snnc runs `snnc train models/lif_fc_mnist.yaml`; its throughput comes from
the epochs' seconds in epochs.csv minus the evaluation time (measured separately).

usage: python3 bench/snn_train_vs_torch.py [--snnc build/snnc] [--epochs 5] [--T 50]
                                           [--lr 5e-3] [--schedule cosine|constant]
                                           [--threads 2] [--results bench/RESULTS.md]
"""
import argparse
import csv
import datetime
import math
import os
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, "..", "shared", "data", "mnist")


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 0x803:
        return data[16:], n
    return data[8:], n


def load(split):
    import torch
    img, n = read_idx(os.path.join(DATA, f"{split}-images-idx3-ubyte"))
    lab, _ = read_idx(os.path.join(DATA, f"{split}-labels-idx1-ubyte"))
    x = torch.frombuffer(bytearray(img), dtype=torch.uint8).view(n, 1, 28, 28).float() / 255.0
    y = torch.frombuffer(bytearray(lab), dtype=torch.uint8).long()
    return x, y


def torch_run(epochs, T, batch, threads, lr, schedule, seed=0):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    torch.manual_seed(seed)

    class ATan(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, alpha):
            ctx.save_for_backward(x)
            ctx.alpha = alpha
            return (x >= 0).to(x)

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            a = ctx.alpha
            return g * (a / 2 / (1 + (math.pi / 2 * a * x) ** 2)), None

    def lif_multistep(x_seq, tau=2.0, v_th=1.0, v_reset=0.0):
        v = torch.full_like(x_seq[0], v_reset)
        out = []
        for t in range(x_seq.shape[0]):
            h = v + (x_seq[t] - (v - v_reset)) / tau
            s = ATan.apply(h - v_th, 2.0)
            v = h * (1 - s) + v_reset * s
            out.append(s)
        return torch.stack(out)

    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10, bias=False))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    # snnc's cosine: per epoch, from lr down to 0 over the run
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs) \
        if schedule == "cosine" else None
    xtr, ytr = load("train")
    xte, yte = load("t10k")
    n = xtr.shape[0] // batch * batch
    accs, train_seconds = [], 0.0
    for ep in range(epochs):
        perm = torch.randperm(xtr.shape[0])
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            x, y = xtr[idx], ytr[idx]
            opt.zero_grad()
            spikes = (torch.rand((T,) + x.shape) <= x).float()          # Poisson, every step
            z = net(spikes.flatten(0, 1)).view(T, x.shape[0], 10)       # the linear over T x N
            rate = lif_multistep(z).mean(0)
            loss = F.mse_loss(rate, F.one_hot(y, 10).float())
            loss.backward()
            opt.step()
        train_seconds += time.perf_counter() - t0
        if sched:
            sched.step()
        with torch.no_grad():
            correct = 0
            for i in range(0, xte.shape[0], 250):
                x = xte[i:i + 250]
                spikes = (torch.rand((T,) + x.shape) <= x).float()
                z = net(spikes.flatten(0, 1)).view(T, x.shape[0], 10)
                correct += (lif_multistep(z).mean(0).argmax(1) == yte[i:i + 250]).sum().item()
        accs.append(100.0 * correct / xte.shape[0])
        print(f"  PyTorch epoch {ep + 1}: test top-1 {accs[-1]:.2f}%", flush=True)
    return n * epochs / train_seconds, accs, torch.__version__


def snnc_run(snnc, epochs, T, threads, lr, schedule):
    out = tempfile.mkdtemp(prefix="snnc-snn-bench-")
    cmd = [snnc, "train", os.path.join(ROOT, "models", "lif_fc_mnist.yaml"), "--data", DATA,
           "--epochs", str(epochs), "--set", f"snn.T={T}", "--set", f"train.lr={lr}", "--set",
           f"train.schedule={schedule}", "--threads", str(threads), "--quiet",
           "--out", os.path.join(out, "run")]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    rows = list(csv.DictReader(open(os.path.join(out, "run", "epochs.csv"))))
    # the evaluation inside each epoch's seconds, measured on its own
    ev = subprocess.run([snnc, "eval", os.path.join(out, "run", "model.yaml"), "--weights",
                         os.path.join(out, "run", "last.safetensors"), "--threads", str(threads),
                         "--json", "--batch", "32"], check=True, capture_output=True, text=True)
    import json
    eval_s = json.loads(ev.stdout)["seconds"]
    steps = 8000 // 32
    train_s = sum(float(r["seconds"]) - eval_s for r in rows)
    return steps * 32 * epochs / train_s, [float(r["test_top1"]) for r in rows], out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--snnc", default=os.path.join(ROOT, "build", "snnc"))
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--T", type=int, default=50)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--schedule", choices=["cosine", "constant"], default="cosine")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--results", default=None)
    args = ap.parse_args()
    s_rate, s_acc, s_dir = snnc_run(args.snnc, args.epochs, args.T, args.threads, args.lr,
                                    args.schedule)
    print(f"snnc: {s_rate:.0f} samples/s; test top-1 per epoch {s_acc} (run in {s_dir})",
          flush=True)
    t_rate, t_acc, tv = torch_run(args.epochs, args.T, 32, args.threads, args.lr, args.schedule)
    print(f"PyTorch {tv}: {t_rate:.0f} samples/s; test top-1 per epoch {t_acc}")
    table = ("| | training samples/s | test top-1 after each epoch (%) |\n|---|---|---|\n"
             f"| snnc | {s_rate:.0f} | {', '.join(f'{a:.1f}' for a in s_acc)} |\n"
             f"| PyTorch {tv} (SpikingJelly's LIF transcribed) | {t_rate:.0f} | "
             f"{', '.join(f'{a:.1f}' for a in t_acc)} |\n"
             f"| snnc / PyTorch | **{s_rate / t_rate:.1f}x** | |\n")
    print()
    print(table)
    if args.results:
        cmd = "python3 bench/snn_train_vs_torch.py " + " ".join(sys.argv[1:])
        with open(args.results, "a") as f:
            f.write(f"\n### SNN training: lif_fc_mnist, T={args.T}, batch 32, {args.epochs} epochs, "
                    f"Adam lr {args.lr:g} ({args.schedule}), "
                    f"{args.threads} threads — {datetime.date.today().isoformat()}\n\n")
            f.write(f"Data: ../shared/data/mnist (8,000 training, 1,000 test digits). "
                    f"Command: `{cmd}`\n\n")
            f.write(table)


if __name__ == "__main__":
    main()
