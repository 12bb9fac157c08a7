"""minidl against PyTorch on the CPU, like for like: one training step per workload, timed side by side.

    python benchmarks/run.py            # the workloads, a table with spreads, and benchmarks/results.json
    python benchmarks/run.py --book     # also a cold full build of the book and a no-change rebuild

Each workload is built ONCE, from a function that takes a layer namespace (``minidl.nn`` or
``torch.nn``), so both libraries run the same model from the same layer classes, shapes, masks and
losses; PyTorch's fused ``TransformerEncoderLayer`` appears only on a row labelled as such. A step is
a forward pass, a backward pass and an optimizer step in float32. The two libraries alternate step by
step in one process, in several rounds; the table gives the median step times, the median ratio
minidl/PyTorch over the rounds and its spread (lowest and highest round), the thread count, the BLAS
library and kernel NumPy uses (threadpoolctl), and a plain float32 matrix multiply as the roof.

``OPENBLAS_CORETYPE`` (and ``OPENBLAS_L2_SIZE``) set in a shell make NumPy's OpenBLAS pick another
kernel than it would choose for the machine; the script runs itself again without them, so that the
kernel is the one a reader's machine would get.

Two thread pools share the cores of one process: PyTorch's OpenMP threads spin for a while after each
parallel region by default, and in an alternating benchmark that spinning takes the cores NumPy's
BLAS threads need in the next minidl step (and the other way round), which made both libraries'
times swing by 2x from round to round. The script therefore runs with ``OMP_WAIT_POLICY=PASSIVE``, so
that an idle pool sleeps; it sets it by running itself again when the shell has not.
"""

import os
import sys

_KERNEL_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if any(name in os.environ for name in _KERNEL_OVERRIDES) or os.environ.get("OMP_WAIT_POLICY") != "PASSIVE":
    # before NumPy loads OpenBLAS and PyTorch starts its OpenMP threads
    environment = {k: v for k, v in os.environ.items() if k not in _KERNEL_OVERRIDES}
    os.execve(sys.executable, [sys.executable, *sys.argv], {**environment, "OMP_WAIT_POLICY": "PASSIVE"})

import argparse  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

import minidl  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The most minidl's step may take, as a multiple of PyTorch's (None: measured, no target).
TARGETS = {"MLP": 0.9, "CNN": 1.5, "LSTM": 1.2, "Transformer block": 1.0, "RL-sized MLP": 0.6, "Decoder": 1.5,
           "GPT": None, "Transformer block (PyTorch's fused layer)": None}


def matmul_gflops(size=1024, repeats=10):
    """GFLOP/s of one float32 NumPy matrix multiply: the roof a NumPy framework can reach."""
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    a @ a
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


# ---- workloads: each takes a library (minidl or torch) and returns (model, optimizer, x, y, loss) ----------
def mlp(lib):
    rng = np.random.default_rng(0)
    n = lib.nn
    model = n.Sequential(n.Linear(784, 256), n.ReLU(), n.Linear(256, 128), n.ReLU(), n.Linear(128, 10))
    x, y = rng.standard_normal((128, 784), dtype=np.float32), rng.integers(0, 10, 128)
    flops = 2 * 128 * (784 * 256 + 256 * 128 + 128 * 10)
    return model, lib.optim.SGD(model.parameters(), lr=0.01), x, y, lib.nn.functional.cross_entropy, flops


def cnn(lib):
    rng = np.random.default_rng(0)
    n = lib.nn
    model = n.Sequential(n.Conv2d(1, 16, 3, padding=1), n.ReLU(), n.MaxPool2d(2),
                         n.Conv2d(16, 32, 3, padding=1), n.ReLU(), n.MaxPool2d(2),
                         n.Flatten(), n.Linear(32 * 7 * 7, 10))
    x, y = rng.standard_normal((64, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 64)
    flops = 2 * 64 * (28 * 28 * 16 * 9 + 14 * 14 * 32 * 16 * 9 + 32 * 7 * 7 * 10)
    return model, lib.optim.Adam(model.parameters(), lr=1e-3), x, y, lib.nn.functional.cross_entropy, flops


def lstm(lib):
    vocabulary, embedding, hidden, length, batch = 83, 64, 256, 100, 32
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, vocabulary, (batch, length + 1))
    n = lib.nn

    class LanguageModel(n.Module):
        def __init__(self):
            super().__init__()
            self.embedding = n.Embedding(vocabulary, embedding)
            self.lstm = n.LSTM(embedding, hidden, batch_first=True)
            self.head = n.Linear(hidden, vocabulary)

        def forward(self, tokens):
            output, _ = self.lstm(self.embedding(tokens))
            return self.head(output).reshape(-1, vocabulary)

    model = LanguageModel()
    flops = 2 * batch * length * (4 * hidden * (embedding + hidden) + hidden * vocabulary)
    return (model, lib.optim.Adam(model.parameters(), lr=1e-3), tokens[:, :-1], tokens[:, 1:].reshape(-1),
            lib.nn.functional.cross_entropy, flops)


def _block_class(lib):
    """A pre-norm transformer block from MultiheadAttention, LayerNorm and Linear, as minidl builds its own."""
    n, F = lib.nn, lib.nn.functional

    class Block(n.Module):
        def __init__(self, width, heads):
            super().__init__()
            self.norm1, self.norm2 = n.LayerNorm(width), n.LayerNorm(width)
            self.self_attn = n.MultiheadAttention(width, heads, batch_first=True)
            self.linear1, self.linear2 = n.Linear(width, 4 * width), n.Linear(4 * width, width)

        def forward(self, x, mask):
            h = self.norm1(x)
            x = x + self.self_attn(h, h, h, attn_mask=mask, need_weights=False)[0]
            return x + self.linear2(F.gelu(self.linear1(self.norm2(x))))

    return Block


def _causal(lib, length):
    """The bool mask of causal attention, True where a query may NOT look (PyTorch's convention)."""
    return lib.tensor(np.triu(np.ones((length, length), dtype=bool), 1))


def _masked_block_workload(lib, layer, call):
    """A one-layer model ``call(layer, x, mask)`` under the causal mask, regressing random targets."""
    batch, length, width = 16, 128, 128
    rng = np.random.default_rng(0)
    mask = _causal(lib, length)

    class Causal(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = layer

        def forward(self, x):
            return call(self.layer, x, mask)

    model = Causal()
    x = rng.standard_normal((batch, length, width), dtype=np.float32)
    target = rng.standard_normal((batch, length, width), dtype=np.float32)
    flops = 2 * batch * length * (4 * width * width + 8 * width * width) + 4 * batch * length * length * width
    return model, lib.optim.Adam(model.parameters(), lr=1e-3), x, target, lib.nn.functional.mse_loss, flops


def transformer_block(lib):
    """The same pre-norm block in both libraries, built from MultiheadAttention, LayerNorm and Linear."""
    return _masked_block_workload(lib, _block_class(lib)(128, 4), lambda block, x, mask: block(x, mask))


def transformer_block_fused(lib):
    """PyTorch's TransformerEncoderLayer (its fused path) against minidl's TransformerBlock: labelled so."""
    if lib is minidl:
        layer = minidl.nn.TransformerBlock(128, 4, 4 * 128, norm_first=True, activation="gelu")
        return _masked_block_workload(lib, layer, lambda block, x, mask: block(x, attn_mask=mask))
    layer = lib.nn.TransformerEncoderLayer(128, 4, 4 * 128, dropout=0.0, batch_first=True, norm_first=True,
                                           activation="gelu")
    return _masked_block_workload(lib, layer, lambda block, x, mask: block(x, src_mask=mask))


def rl_mlp(lib):
    """The Q-network of the DQN chapter's size: per-operation overhead, not BLAS, sets its time."""
    rng = np.random.default_rng(0)
    n = lib.nn
    model = n.Sequential(n.Linear(4, 64), n.ReLU(), n.Linear(64, 64), n.ReLU(), n.Linear(64, 2))
    x, y = rng.standard_normal((32, 4), dtype=np.float32), rng.standard_normal((32, 2), dtype=np.float32)
    flops = 2 * 32 * (4 * 64 + 64 * 64 + 64 * 2)
    return model, lib.optim.Adam(model.parameters(), lr=1e-3), x, y, lib.nn.functional.mse_loss, flops


def decoder(lib):
    """A VAE or GAN decoder: a linear layer, then two transposed convolutions up to 28x28."""
    rng = np.random.default_rng(0)
    n = lib.nn
    model = n.Sequential(n.Linear(16, 32 * 7 * 7), n.ReLU(), n.Unflatten(1, (32, 7, 7)),
                         n.ConvTranspose2d(32, 16, 4, stride=2, padding=1), n.ReLU(),
                         n.ConvTranspose2d(16, 1, 4, stride=2, padding=1))
    x = rng.standard_normal((64, 16), dtype=np.float32)
    y = (rng.random((64, 1, 28, 28)) > 0.5).astype(np.float32)
    flops = 2 * 64 * (16 * 32 * 49 + 14 * 14 * 16 * 32 * 16 + 28 * 28 * 16 * 16)
    return (model, lib.optim.Adam(model.parameters(), lr=1e-3), x, y,
            lib.nn.functional.binary_cross_entropy_with_logits, flops)


def gpt(lib):
    """The language-model chapter's size: 2 pre-norm blocks of width 64, 4 heads, context 32, characters."""
    vocabulary, width, heads, layers, length, batch = 96, 64, 4, 2, 32, 32
    rng = np.random.default_rng(0)
    n, Block = lib.nn, _block_class(lib)
    mask = _causal(lib, length)

    class GPT(n.Module):
        def __init__(self):
            super().__init__()
            self.token, self.position = n.Embedding(vocabulary, width), n.Embedding(length, width)
            self.blocks = n.ModuleList([Block(width, heads) for _ in range(layers)])
            self.norm, self.head = n.LayerNorm(width), n.Linear(width, vocabulary)

        def forward(self, tokens):
            x = self.token(tokens) + self.position(positions)
            for block in self.blocks:
                x = block(x, mask)
            return self.head(self.norm(x)).reshape(-1, vocabulary)

    positions = lib.tensor(np.arange(length))
    model = GPT()
    tokens = rng.integers(0, vocabulary, (batch, length + 1))
    flops = layers * (2 * batch * length * 12 * width * width + 4 * batch * length * length * width)
    flops += 2 * batch * length * width * vocabulary
    return (model, lib.optim.Adam(model.parameters(), lr=1e-3), tokens[:, :-1], tokens[:, 1:].reshape(-1),
            lib.nn.functional.cross_entropy, flops)


# The dense workloads' batch and layer widths: their step is a handful of matrix products, so it can be
# compared with those products alone in plain NumPy (the roofline of the speed page).
DENSE = {"MLP": (128, (784, 256, 128, 10)), "RL-sized MLP": (32, (4, 64, 64, 2))}


def dense_step_flops(batch, widths):
    """FLOPs of the matrix products of one training step of a dense network (2 per multiply-add):
    forward x W^T and backward g^T x for every layer, backward g W for all but the first (whose input
    needs no gradient). The elementwise work (bias, ReLU, loss, update) is O(batch x width), left out."""
    layers = list(zip(widths, widths[1:]))
    forward = sum(2 * batch * n_in * n_out for n_in, n_out in layers)
    first_in, first_out = layers[0]
    return 3 * forward - 2 * batch * first_in * first_out


def dense_matmul_floor(batch, widths, repeats):
    """Median seconds of those matrix products alone, in NumPy at the step's shapes: the time no
    NumPy framework can go below, since it must call the same BLAS on the same operands."""
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((n_out, n_in), dtype=np.float32) for n_in, n_out in zip(widths, widths[1:])]
    activations = [rng.standard_normal((batch, n), dtype=np.float32) for n in widths]

    def products():
        for layer, weight in enumerate(weights):
            activations[layer] @ weight.T
        for layer in reversed(range(len(weights))):
            upstream = activations[layer + 1]
            upstream.T @ activations[layer]
            if layer:
                upstream @ weights[layer]

    for _ in range(3):
        products()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        products()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


WORKLOADS = {  # name -> (builder, steps per round)
    "MLP": (mlp, 40), "CNN": (cnn, 8), "LSTM": (lstm, 3), "Transformer block": (transformer_block, 4),
    "RL-sized MLP": (rl_mlp, 200), "Decoder": (decoder, 10), "GPT": (gpt, 10),
    "Transformer block (PyTorch's fused layer)": (transformer_block_fused, 4),
}


def stepper(lib, built):
    model, optimizer, x, y, loss_fn, _ = built
    x, y = lib.tensor(x), lib.tensor(y)

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()

    return step


def time_rounds(our_step, their_step, steps, rounds):
    """Median step time of each library in each round, the two alternating step by step."""
    for _ in range(2):
        our_step()
        their_step()
    ours, theirs = [], []
    for _ in range(rounds):
        a, b = [], []
        for _ in range(steps):
            start = time.perf_counter()
            our_step()
            a.append(time.perf_counter() - start)
            start = time.perf_counter()
            their_step()
            b.append(time.perf_counter() - start)
        ours.append(statistics.median(a))
        theirs.append(statistics.median(b))
    return ours, theirs


def blas_description():
    """The BLAS library NumPy calls and the kernel it chose (threadpoolctl)."""
    found = [info for info in threadpool_info() if info.get("user_api") == "blas"
             and "numpy" in (info.get("filepath") or "")] or [info for info in threadpool_info()
                                                             if info.get("user_api") == "blas"]
    if not found:
        return "unknown"
    info = found[0]
    return f"{info.get('internal_api')} {info.get('version')} ({info.get('architecture', 'kernel unknown')})"


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
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per workload (default 5)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="threads for both libraries (default: every core)")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results.json"))
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is needed as the reference: pip install torch==2.13.0 (a CPU build)")
    torch.set_num_threads(args.threads)
    rows, load_before = [], os.getloadavg()[0]
    with threadpool_limits(limits=args.threads, user_api="blas"):
        ceiling = matmul_gflops()
        for name, (workload, steps) in WORKLOADS.items():
            if args.only and name not in args.only:
                continue
            minidl.manual_seed(0)
            torch.manual_seed(0)
            ours_built, theirs_built = workload(minidl), workload(torch)
            ours, theirs = time_rounds(stepper(minidl, ours_built), stepper(torch, theirs_built), steps, args.rounds)
            ratios = [a / b for a, b in zip(ours, theirs)]
            ratio, target = statistics.median(ratios), TARGETS[name]
            our_ms = statistics.median(ours) * 1e3
            rows.append(dict(workload=name, minidl_ms=our_ms, torch_ms=statistics.median(theirs) * 1e3,
                             ratio=ratio, ratio_low=min(ratios), ratio_high=max(ratios), target=target,
                             met=None if target is None else ratio <= target,
                             minidl_gflops=3 * ours_built[-1] / (our_ms / 1e3) / 1e9))
            if name in DENSE:
                batch, widths = DENSE[name]
                rows[-1]["step_flops"] = dense_step_flops(batch, widths)
                rows[-1]["matmul_floor_ms"] = dense_matmul_floor(batch, widths, 10 * steps * args.rounds) * 1e3
            print(f"{name}: {ratio:.2f} ({min(ratios):.2f}-{max(ratios):.2f})", flush=True)
    blas = blas_description()
    for row in rows:
        if "matmul_floor_ms" in row:
            print(f"{row['workload']}: {row['step_flops'] / 1e6:.1f} MFLOP a step; its matrix products alone take "
                  f"{row['matmul_floor_ms']:.3f} ms in NumPy ({row['step_flops'] / ceiling / 1e6:.3f} ms at the roof)")
    print(f"load average (1 min) {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(f"\nCPU: {platform.processor() or platform.machine()}, {args.threads} threads "
          f"(OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}), {args.rounds} rounds; "
          f"NumPy BLAS: {blas}; float32 matmul roof: {ceiling:.1f} GFLOP/s\n")
    print(f"{'workload':<42} {'minidl ms':>10} {'torch ms':>10} {'ratio':>6} {'spread':>11} {'target':>7} {'GFLOP/s':>8}")
    for row in rows:
        flag = "" if row["met"] in (True, None) else "  <- target missed"
        target = "-" if row["target"] is None else f"{row['target']:.1f}"
        spread = f"{row['ratio_low']:.2f}-{row['ratio_high']:.2f}"
        print(f"{row['workload']:<42} {row['minidl_ms']:>10.2f} {row['torch_ms']:>10.2f} {row['ratio']:>6.2f} "
              f"{spread:>11} {target:>7} {row['minidl_gflops']:>8.1f}{flag}")
    machine = f"{platform.machine()} with {os.cpu_count()} cores ({platform.system()})"
    results = dict(machine=machine, date=time.strftime("%Y-%m-%d"), threads=args.threads, rounds=args.rounds,
                   omp_wait_policy=os.environ["OMP_WAIT_POLICY"],
                   blas=blas, matmul_gflops=ceiling, workloads=rows,
                   load_average=dict(before=load_before, after=os.getloadavg()[0]),
                   numpy=np.__version__, torch=torch.__version__, python=platform.python_version())
    output = pathlib.Path(args.output)
    if args.book:
        results["book"] = book_build_times()
        print(f"\nbook: cold build {results['book']['cold build']:.0f} s, "
              f"no-change rebuild {results['book']['no-change rebuild']:.1f} s")
        for chapter, seconds in sorted(results["book"]["chapters"].items()):
            print(f"  {chapter:<28} {seconds if seconds is None else round(seconds, 1)} s")
    output.write_text(json.dumps(results, indent=2) + "\n")  # the book's benchmark page reads it
    print(f"\nwritten to {output}")


if __name__ == "__main__":
    main()
