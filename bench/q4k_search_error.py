"""Per-tensor Q4_K error of each --q4k-search fit: relative squared error sum (deq - x)^2 / sum x^2
of every matrix of MODEL whose rows Q4_K holds (plus Gaussian and Student-t(3) data), decoded by
the gguf package, and the quantization time.

    PYTHONPATH=python python bench/q4k_search_error.py MODEL_F16.gguf [-t 2]
"""
from __future__ import annotations

import argparse
import time

import gguf
import numpy as np

from edgeq import _core
from edgeq.gguf import open_gguf
from edgeq.quant_formats import Q4K_SEARCHES, to_float32

Q4_K = int(gguf.GGMLQuantizationType.Q4_K)


def rel_error(x: np.ndarray, raw: np.ndarray) -> float:
    d = gguf.quants.dequantize(raw, gguf.GGMLQuantizationType.Q4_K).reshape(x.shape).astype(np.float64)
    return float(((d - x) ** 2).sum() / (x.astype(np.float64) ** 2).sum())


def measure(name: str, x: np.ndarray, threads: int, totals: dict) -> None:
    cells = []
    for s in Q4K_SEARCHES:
        t0 = time.perf_counter()
        raw = _core.quantize_rows(Q4_K, x, threads, search=s)
        dt = time.perf_counter() - t0
        e = rel_error(x, raw)
        totals.setdefault(s, []).append(e)
        cells.append(f"{e:.3e} ({dt:.2f} s)")
    print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("-t", "--threads", type=int, default=2)
    a = ap.parse_args()
    print("| tensor | " + " | ".join(Q4K_SEARCHES) + " |")
    print("|---|" + "---|" * len(Q4K_SEARCHES))
    totals: dict = {}
    with open_gguf(a.model) as g:
        for t in g:
            if len(t.shape) == 2 and t.shape[0] % 256 == 0:
                measure(t.name, to_float32(t.type, g.tensor_bytes(t.name), t.shape[0]), a.threads, totals)
    print("| mean over the model | " + " | ".join(f"{np.mean(totals[s]):.3e}" for s in Q4K_SEARCHES) + " |")
    rng = np.random.default_rng(0)
    for name, x in (("Gaussian 512x4096", rng.standard_normal((512, 4096))),
                    ("Student-t(3) 512x4096", rng.standard_t(3, (512, 4096)))):
        measure(name, x.astype(np.float32), a.threads, {})


if __name__ == "__main__":
    main()
