"""minidl against PyTorch on the CPU: one full training step per workload, timed side by side.

    python benchmarks/run.py            # the four workloads, a table, and benchmarks/results.json
    python benchmarks/run.py --book     # also a cold full build of the book and a no-change rebuild

Each workload is a forward pass, a backward pass and an optimizer step in float32. minidl and PyTorch
(same thread count) alternate step by step in one process, so the machine's drift hits both alike;
the table reports medians, the ratio minidl/PyTorch, and minidl's achieved GFLOP/s against a plain
matrix multiply measured in the same run (the practical ceiling of this CPU).
"""

import argparse
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import minidl
import minidl.nn as nn

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGETS = {"MLP": 1.0, "CNN": 2.0, "LSTM": 1.5, "Transformer block": 1.5}


def matmul_gflops(size=1024, repeats=10):
    """GFLOP/s of one float32 NumPy matrix multiply: the ceiling a NumPy framework can reach."""
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    a @ a
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


# ---- workloads: each returns (minidl step, torch step, forward FLOPs) ---------------------------
def mlp(torch):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((128, 784), dtype=np.float32), rng.integers(0, 10, 128)
    sizes = [784, 256, 128, 10]
    ours = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    theirs = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                                 torch.nn.ReLU(), torch.nn.Linear(128, 10))
    flops = sum(2 * 128 * a * b for a, b in zip(sizes, sizes[1:]))
    return _steps(torch, ours, theirs, minidl.optim.SGD, torch.optim.SGD, dict(lr=0.01), x, y,
                  nn.functional.cross_entropy), flops


def cnn(torch):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 64)

    def build(n):
        return n.Sequential(n.Conv2d(1, 16, 3, padding=1), n.ReLU(), n.MaxPool2d(2),
                            n.Conv2d(16, 32, 3, padding=1), n.ReLU(), n.MaxPool2d(2),
                            n.Flatten(), n.Linear(32 * 7 * 7, 10))

    flops = 2 * 64 * (28 * 28 * 16 * 9 + 14 * 14 * 32 * 16 * 9 + 32 * 7 * 7 * 10)
    return _steps(torch, build(nn), build(torch.nn), minidl.optim.Adam, torch.optim.Adam, dict(lr=1e-3), x, y,
                  nn.functional.cross_entropy), flops


def lstm(torch):
    vocabulary, embedding, hidden, length, batch = 83, 64, 256, 100, 32
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, vocabulary, (batch, length + 1))
    x, y = tokens[:, :-1], tokens[:, 1:].reshape(-1)

    def build(n):
        class LanguageModel(n.Module):
            def __init__(self):
                super().__init__()
                self.embedding = n.Embedding(vocabulary, embedding)
                self.lstm = n.LSTM(embedding, hidden, batch_first=True)
                self.head = n.Linear(hidden, vocabulary)

            def forward(self, tokens):
                output, _ = self.lstm(self.embedding(tokens))
                return self.head(output).reshape(-1, vocabulary)

        return LanguageModel()

    flops = 2 * batch * length * (4 * hidden * (embedding + hidden) + hidden * vocabulary)
    return _steps(torch, build(nn), build(torch.nn), minidl.optim.Adam, torch.optim.Adam, dict(lr=1e-3), x, y,
                  nn.functional.cross_entropy), flops


def transformer_block(torch):
    batch, length, width, heads = 16, 128, 128, 4
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, length, width), dtype=np.float32)
    target = rng.standard_normal((batch, length, width), dtype=np.float32)
    ours = nn.TransformerBlock(width, heads, 4 * width, norm_first=True)
    theirs = torch.nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, batch_first=True,
                                              norm_first=True, activation="gelu")
    mask = torch.nn.Transformer.generate_square_subsequent_mask(length)

    class Causal(torch.nn.Module):
        def __init__(self, layer):
            super().__init__()
            self.layer = layer

        def forward(self, inputs):
            return self.layer(inputs, src_mask=mask, is_causal=True)

    flops = 2 * batch * length * (4 * width * width + 2 * width * 4 * width) + 2 * 2 * batch * length * length * width
    return _steps(torch, _CausalMinidl(ours), Causal(theirs), minidl.optim.Adam, torch.optim.Adam, dict(lr=1e-3),
                  x, target, nn.functional.mse_loss), flops


class _CausalMinidl(nn.Module):
    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, inputs):
        return self.block(inputs, is_causal=True)


def _steps(torch, ours, theirs, our_optimizer, their_optimizer, options, x, y, loss_fn):
    our_opt, their_opt = our_optimizer(ours.parameters(), **options), their_optimizer(theirs.parameters(), **options)
    our_x, our_y = minidl.tensor(x), minidl.tensor(y)
    their_x, their_y = torch.tensor(x), torch.tensor(y)
    their_loss = getattr(torch.nn.functional, loss_fn.__name__)

    def our_step():
        our_opt.zero_grad()
        loss = loss_fn(ours(our_x), our_y)
        loss.backward()
        our_opt.step()

    def their_step():
        their_opt.zero_grad()
        loss = their_loss(theirs(their_x), their_y)
        loss.backward()
        their_opt.step()

    return our_step, their_step


def time_pair(our_step, their_step, warmup, steps):
    for _ in range(warmup):
        our_step()
        their_step()
    ours, theirs = [], []
    for _ in range(steps):
        start = time.perf_counter()
        our_step()
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        their_step()
        theirs.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(theirs)


WORKLOADS = {"MLP": (mlp, 100), "CNN": (cnn, 20), "LSTM": (lstm, 8), "Transformer block": (transformer_block, 10)}


def book_build_times():
    """A cold build (fresh copy, empty cache) and a no-change rebuild, with each chapter's time."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = pathlib.Path(scratch) / "book"
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("_build", ".git", ".venv", "__pycache__"))
        command = [str(pathlib.Path(sys.executable).with_name("jupyter-book")), "build", ".", "-q"]
        timings = {}
        for name in ("cold build", "no-change rebuild"):
            start = time.perf_counter()
            subprocess.run(command, cwd=copy, check=True, capture_output=True)
            timings[name] = time.perf_counter() - start
        timings["chapters"] = _chapter_times(copy)
    return timings


def _chapter_times(copy):
    from jupyter_cache import get_cache

    cache_dirs = sorted((copy / "_build" / ".jupyter_cache").glob("pkg-*"))
    if not cache_dirs:
        return {}
    cache = get_cache(cache_dirs[-1])
    times = {}
    for record in cache.list_cache_records():
        data = record.data or {}
        times[pathlib.Path(record.uri).stem] = data.get("execution_seconds")
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", action="store_true", help="also time a cold and a no-change book build")
    parser.add_argument("--only", nargs="*", help="workload names to run")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results.json"))
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is needed as the reference: pip install torch==2.13.0 (a CPU build)")
    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))
    torch.set_num_threads(threads)
    minidl.manual_seed(0)
    torch.manual_seed(0)
    ceiling = matmul_gflops()
    rows = []
    for name, (workload, steps) in WORKLOADS.items():
        if args.only and name not in args.only:
            continue
        try:
            (our_step, their_step), flops = workload(torch)
        except AttributeError as missing:
            print(f"{name}: skipped, minidl lacks a layer it needs ({missing})")
            continue
        ours, theirs = time_pair(our_step, their_step, warmup=3, steps=steps)
        gflops = 3 * flops / ours / 1e9  # forward + backward is about three forward passes
        ratio = ours / theirs
        rows.append(dict(workload=name, minidl_ms=ours * 1e3, torch_ms=theirs * 1e3, ratio=ratio,
                         target=TARGETS[name], met=ratio <= TARGETS[name], minidl_gflops=gflops))
    print(f"\nCPU: {platform.processor() or platform.machine()}, {threads} threads; "
          f"NumPy float32 matmul ceiling: {ceiling:.1f} GFLOP/s\n")
    print(f"{'workload':<18} {'minidl ms':>10} {'torch ms':>10} {'ratio':>7} {'target':>7} {'GFLOP/s':>8}")
    for row in rows:
        flag = "" if row["met"] else "  <- target missed"
        print(f"{row['workload']:<18} {row['minidl_ms']:>10.2f} {row['torch_ms']:>10.2f} {row['ratio']:>7.2f} "
              f"{row['target']:>7.1f} {row['minidl_gflops']:>8.1f}{flag}")
    machine = f"{platform.machine()} with {os.cpu_count()} cores ({platform.system()})"
    results = dict(machine=machine, date=time.strftime("%Y-%m-%d"), threads=threads, matmul_gflops=ceiling,
                   workloads=rows,
                   numpy=np.__version__, torch=torch.__version__, python=platform.python_version())
    output = pathlib.Path(args.output)
    output.write_text(json.dumps(results, indent=2) + "\n")  # the book's benchmark page reads it
    if args.book:
        results["book"] = book_build_times()
        print(f"\nbook: cold build {results['book']['cold build']:.0f} s, "
              f"no-change rebuild {results['book']['no-change rebuild']:.1f} s")
        for chapter, seconds in sorted(results["book"]["chapters"].items()):
            print(f"  {chapter:<28} {seconds if seconds is None else round(seconds, 1)} s")
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {output}")


if __name__ == "__main__":
    main()
