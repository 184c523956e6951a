#!/usr/bin/env python3
"""An snnc artifact (snnc compile --emit lib) against ONNX Runtime, in the same run.

For a model of models/ (default VGG16): PyTorch builds the equivalent module
(tests/golden/make_torch_golden.py) with seeded weights; its state_dict is written as
safetensors for snnc and the module is exported to ONNX by torch.onnx.export (one file per
batch size, fixed shapes). snnc compiles a C library per batch size from the same weights;
bench/artifact_bench.c, built against it with the system C compiler, times it, and
bench/ort_bench.js times ONNX Runtime's CPU library (the npm package onnxruntime-node)
on the ONNX file. Both use the same thread count; they run alternately, round after round,
and each side's best round (the median of its runs in that round) is kept.

Reported: latency at each batch size and the ratio ORT / artifact; start-up (create + first
run, each in a fresh process); the libraries' sizes next to the weights'; and how far the two
outputs are apart on one input (a check that both compute the same model).

usage: python3 bench/artifact_vs_ort.py --ort DIR [--snnc build/snnc] [--model vgg16_cifar10]
           [--batches 1,64] [--threads 2] [--rounds 5] [--iters 20] [--startups 7]
           [--cpu LIST] [--conv auto|direct] [--results bench/RESULTS.md] [--work DIR]
DIR: a folder where `npm install --ignore-scripts onnxruntime-node` was run (outside the
repository). Needs Debian's python3-torch (1.13; its ONNX exporter needs no onnx package),
node and a C compiler; snnc itself uses none of them.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "golden"))


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ort", required=True, help="folder holding node_modules/onnxruntime-node")
    ap.add_argument("--snnc", default=os.path.join(ROOT, "build", "snnc"))
    ap.add_argument("--model", default="vgg16_cifar10")
    ap.add_argument("--batches", default="1,64")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--startups", type=int, default=7)
    ap.add_argument("--cpu", default=None, help="snnc compile --cpu (default: x86-64-v3,host)")
    ap.add_argument("--conv", default="auto", choices=["auto", "direct"],
                    help="snnc compile --conv: the backend's choice or direct convolutions only")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--results", default=None, help="append the table to this markdown file")
    ap.add_argument("--work", default=None, help="keep the intermediate files here")
    a = ap.parse_args()

    import numpy as np
    import torch
    import make_torch_golden as mtg

    batches = [int(b) for b in a.batches.split(",")]
    work = a.work or tempfile.mkdtemp(prefix="snnc-ort-")
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    m = mtg.ALL[a.model]().eval()
    shape = mtg.INPUT.get(a.model) or mtg.INPUT[a.model.split("_")[-1]]
    weights = os.path.join(work, "weights.safetensors")
    mtg.write_safetensors(weights, m.state_dict())
    weight_bytes = sum(t.numel() * t.element_size() for t in m.state_dict().values())
    model_yaml = os.path.join(ROOT, "models", a.model + ".yaml")
    rows = {}
    for b in batches:
        onnx = os.path.join(work, f"{a.model}_b{b}.onnx")
        with torch.no_grad():
            torch.onnx.export(m, torch.zeros(b, *shape), onnx, opset_version=13,
                              input_names=["input"], output_names=["scores"])
        lib = os.path.join(work, f"lib_b{b}")
        cmd = [a.snnc, "compile", model_yaml, "--emit", "lib", "--weights", weights,
               "--batch", str(b), "-o", lib, "--name", "bench"]
        if a.cpu:
            cmd += ["--cpu", a.cpu]
        if a.conv != "auto":
            cmd += ["--conv", a.conv]
        print(sh(cmd).strip().split("\n")[0], file=sys.stderr)
        exe = os.path.join(work, f"artifact_bench_b{b}")
        sh([a.cc, "-O2", "-I", lib, os.path.join(HERE, "artifact_bench.c"),
            os.path.join(lib, "libbench.a"), "-lm", "-lpthread", "-o", exe])
        manifest = json.load(open(os.path.join(lib, "bench.json")))
        rows[b] = {"onnx": onnx, "exe": exe, "lib": lib, "manifest": manifest}

    ortjs = os.path.join(HERE, "ort_bench.js")

    def ort(b, *extra):
        return json.loads(sh(["node", ortjs, "--ort", a.ort, "--model", rows[b]["onnx"],
                              "--batch", str(b), "--threads", str(a.threads)] + list(extra)))

    def art(b, *extra):
        return json.loads(sh([rows[b]["exe"], "--threads", str(a.threads)] + list(extra)))

    # the same model? one input through both
    for b in batches:
        x = np.random.default_rng(1).random((b,) + tuple(shape), dtype=np.float32)
        xin, ya, yo = (os.path.join(work, f) for f in ("x.f32", "ya.f32", "yo.f32"))
        x.tofile(xin)
        art(b, "--iters", "1", "--input", xin, "--output", ya)
        ort(b, "--iters", "1", "--input", xin, "--output", yo)
        A, O = np.fromfile(ya, dtype=np.float32), np.fromfile(yo, dtype=np.float32)
        with torch.no_grad():
            T = m(torch.from_numpy(x)).numpy().ravel()
        scale = float(np.abs(T).max()) or 1.0
        rows[b]["diff_ort"] = float(np.abs(A - O).max()) / scale
        rows[b]["diff_torch"] = float(np.abs(A - T).max()) / scale
        rows[b]["same_class"] = float(np.mean(A.reshape(b, -1).argmax(1) == O.reshape(b, -1).argmax(1)))

    # start-up: fresh processes, alternating
    sa, so = [], []
    b0 = batches[0]
    for _ in range(a.startups):
        sa.append(art(b0, "--startup"))
        so.append(ort(b0, "--startup"))
    # latency: rounds alternating between the two and over the batch sizes
    lat = {b: {"snnc": [], "ort": []} for b in batches}
    for r in range(a.rounds):
        for b in batches:
            it = str(max(3, a.iters if b <= 8 else a.iters // 4))
            lat[b]["snnc"].append(statistics.median(art(b, "--iters", it)["latency_ms"]))
            lat[b]["ort"].append(statistics.median(ort(b, "--iters", it)["latency_ms"]))
        print(f"round {r + 1}/{a.rounds}: " + ", ".join(
            f"b{b} snnc {lat[b]['snnc'][-1]:.2f} ms, ORT {lat[b]['ort'][-1]:.2f} ms"
            for b in batches), file=sys.stderr)

    date = datetime.date.today().isoformat()
    variant = sa[0]["variant"]
    lines = [f"### Artifact vs ONNX Runtime, {a.model}, {a.threads} threads — {date}", "",
             f"Machine: {cpu_name()}, {os.cpu_count()} cores (shared with other jobs while "
             f"measured: best of {a.rounds} alternating rounds). ONNX Runtime "
             f"{so[0].get('version', '?')} (npm onnxruntime-node, CPU provider, graph "
             f"optimizations all); the artifact ran variant `{variant}`. Command: "
             f"`python3 bench/artifact_vs_ort.py --ort DIR"
             + (f" --cpu {a.cpu}" if a.cpu else "") + (f" --conv {a.conv}" if a.conv != "auto"
                                                        else "")
             + (f" --batches {a.batches}"
                                                      if a.batches != "1,64" else "") + "`", "",
             "| batch | snnc artifact ms | ONNX Runtime ms | ORT / snnc | artifact images/s | "
             "max |diff| vs ORT (rel.) | same class |", "|---|---|---|---|---|---|---|"]
    for b in batches:
        s, o = min(lat[b]["snnc"]), min(lat[b]["ort"])
        lines.append(f"| {b} | {s:.2f} | {o:.2f} | **{o / s:.2f}x** | {1e3 * b / s:.0f} | "
                     f"{rows[b]['diff_ort']:.1e} | {100 * rows[b]['same_class']:.0f}% |")
    lines.append("")
    lines.append("Per round (each side's median in that round), the ratio ORT / snnc: " + "; ".join(
        f"batch {b}: median {statistics.median(o / a_ for a_, o in zip(lat[b]['snnc'], lat[b]['ort'])):.2f}x, "
        f"range {min(o / a_ for a_, o in zip(lat[b]['snnc'], lat[b]['ort'])):.2f}-"
        f"{max(o / a_ for a_, o in zip(lat[b]['snnc'], lat[b]['ort'])):.2f}x" for b in batches) + ".")
    st_a = sorted(x["startup_ms"] for x in sa)
    st_o = sorted(x["startup_ms"] for x in so)
    best_a = min(sa, key=lambda x: x["startup_ms"])
    lines += ["", f"Start-up at batch {b0} (create + first run, fresh process, best / median of "
                  f"{a.startups}): snnc artifact {st_a[0]:.1f} / {statistics.median(st_a):.1f} ms "
                  f"(create {best_a['create_ms']:.1f}, first run {best_a['first_run_ms']:.1f}); "
                  f"ONNX Runtime {st_o[0]:.1f} / {statistics.median(st_o):.1f} ms.", ""]
    for b in batches:
        man = rows[b]["manifest"]
        st = man["files"]["static"]["bytes"]
        shd = man["files"].get("shared", {}).get("bytes", 0)
        wb = man["weights"]["bytes"]
        lines.append(f"Sizes, batch {b}: weights {wb / 2**20:.2f} MiB ({weight_bytes} bytes in "
                     f"PyTorch), libbench.so {shd / 2**20:.2f} MiB (+{(shd - wb) / 2**10:.0f} KiB), "
                     f"libbench.a {st / 2**20:.2f} MiB (+{(st - wb) / 2**10:.0f} KiB), ONNX file "
                     f"{os.path.getsize(rows[b]['onnx']) / 2**20:.2f} MiB; variants "
                     + ", ".join(f"{v['name']} ({v['kernels']} kernels, {v['code_bytes'] / 1024:.0f} "
                                 f"KiB)" for v in man["variants"]) + ".")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.results:
        with open(a.results, "a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
