#!/usr/bin/env python3
"""snnc against PyTorch on the CPU, in the same run, on the same machine, per precision.

For each model: `snnc bench MODEL --precision fp32,bf16,int8 --fusion on --json` (the
precisions timed side by side in snnc's interleaved rounds; int8 for inference only), then
the equivalent PyTorch module (tests/golden/make_torch_golden.py holds the hand-written
modules) at the same batch size and thread count in fp32 and in bf16 autocast
(torch.autocast("cpu", torch.bfloat16)) with channels_last tensors. --mode infer: eval mode
under torch.no_grad(); --mode train: one full optimizer step per batch (train mode,
cross-entropy, backward, the model recipe's optimizer with its lr, momentum, Nesterov and
weight decay, read from `snnc inspect --stage spec`), the same work `snnc bench --mode
train` times. The whole sequence (snnc, PyTorch fp32, PyTorch bf16) repeats --rounds times
and each configuration keeps its best round: on a shared machine the background load
affects every configuration alike. Prints one table with the ratios and, with --results,
appends it to bench/RESULTS.md with the machine, its instruction set and measured peaks,
the date and the command.

usage: python3 bench/cpu_vs_torch.py [--snnc build/snnc] [--batch 64] [--threads 2]
                                     [--mode infer|train] [--precisions fp32,bf16,int8]
                                     [--models vgg16_cifar10,vgg16_narrow_cifar10,...]
                                     [--rounds 3] [--results bench/RESULTS.md]
Needs Debian's python3-torch (1.13) for the peer; snnc itself does not use Python.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "golden"))

DEFAULT_MODELS = ["vgg16_cifar10", "vgg16_narrow_cifar10", "vgg11_cifar10", "vgg13_cifar10",
                  "vgg19_cifar10", "vgg16_bn_cifar10", "quant_vgg_cifar10", "quant_lenet_mnist"]


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run_snnc(snnc, model, batch, threads, mode, precisions):
    cmd = [snnc, "bench", os.path.join(ROOT, "models", model + ".yaml"), "--batch", str(batch),
           "--threads", str(threads), "--fusion", "on", "--mode", mode, "--precision",
           ",".join(precisions), "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def recipe(snnc, model):
    """The resolved train section of a model, as snnc sees it."""
    import yaml
    out = subprocess.run([snnc, "inspect", os.path.join(ROOT, "models", model + ".yaml"),
                          "--stage", "spec"], check=True, capture_output=True, text=True).stdout
    return yaml.safe_load(out)["train"]


def make_optimizer(params, r):
    import torch
    if r["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=r["lr"], weight_decay=r["weight_decay"])
    return torch.optim.SGD(params, lr=r["lr"], momentum=r["momentum"], nesterov=r["nesterov"],
                           weight_decay=r["weight_decay"])


def torch_images_per_second(model, batch, threads, mode, bf16, min_seconds=2.0,
                            train_recipe=None):
    """PyTorch fp32, or bf16 autocast with channels_last (bf16=True)."""
    import contextlib
    import torch
    import make_torch_golden as mtg
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = mtg.ALL[model]()
    shape = mtg.INPUT.get(model) or mtg.INPUT[model.split("_")[-1]]
    x = torch.rand(batch, *shape)
    if bf16:
        m = m.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    def amp():
        return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    if mode == "infer":
        m.eval()
        with torch.no_grad(), amp():
            for _ in range(2):
                m(x)
            n, t0 = 0, time.perf_counter()
            while True:
                m(x)
                n += 1
                if n >= 5 and time.perf_counter() - t0 >= min_seconds:
                    break
            dt = (time.perf_counter() - t0) / n
    else:
        m.train()
        y = torch.randint(0, 10, (batch,))
        opt = make_optimizer(m.parameters(), train_recipe)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step():
            opt.zero_grad()
            with amp():
                loss = loss_fn(m(x), y)
            loss.backward()
            opt.step()
        for _ in range(2):
            step()
        n, t0 = 0, time.perf_counter()
        while True:
            step()
            n += 1
            if n >= 3 and time.perf_counter() - t0 >= min_seconds:
                break
        dt = (time.perf_counter() - t0) / n
    return batch / dt, torch.__version__


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--snnc", default=os.path.join(ROOT, "build", "snnc"))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--mode", default="infer", choices=["infer", "train"])
    ap.add_argument("--precisions", default=None,
                    help="snnc precisions (default fp32,bf16,int8; train: fp32,bf16)")
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--results", default=None, help="append the table to this markdown file")
    args = ap.parse_args()
    precs = (args.precisions or ("fp32,bf16" if args.mode == "train" else "fp32,bf16,int8")
             ).split(",")
    if args.mode == "train" and "int8" in precs:
        ap.error("int8 is post-training quantization: --mode train takes fp32 and bf16")

    rows = []
    info = None
    tv = None
    for model in args.models.split(","):
        r_train = recipe(args.snnc, model) if args.mode == "train" else None
        best = {}
        for rd in range(args.rounds):
            r = run_snnc(args.snnc, model, args.batch, args.threads, args.mode, precs)
            info = r
            for x in r["results"]:
                k = "snnc " + x["precision"]
                best[k] = max(best.get(k, 0), x["images_per_second"])
            for bf in (False, True):
                ips, tv = torch_images_per_second(model, args.batch, args.threads, args.mode, bf,
                                                  train_recipe=r_train)
                k = "torch " + ("bf16" if bf else "fp32")
                best[k] = max(best.get(k, 0), ips)
        rows.append((model, best))
        line = ", ".join(f"{k} {v:.1f}" for k, v in best.items())
        print(f"{model} ({args.mode}, best of {args.rounds}): {line} img/s", flush=True)

    def ratio(b, num, den):
        return f"{b[num] / b[den]:.2f}x" if b.get(num) and b.get(den) else "-"
    cols = [f"snnc {p}" for p in precs] + ["torch fp32", "torch bf16"]
    head = ("| model | " + " | ".join(c + " img/s" for c in cols) +
            " | snnc bf16/fp32 | snnc int8/bf16 | snnc bf16 / torch bf16 | snnc fp32 / torch fp32 |\n" +
            "|---" * (len(cols) + 5) + "|\n")
    body = ""
    for m, b in rows:
        body += ("| " + m + " | " + " | ".join(f"{b[c]:.1f}" if c in b else "-" for c in cols) +
                 f" | {ratio(b, 'snnc bf16', 'snnc fp32')} | {ratio(b, 'snnc int8', 'snnc bf16')}"
                 f" | **{ratio(b, 'snnc bf16', 'torch bf16')}** | {ratio(b, 'snnc fp32', 'torch fp32')} |\n")
    table = head + body
    isa = (f"instruction set {info['isa']}; measured peaks (all threads): fp32 FMA "
           f"{info['peak_gflops']:.1f} GFLOP/s, vdpbf16ps {info['peak_bf16_gflops']:.1f} GFLOP/s, "
           f"vpdpbusd {info['peak_int8_gops']:.1f} GOP/s") if info else ""
    print()
    print(isa)
    print(table)
    if args.results:
        cmd = "python3 bench/cpu_vs_torch.py " + " ".join(sys.argv[1:])
        with open(args.results, "a") as f:
            f.write(f"\n### CPU {args.mode} by precision, batch {args.batch}, {args.threads} threads "
                    f"— {datetime.date.today().isoformat()}\n\n")
            f.write(f"Machine: {cpu_name()}, {os.cpu_count()} cores; {isa}; PyTorch {tv} "
                    f"(bf16: autocast, channels_last). Best of {args.rounds} rounds. "
                    f"Command: `{cmd}`\n\n")
            f.write(table)


if __name__ == "__main__":
    main()
