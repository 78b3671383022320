"""GPU FP4 matmul benchmark (needs a CUDA build and a device): GEMV weight bandwidth and GEMM
throughput of MXFP4 / NVFP4 on LLM-shaped matrices, next to the device's measured
device-to-device cudaMemcpy bandwidth (the practical limit of a weight-streaming GEMV).

    PYTHONPATH=build-cuda/py python bench/cuda_fp4.py [--json out.json] [--iters 50]

Prints a table: type, shape, tokens, path, time, weight GB/s (GGUF bytes / time), % of memcpy
bandwidth, and GOP/s (2 n_out n_in n_tok / time).
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from edgeq import _core

# (n_out, n_in): Llama-3-8B's q/o (4096 x 4096), gate/up (14336 x 4096), down (4096 x 14336).
SHAPES = [(4096, 4096), (14336, 4096), (4096, 14336)]
TYPES = {"MXFP4": 39, "NVFP4": 40}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--tokens", default="1,8,512", help="comma-separated token counts")
    ap.add_argument("--json", help="also write the records here")
    args = ap.parse_args()
    if not _core.cuda_available():
        print(f"SKIP: {_core.cuda_status()}")
        return 0
    print(_core.cuda_status())
    rng = np.random.default_rng(0)
    records = []
    print(f"{'type':6} {'n_out x n_in':>13} {'tok':>4} {'path':>6} {'us':>9} {'GB/s':>7} {'%cpy':>5} {'GOP/s':>8}")
    for name, t in TYPES.items():
        for n_out, n_in in SHAPES:
            w = _core.quantize(t, (rng.standard_normal((n_out, n_in)) * 0.02).astype(np.float32))
            for n_tok in [int(s) for s in args.tokens.split(",")]:
                r = _core.cuda_benchmark(t, w, n_out, n_in, n_tok=n_tok, iters=args.iters)
                gops = 2.0 * n_out * n_in * n_tok / r["seconds"] / 1e9
                rec = dict(type=name, n_out=n_out, n_in=n_in, n_tok=n_tok, path=r["path"],
                           seconds=r["seconds"], weight_gbps=r["weight_gbps"], memcpy_gbps=r["memcpy_gbps"],
                           gops=gops, device=r["device"])
                records.append(rec)
                print(f"{name:6} {n_out:>6}x{n_in:<6} {n_tok:>4} {r['path']:>6} {r['seconds'] * 1e6:9.1f} "
                      f"{r['weight_gbps']:7.1f} {100 * r['weight_gbps'] / r['memcpy_gbps']:5.0f} {gops:8.0f}")
    print(f"device-to-device cudaMemcpy: {records[0]['memcpy_gbps']:.0f} GB/s (read + write)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
