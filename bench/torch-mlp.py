"""PyTorch's CPU time for bench/mlp.ts's train step: the native reference row of `npm run bench`.

Reads a JSON list of jobs ({"kind": "sgd" | "adam" | "adam-dropout-clip", "batch": N,
"threads": N}) on standard input and prints one JSON object per job: the median milliseconds per
step over timed windows after warm-up, timed the way bench/timing.ts times the JavaScript sides
(a window runs some steps, then reads the last loss back with .item()).

    echo '[{"kind": "adam", "batch": 128, "threads": 1}]' | python3 bench/torch-mlp.py
"""
import json
import re
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

LAYERS = (784, 256, 256, 10)
BATCHES = 4
WARMUP = 5
WINDOWS = 15
WINDOW_MS = 40.0
BUDGET_S = 6.0


def model_for(kind):
    drop = kind == "adam-dropout-clip"
    layers = []
    for i in range(2):
        layers += [nn.Linear(LAYERS[i], LAYERS[i + 1]), nn.ReLU()]
        if drop:
            layers.append(nn.Dropout(0.2))
    layers.append(nn.Linear(LAYERS[2], LAYERS[3]))
    return nn.Sequential(*layers)


def run(job):
    torch.manual_seed(1)
    torch.set_num_threads(job["threads"])
    kind, batch = job["kind"], job["batch"]
    model = model_for(kind)
    model.train()
    if kind == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    xs = [torch.rand(batch, LAYERS[0]) for _ in range(BATCHES)]
    ys = [torch.randint(0, LAYERS[-1], (batch,)) for _ in range(BATCHES)]

    def step(i):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xs[i % BATCHES]), ys[i % BATCHES])
        loss.backward()
        if kind == "adam-dropout-clip":
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    i = 0
    t0 = time.perf_counter()
    for _ in range(WARMUP):
        step(i).item()
        i += 1
    per_step = (time.perf_counter() - t0) * 1000 / WARMUP
    per_window = max(1, round(WINDOW_MS / max(per_step, 1e-3)))
    windows = []
    spent = 0.0
    while len(windows) < WINDOWS and (len(windows) < 3 or spent < BUDGET_S):
        t0 = time.perf_counter()
        for _ in range(per_window):
            loss = step(i)
            i += 1
        loss.item()
        dt = time.perf_counter() - t0
        spent += dt
        windows.append(dt * 1000 / per_window)
    return {**job, "medianMs": statistics.median(windows), "windowsMs": windows, "perWindow": per_window}


def matmul_gflops(n):
    """torch.mm of two n×n float32 matrices on one thread: the BLAS the build links, in GFLOP/s."""
    torch.set_num_threads(1)
    a = torch.rand(n, n)
    b = torch.rand(n, n)
    for _ in range(2):
        torch.mm(a, b)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times) / 1e9


def main():
    jobs = json.load(sys.stdin)
    default = torch.get_num_threads()
    config = torch.__config__.show()
    blas = re.search(r"BLAS_INFO=(\w+)", config)
    capability = re.search(r"CPU capability usage: (\w+)", config)
    head = {
        "torch": torch.__version__,
        "defaultThreads": default,
        "blas": blas.group(1) if blas else "unknown",
        "capability": capability.group(1) if capability else "unknown",
        "matmul1024Gflops": matmul_gflops(1024),
    }
    torch.set_num_threads(default)
    print(json.dumps(head), flush=True)
    for job in jobs:
        print(json.dumps(run(job)), flush=True)


if __name__ == "__main__":
    main()
