"""Writes N small pickles (stdlib only, deterministic) for the pipeline
benchmark, spread over 100 directories so the walk has a tree to read:
OUTDIR/dNN/fNNNNN.pkl.  About 1 in 100 is a hand-written os.system REDUCE
(dangerous), the rest are ordinary data (dicts, lists, OrderedDict, sets).

Usage: gen_inputs.py OUTDIR [N]   (default N = 10000)"""
import collections
import os
import pickle
import random
import sys

DANGEROUS = b"cos\nsystem\n(S'echo pwned'\ntR."


def sample(rng, i):
    kind = i % 5
    if kind == 0:
        return {"weight": [rng.random() for _ in range(rng.randint(1, 40))], "step": i}
    if kind == 1:
        return collections.OrderedDict((f"layer{k}.bias", rng.randint(0, 1 << 30))
                                       for k in range(rng.randint(1, 20)))
    if kind == 2:
        return [("name", "x" * rng.randint(1, 200)), (1, 2.5, None, True), b"\0" * rng.randint(0, 64)]
    if kind == 3:
        return {"config": {"lr": 0.001, "betas": (0.9, 0.999)}, "epoch": i, "tags": {"a", "b"}}
    return {"nested": [[{"k": j} for j in range(rng.randint(1, 8))] for _ in range(3)]}


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    rng = random.Random(9)
    for i in range(n):
        d = os.path.join(out, "d%02d" % (i % 100))
        os.makedirs(d, exist_ok=True)
        if i % 100 == 99:
            data = DANGEROUS
        else:
            data = pickle.dumps(sample(rng, i), protocol=rng.choice((2, 4, 5)))
        with open(os.path.join(d, "f%05d.pkl" % i), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
