"""Writes N small, varied pickles (stdlib only) for the sandbox benchmark.

Usage: gen_inputs.py OUTDIR [N]   (default N = 10000; deterministic)"""
import collections
import os
import pickle
import random
import sys


def sample(rng, i):
    kind = i % 6
    if kind == 0:
        return {"weight": [rng.random() for _ in range(rng.randint(1, 40))], "step": i}
    if kind == 1:
        return collections.OrderedDict((f"layer{k}.bias", rng.randint(0, 1 << 30)) for k in range(rng.randint(1, 20)))
    if kind == 2:
        return [("name", "x" * rng.randint(1, 200)), (1, 2.5, None, True), b"\x00" * rng.randint(0, 64)]
    if kind == 3:
        return {"config": {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8}, "epoch": i, "tags": {"a", "b"}}
    if kind == 4:
        return [list(range(rng.randint(1, 50))), frozenset(range(5)), bytearray(b"abc")]
    return {"nested": [[{"k": j} for j in range(rng.randint(1, 8))] for _ in range(3)]}


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    os.makedirs(out, exist_ok=True)
    rng = random.Random(1234)
    total = 0
    for i in range(n):
        data = pickle.dumps(sample(rng, i), protocol=i % 6)
        total += len(data)
        with open(os.path.join(out, f"p{i:05d}.pkl"), "wb") as f:
            f.write(data)
    print(f"{n} pickles, {total / n:.0f} bytes on average, in {out}")


if __name__ == "__main__":
    main()
