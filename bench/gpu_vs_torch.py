#!/usr/bin/env python3
"""snnc --target cuda against PyTorch on the GPU, in the same run, on the same machine.

For each model and mode: `snnc bench MODEL --target cuda --fusion both --json` (fused and
unfused plans; --precision as given), then the same network in PyTorch (the hand-written
modules of tests/golden/make_torch_golden.py) on the GPU at the same batch size, twice:
eager (cuDNN) and torch.compile (when this PyTorch has it), in the same arithmetic as
snnc's --precision: fp32 with TF32 off in cuDNN and cuBLAS, tf32 with it on, bf16 under
torch.autocast(bfloat16). --mode infer: eval mode under torch.no_grad();
--mode train: a full optimizer step per batch (cross-entropy, backward, the recipe's
optimizer). Both sides time whole batches including a host-to-device copy of the input
batch for snnc and none for PyTorch (its input stays on the GPU), synchronized at the end
of each batch. Prints one table and, with --results, appends it to bench/RESULTS.md with
the GPU, date and command.

usage: python3 bench/gpu_vs_torch.py [--snnc build/snnc] [--batch 128]
          [--models vgg16_cifar10] [--modes infer,train] [--precision fp32|tf32|bf16]
          [--results bench/RESULTS.md]
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "golden"))
sys.path.insert(0, HERE)


def run_snnc(snnc, model, batch, mode, precision):
    cmd = [snnc, "bench", os.path.join(ROOT, "models", model + ".yaml"), "--target", "cuda",
           "--precision", precision, "--batch", str(batch), "--fusion", "both", "--mode", mode,
           "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return {r["fusion"]: r for r in json.loads(out)["results"]}


def torch_ips(model, batch, mode, compiled, train_recipe, precision, min_seconds=2.0):
    import contextlib
    import torch
    import make_torch_golden as mtg
    from cpu_vs_torch import make_optimizer
    torch.manual_seed(0)
    dev = torch.device("cuda")
    tf32 = precision != "fp32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if precision == "bf16" \
        else contextlib.nullcontext
    m = mtg.ALL[model]().to(dev)
    shape = mtg.INPUT.get(model) or mtg.INPUT[model.split("_")[-1]]
    x = torch.rand(batch, *shape, device=dev)
    if compiled:
        if not hasattr(torch, "compile"):
            return None
        fwd = torch.compile(m)
    else:
        fwd = m
    if mode == "infer":
        m.eval()

        def step():
            with torch.no_grad(), amp():
                fwd(x)
    else:
        m.train()
        y = torch.randint(0, 10, (batch,), device=dev)
        opt = make_optimizer(m.parameters(), train_recipe)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step():
            opt.zero_grad(set_to_none=True)
            with amp():
                loss = loss_fn(fwd(x), y)
            loss.backward()
            opt.step()
    for _ in range(5 if compiled else 3):
        step()
    torch.cuda.synchronize()
    n, t0 = 0, time.perf_counter()
    while True:
        step()
        torch.cuda.synchronize()
        n += 1
        if n >= 10 and time.perf_counter() - t0 >= min_seconds:
            break
    return batch * n / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--snnc", default=os.path.join(ROOT, "build", "snnc"))
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--models", default="vgg16_cifar10")
    ap.add_argument("--modes", default="infer,train")
    ap.add_argument("--precision", default="tf32", choices=["fp32", "tf32", "bf16"])
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    ap.add_argument("--results", default=None)
    args = ap.parse_args()
    import torch
    from cpu_vs_torch import recipe
    gpu = torch.cuda.get_device_name(0)
    rows = []
    for model in args.models.split(","):
        for mode in args.modes.split(","):
            s = run_snnc(args.snnc, model, args.batch, mode, args.precision)
            r = recipe(args.snnc, model) if mode == "train" else None
            eager = torch_ips(model, args.batch, mode, False, r, args.precision)
            comp = None if args.no_compile else torch_ips(model, args.batch, mode, True, r,
                                                           args.precision)
            on, off = s["on"]["images_per_second"], s["off"]["images_per_second"]
            rows.append((model, mode, on, off, eager, comp))
            print(f"{model} {mode}: snnc {on:.1f} (unfused {off:.1f}), eager {eager:.1f}, "
                  f"compile {comp if comp is None else round(comp, 1)} img/s", flush=True)
    head = (f"| model | mode | snnc fused img/s | snnc unfused | fused/unfused | PyTorch {torch.__version__} "
            f"eager | snnc/eager | torch.compile | snnc/compile |\n|---|---|---|---|---|---|---|---|---|\n")
    body = ""
    for m, mode, on, off, e, c in rows:
        cs = f"{c:.1f} | {on / c:.2f}x" if c else "n/a | n/a"
        body += f"| {m} | {mode} | {on:.1f} | {off:.1f} | {on / off:.3f} | {e:.1f} | **{on / e:.2f}x** | {cs} |\n"
    print()
    print(head + body)
    if args.results:
        with open(args.results, "a") as f:
            f.write(f"\n### GPU, batch {args.batch}, snnc --precision {args.precision} — "
                    f"{datetime.date.today().isoformat()}\n\nGPU: {gpu}. Command: "
                    f"`python3 bench/gpu_vs_torch.py {' '.join(sys.argv[1:])}`\n\n")
            f.write(head + body)


if __name__ == "__main__":
    main()
