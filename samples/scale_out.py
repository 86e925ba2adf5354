"""Train logistic regression on more data than the cluster's memory, with the
gradient ad_compiler emits, on Dask (docs/scaling.md).

The model is one plain NumPy function, ``loss`` below.  Called with Dask
arrays, its emitted gradient builds a Dask graph instead of computing; the
cluster computes it chunk by chunk, so the data never has to fit in memory.
The parameters stay small NumPy arrays, updated by plain gradient descent in
this process (the loss's curvature is about 0.2 along each direction of these
standardised features: a step of 4 is short of twice its inverse).

The data (``--rows`` rows of 10 features, 4 GB of float64 by default, and
labels drawn from a known logistic model) is generated lazily with
``dask.array.random``: each chunk is made on a worker when a step needs it
and dropped after, so 4 GB streams through two workers of 1 GB each.  Each
step takes the gradient over one of ``--batches`` consecutive slices of the
rows; ``--epochs`` passes over all of them.

    python samples/scale_out.py                    # 4 GB, 2 local workers of 1 GB
    python samples/scale_out.py --rows 10_000_000  # less (or more) data
    python samples/scale_out.py --quick            # a tiny run (the test's)
    python samples/scale_out.py --address tcp://scheduler:8786   # a real cluster

It prints the loss at each step under a progress bar (tqdm if installed, else
Dask's own), the time and the peak memory of each worker, and writes a plot
of the loss (needs matplotlib).  Needs Dask: ``pip install "ad_compiler[dask]"``.
"""

import argparse
import resource
import sys
import time

import numpy as np

from ad_compiler import value_and_grad

FEATURES = 10
W_TRUE = np.linspace(-1.0, 1.0, FEATURES)  # the model the labels are drawn from
B_TRUE = 0.5


def loss(w, b, X, y):
    """Mean cross-entropy of logistic regression, log(1 + e^z) - y z with
    z = X w + b, written with np.logaddexp so that it never overflows."""
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z)


# value and gradient with respect to w and b: code emitted by ad_compiler; a
# call with Dask arrays compiles its lazy form (it builds a graph, computes nothing)
loss_and_grad = value_and_grad(loss, argnums=(0, 1))


def dataset(rows: int, chunk_rows: int, seed: int):
    """X (rows x FEATURES, standard normal) and labels y in {0, 1} drawn with
    P(y = 1) = sigmoid(X W_TRUE + B_TRUE): lazy Dask arrays, made by chunks."""
    import dask.array as da

    rng = da.random.default_rng(seed)
    X = rng.standard_normal(size=(rows, FEATURES), chunks=(chunk_rows, FEATURES))
    p = 1.0 / (1.0 + np.exp(-(X @ W_TRUE + B_TRUE)))
    y = (rng.random(rows, chunks=chunk_rows) < p).astype(float)
    return X, y


def batches(rows: int, chunk_rows: int, n: int) -> list[tuple[int, int]]:
    """``n`` consecutive slices of the rows, cut at chunk boundaries."""
    chunks = -(-rows // chunk_rows)
    n = min(n, chunks)
    cuts = [round(k * chunks / n) * chunk_rows for k in range(n)] + [rows]
    return [(lo, min(hi, rows)) for lo, hi in zip(cuts, cuts[1:])]


def _peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports it in kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train(client, args) -> list[float]:
    """Gradient descent steps on the batches; the loss of each step's batch."""
    from dask.distributed import progress

    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    X, y = dataset(args.rows, args.chunk_rows, args.seed)
    slices = batches(args.rows, args.chunk_rows, args.batches)
    params = (np.zeros(FEATURES), np.zeros(()))
    steps = [(e, s) for e in range(args.epochs) for s in slices]
    bar = tqdm(steps, desc="steps", unit="step") if tqdm else steps
    say = tqdm.write if tqdm else print
    losses = []
    for k, (epoch, (lo, hi)) in enumerate(bar):
        # the emitted gradient on Dask arrays: a graph, built in milliseconds
        value, grads = loss_and_grad(*params, X[lo:hi], y[lo:hi])
        futures = client.compute([value, *grads])  # the workers compute it
        if tqdm is None:
            progress(futures)  # Dask's own bar, for this step's tasks
        value, *grads = client.gather(futures)
        params = tuple(p - args.lr * g for p, g in zip(params, grads))
        losses.append(float(value))
        say(
            f"step {k + 1:3d} (epoch {epoch + 1}, rows {lo:,}-{hi:,}): loss {value:.6f}"
        )
    w, b = params
    say(f"w = {np.array2string(w, precision=3)}, b = {float(b):.3f}")
    say(
        f"(the labels were drawn with w = {np.array2string(W_TRUE, precision=3)}, b = {B_TRUE})"
    )
    return losses


def plot(losses: list[float], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no plot: matplotlib is not installed: pip install matplotlib")
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(1, len(losses) + 1), losses, marker="o")
    ax.set_xlabel("step (one batch of rows)")
    ax.set_ylabel("cross-entropy of the batch")
    ax.set_title("logistic regression on Dask, emitted gradient")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"loss plot: {path}")


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows",
        type=lambda s: int(s.replace("_", "")),
        default=50_000_000,
        help="rows of data (default 50,000,000: 4 GB of X)",
    )
    parser.add_argument(
        "--chunk-rows",
        type=int,
        default=500_000,
        help="rows per chunk (default 500,000: 40 MB)",
    )
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batches", type=int, default=10, help="steps per epoch")
    parser.add_argument(
        "--lr", type=float, default=4.0, help="the gradient descent step size"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--address",
        help="a running scheduler (tcp://host:8786) " "instead of a local cluster",
    )
    parser.add_argument("--workers", type=int, default=2, help="of the local cluster")
    parser.add_argument("--memory-limit", default="1GB", help="per local worker")
    parser.add_argument("--plot", default="scale_out_loss.png", help="the loss plot")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tiny run: 200,000 rows in chunks of 20,000",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.chunk_rows, args.batches = 200_000, 20_000, 4
    return args


def main(argv=None) -> int:
    args = parse(argv)
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        print(
            "this sample needs Dask and dask.distributed: "
            'pip install "ad_compiler[dask]"  (or: pip install "dask[array,distributed]")',
            file=sys.stderr,
        )
        return 2
    gb = args.rows * (FEATURES + 1) * 8 / 1e9
    start = time.perf_counter()
    if args.address:
        cluster, client = None, Client(args.address)
    else:
        cluster = LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=args.memory_limit,
            dashboard_address=None,
        )
        client = Client(cluster)
    try:
        workers = client.scheduler_info()["workers"]
        memory = sum(w["memory_limit"] for w in workers.values()) / 1e9
        print(
            f"{args.rows:,} rows x {FEATURES} features: {gb:.2f} GB of data, lazily made; "
            f"{len(workers)} workers with {memory:.2f} GB of memory in all"
        )
        losses = train(client, args)
        elapsed = time.perf_counter() - start
        peaks = client.run(_peak_rss_mb)
        print(
            f"time {elapsed:.1f} s; peak memory of each worker "
            + ", ".join(f"{mb:.0f} MB" for mb in peaks.values())
            + f"; of this process {_peak_rss_mb():.0f} MB"
        )
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    plot(losses, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
