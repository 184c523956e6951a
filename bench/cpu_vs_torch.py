#!/usr/bin/env python3
"""snnc against PyTorch on the CPU, in the same run, on the same machine.

For each model: `snnc bench MODEL --json` (fusion on and off, JIT compile cold and
cached), then the equivalent PyTorch module (tests/golden/make_torch_golden.py holds the
hand-written modules) at the same batch size and thread count, fp32. --mode infer: eval
mode under torch.no_grad(); --mode train: one full optimizer step per batch (train mode,
cross-entropy, backward, the model recipe's optimizer with its lr, momentum, Nesterov and
weight decay, read from `snnc inspect --stage spec`), the same work `snnc bench --mode
train` times. Prints one table and, with --results, appends it to bench/RESULTS.md with
the machine, date and command.

usage: python3 bench/cpu_vs_torch.py [--snnc build/snnc] [--batch 64] [--threads 2]
                                     [--models vgg16_cifar10,vgg16_narrow_cifar10,...]
                                     [--results bench/RESULTS.md]
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


def run_snnc(snnc, model, batch, threads, mode):
    cmd = [snnc, "bench", os.path.join(ROOT, "models", model + ".yaml"), "--batch", str(batch),
           "--threads", str(threads), "--fusion", "both", "--mode", mode, "--json"]
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


def torch_images_per_second(model, batch, threads, mode, min_seconds=2.0, train_recipe=None):
    import torch
    import make_torch_golden as mtg
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = mtg.ALL[model]()
    shape = mtg.INPUT.get(model) or mtg.INPUT[model.split("_")[-1]]
    x = torch.rand(batch, *shape)
    if mode == "infer":
        m.eval()
        with torch.no_grad():
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
            loss_fn(m(x), y).backward()
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
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS))
    ap.add_argument("--results", default=None, help="append the table to this markdown file")
    args = ap.parse_args()

    rows = []
    peak = None
    tv = None
    for model in args.models.split(","):
        r = run_snnc(args.snnc, model, args.batch, args.threads, args.mode)
        peak = r["peak_gflops"]
        res = {x["fusion"]: x for x in r["results"]}
        on, off = res["on"], res["off"]
        r_train = recipe(args.snnc, model) if args.mode == "train" else None
        t_ips, tv = torch_images_per_second(model, args.batch, args.threads, args.mode,
                                            train_recipe=r_train)
        rows.append((model, on["images_per_second"], off["images_per_second"], t_ips,
                     on["compile_cold_s"], on["compile_cached_s"]))
        print(f"{model}: snnc {on['images_per_second']:.1f} img/s (unfused "
              f"{off['images_per_second']:.1f}), PyTorch {t_ips:.1f} img/s, "
              f"ratio {on['images_per_second'] / t_ips:.2f}x", flush=True)

    head = (f"| model | snnc fused img/s | snnc unfused img/s | fused/unfused | PyTorch {tv} img/s | "
            f"snnc/PyTorch | JIT compile cold s | cached s |\n|---|---|---|---|---|---|---|---|\n")
    body = "".join(f"| {m} | {a:.1f} | {b:.1f} | {a / b:.3f} | {t:.1f} | **{a / t:.2f}x** | {c:.3f} | {d:.3f} |\n"
                   for m, a, b, t, c, d in rows)
    table = head + body
    print()
    print(table)
    if args.results:
        cmd = "python3 bench/cpu_vs_torch.py " + " ".join(sys.argv[1:])
        with open(args.results, "a") as f:
            f.write(f"\n### CPU {args.mode}, batch {args.batch}, {args.threads} threads — "
                    f"{datetime.date.today().isoformat()}\n\n")
            f.write(f"Machine: {cpu_name()}, {os.cpu_count()} cores; fp32 peak measured by snnc: "
                    f"{peak:.1f} GFLOP/s. Command: `{cmd}`\n\n")
            f.write(table)


if __name__ == "__main__":
    main()
