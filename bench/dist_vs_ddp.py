#!/usr/bin/env python3
"""Data-parallel training: snnc under mpirun against PyTorch DistributedDataParallel (gloo),
in the same run, on the same machine.

For each model, the same global batch is trained for --steps steps four ways:

  snnc   1 rank  x T threads   `snnc train MODEL --steps S --batch B --threads T`
  snnc   N ranks x T threads   `mpirun -np N snnc train ...` (same global batch)
  torch  1 process x T threads (the model of tests/golden/make_torch_golden.py, the recipe's
                                SGD or Adam, cross-entropy; synthetic images made once: compute
                                does not depend on pixel values, and no data loading is timed,
                                while snnc's runs load and augment CIFAR-10 on a thread)
  torch  N processes x T threads, DistributedDataParallel with the gloo backend (default 25 MB
                                buckets, overlapped with backward), B / N images each

snnc's figures come from its run log (log.jsonl "end": time inside training steps, first
step left out as warm-up; the time each step waited on other ranks: gradient buckets not
summed when the optimizer needed them, plus the step's loss/accuracy sum). torch's are
timed around the optimizer steps, first two left out. The four runs are repeated --rounds
times, interleaved, and each keeps its best round (a shared machine's background load
otherwise decides the ratios). Each round also runs a control (--no-ceiling skips it): N
independent single-process snnc runs at the per-rank batch side by side, against one of them
alone. No communication at all: what the cores give N processes at that moment, the most any
data-parallel run could scale then (on a 2-core VM it is well below 2); its runs take about
4 s of steps each, so that they overlap despite their staggered start. The one rank alone
at the per-rank batch also gives the per-rank batch bound: N x its images/s over the 1-rank
run's at the global batch, the scaling a run with free communication on N idle cores would
reach if every rank repeated the per-step work that does not shrink with the batch (the
optimizer, and the weight repacking, which the ranks of one host now share: so the data-
parallel run can pass this figure). Prints images/s, the N-rank scaling (N-rank images/s
over 1-rank images/s) of both, snnc over DDP at N ranks, snnc's communication wait per step
and its whole communication time per step (wait, scaling the buckets and the time inside MPI
between steps, where the sums move); --results appends the table to bench/RESULTS.md with
the machine, date and command.

usage: python3 bench/dist_vs_ddp.py [--snnc build/snnc] [--ranks 2] [--threads 1]
          [--batch 64] [--steps 8] [--rounds 3] [--models vgg16_cifar10,vgg16_narrow_cifar10]
          [--data ../shared/data/cifar-10-batches-bin] [--results bench/RESULTS.md]
          [--no-ceiling]
Needs mpirun (openmpi-bin) and Debian's python3-torch (1.13) for the peer.
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "golden"))

MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]


def snnc_run(snnc, model, data, ranks, threads, batch, steps, work):
    out = os.path.join(work, f"{model}-{ranks}x{threads}")
    shutil.rmtree(out, ignore_errors=True)  # the previous round's
    cmd = [snnc, "train", os.path.join(ROOT, "models", model + ".yaml"), "--data", data,
           "--steps", str(steps), "--batch", str(batch), "--threads", str(threads),
           "--limit-test", str(batch), "--quiet", "--out", out]
    if ranks > 1:
        cmd = MPIRUN + ["-np", str(ranks)] + cmd
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    end = None
    with open(os.path.join(out, "log.jsonl")) as f:
        for line in f:
            e = json.loads(line)
            if e["event"] == "end":
                end = e
    timed = end["steps_timed"] - 1
    secs = end["step_seconds"] - end["first_step_seconds"]
    return {"ips": batch * timed / secs,
            "wait": end.get("comm_wait_s_per_step", 0.0),
            "bucket_wait": end.get("bucket_wait_s_per_step", 0.0),
            # the rank's own time on communication: waiting, scaling the
            # buckets, and inside MPI between the steps (where the sums move and add)
            "comm": end.get("comm_wait_s_per_step", 0.0) + end.get("comm_copy_s_per_step", 0.0)
            + end.get("comm_progress_s_per_step", 0.0),
            "step_s": secs / timed}


def ceiling_run(snnc, model, data, ranks, threads, batch, steps, work):
    """What the machine gives N processes at all: N independent single-process runs at the
    per-rank batch, side by side, against one of them alone (no communication at all)."""
    per = batch // ranks
    alone = snnc_run(snnc, model, data, 1, threads, per, steps, work)["ips"]
    res = [None] * ranks

    def go(i):
        w = os.path.join(work, f"indep{i}")
        os.makedirs(w, exist_ok=True)
        res[i] = snnc_run(snnc, model, data, 1, threads, per, steps, w)["ips"]

    ts = [threading.Thread(target=go, args=(i,)) for i in range(ranks)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(res) / alone, alone


TORCH_WORKER = r'''
import os, sys, time, json
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2])
import torch, torch.distributed as dist
import make_torch_golden as mtg
model, batch, steps, threads = sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
recipe = json.loads(sys.argv[7])
import cpu_vs_torch as cvt
rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
torch.set_num_threads(threads)
torch.manual_seed(0)
m = mtg.ALL[model]()
m.train()
if world > 1:
    dist.init_process_group("gloo", rank=rank, world_size=world)
    m = torch.nn.parallel.DistributedDataParallel(m)
local = batch // world + (1 if rank < batch % world else 0)
shape = mtg.INPUT.get(model) or mtg.INPUT[model.split("_")[-1]]
g = torch.Generator().manual_seed(rank)
x = torch.rand(local, *shape, generator=g)
y = torch.randint(0, 10, (local,), generator=g)
opt = cvt.make_optimizer(m.parameters(), recipe)  # the recipe's SGD or Adam, as bench/cpu_vs_torch.py
loss_fn = torch.nn.CrossEntropyLoss()
def step():
    opt.zero_grad()
    loss_fn(m(x), y).backward()
    opt.step()
for _ in range(2):
    step()
if world > 1:
    dist.barrier()
t0 = time.perf_counter()
for _ in range(steps):
    step()
if world > 1:
    dist.barrier()
dt = time.perf_counter() - t0
if rank == 0:
    print(json.dumps({"ips": batch * steps / dt, "version": torch.__version__}))
if world > 1:
    dist.destroy_process_group()
'''


def torch_run(model, ranks, threads, batch, steps, recipe, work, port):
    script = os.path.join(work, "ddp_worker.py")
    with open(script, "w") as f:
        f.write(TORCH_WORKER)
    args = [sys.executable, script, HERE, os.path.join(ROOT, "tests", "golden"), model,
            str(batch), str(steps), str(threads), json.dumps(recipe)]
    procs = []
    for r in range(ranks):
        env = dict(os.environ, RANK=str(r), WORLD_SIZE=str(ranks), MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port), OMP_NUM_THREADS=str(threads))
        procs.append(subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True))
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError(f"torch {model} x{ranks} failed")
    return json.loads(outs[0].strip().splitlines()[-1])


def main():
    import cpu_vs_torch as cvt
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--snnc", default=os.path.join(ROOT, "build", "snnc"))
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="threads per rank")
    ap.add_argument("--batch", type=int, default=64, help="global batch")
    ap.add_argument("--steps", type=int, default=8, help="timed steps (after warm-up)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved repetitions (best kept)")
    ap.add_argument("--models", default="vgg16_cifar10,vgg16_narrow_cifar10")
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data",
                                                    "cifar-10-batches-bin"))
    ap.add_argument("--results", default=None, help="append the table to this markdown file")
    ap.add_argument("--no-ceiling", dest="ceiling", action="store_false",
                    help="skip the control: N independent processes side by side against one, "
                         "the most any data-parallel run could scale on this machine now")
    args = ap.parse_args()
    if shutil.which("mpirun") is None:
        sys.exit("needs mpirun (apt-get install openmpi-bin)")
    work = tempfile.mkdtemp(prefix="snnc-dist-bench-")
    rows, tv = [], None
    try:
        for i, model in enumerate(args.models.split(",")):
            rec = cvt.recipe(args.snnc, model)
            s1 = sn = t1 = tn = None
            ceil, alone = 0.0, 0.0
            for rnd in range(args.rounds):
                a = snnc_run(args.snnc, model, args.data, 1, args.threads, args.batch,
                             args.steps + 1, work)
                b = snnc_run(args.snnc, model, args.data, args.ranks, args.threads, args.batch,
                             args.steps + 1, work)
                port = 29500 + 4 * (i * args.rounds + rnd)
                c = torch_run(model, 1, args.threads, args.batch, args.steps, rec, work, port)
                d = torch_run(model, args.ranks, args.threads, args.batch, args.steps, rec, work,
                              port + 1)
                if args.ceiling:
                    # long enough (about 4 s of steps) that the side-by-side runs overlap for
                    # nearly all of their timed steps despite their staggered start-up (with
                    # the steps of the other runs, a short one shows more than N x one)
                    csteps = max(args.steps + 1, int(4.0 / max(a["step_s"] / args.ranks, 1e-3)))
                    cr, al = ceiling_run(args.snnc, model, args.data, args.ranks, args.threads,
                                         args.batch, csteps, work)
                    ceil, alone = max(ceil, cr), max(alone, al)
                s1 = a if s1 is None or a["ips"] > s1["ips"] else s1
                sn = b if sn is None or b["ips"] > sn["ips"] else sn
                t1 = c if t1 is None or c["ips"] > t1["ips"] else t1
                tn = d if tn is None or d["ips"] > tn["ips"] else tn
                print(f"  {model} round {rnd + 1}: snnc {a['ips']:.1f} / {b['ips']:.1f}, "
                      f"DDP {c['ips']:.1f} / {d['ips']:.1f} img/s", flush=True)
            tv = t1["version"]
            # the scaling the per-rank batch alone allows: N ranks' worth of one rank at
            # batch B/N (the per-step work that does not shrink with it, such as weight
            # repacking and the optimizer, stays whole on every rank)
            bound = args.ranks * alone / s1["ips"] if alone else 0.0
            rows.append((model, s1, sn, t1["ips"], tn["ips"], ceil, bound))
            print(f"{model}: snnc {s1['ips']:.1f} -> {sn['ips']:.1f} img/s "
                  f"({sn['ips'] / s1['ips']:.2f}x, waits {1000 * sn['wait']:.1f} ms/step, "
                  f"communication {1000 * sn['comm']:.1f} ms of a {1000 * sn['step_s']:.1f} ms "
                  f"step); "
                  f"DDP {t1['ips']:.1f} -> {tn['ips']:.1f} img/s ({tn['ips'] / t1['ips']:.2f}x); "
                  f"snnc/DDP at {args.ranks} ranks {sn['ips'] / tn['ips']:.2f}x; {args.ranks} "
                  f"independent processes {ceil:.2f}x one; per-rank batch bound {bound:.2f}x",
                  flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n, t = args.ranks, args.threads
    head = (f"| model | snnc 1x{t} img/s | snnc {n}x{t} img/s | snnc scaling | snnc wait ms/step "
            f"(buckets) | snnc communication ms / step ms | DDP 1x{t} img/s | DDP {n}x{t} img/s | "
            f"DDP scaling | snnc/DDP at {n}x{t} | {n} independent processes / 1 | "
            f"per-rank batch bound |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    body = "".join(
        f"| {m} | {a['ips']:.1f} | {b['ips']:.1f} | **{b['ips'] / a['ips']:.2f}x** | "
        f"{1000 * b['wait']:.1f} ({1000 * b['bucket_wait']:.1f}) | "
        f"{1000 * b['comm']:.1f} / {1000 * b['step_s']:.1f} | {c:.1f} | {d:.1f} | "
        f"{d / c:.2f}x | **{b['ips'] / d:.2f}x** | {e:.2f}x | {f:.2f}x |\n"
        for m, a, b, c, d, e, f in rows)
    table = head + body
    print()
    print(table)
    if args.results:
        cmd = "python3 bench/dist_vs_ddp.py " + " ".join(sys.argv[1:])
        with open(args.results, "a") as f:
            f.write(f"\n### Data-parallel training, {n} ranks x {t} threads vs 1 x {t}, global "
                    f"batch {args.batch} — {datetime.date.today().isoformat()}\n\n")
            f.write(f"Machine: {cvt.cpu_name()}, {os.cpu_count()} cores; snnc over Open MPI "
                    f"(mpirun, one host), PyTorch {tv} DistributedDataParallel with gloo; best "
                    f"of {args.rounds} interleaved rounds of {args.steps} timed steps. "
                    f"Command: `{cmd}`\n\n")
            f.write(table)


if __name__ == "__main__":
    main()
