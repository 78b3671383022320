"""Ternary kernel timings: decode GEMV weight GB/s and prefill GMAC/s (TQ2_0 / TQ1_0, BitNet-2B shape).

    PYTHONPATH=python python bench/ternary_kernels.py [--isa avx2 avx512] [--reps 20]

_core.matmul is single-threaded (and quantizes the activations first, included in the time); the
2-thread figure runs two Python threads on the two halves of the rows (the GIL is released inside
the kernel), which is how the runtime's thread pool splits a matmul.
"""
import argparse
import threading
import time

import numpy as np
from gguf import GGMLQuantizationType as QT
from gguf.quants import quantize

from edgeq import _core


def timed(fn, reps):
    fn()  # warm up (page faults, thread_local buffers)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--isa", nargs="+", default=[i for i in ("avx2", "avx512") if i in _core.runnable_isas()])
    ap.add_argument("--types", nargs="+", default=["TQ2_0", "TQ1_0"])
    ap.add_argument("--n-out", type=int, default=6912)
    ap.add_argument("--n-in", type=int, default=2560)
    ap.add_argument("--prefill", type=int, default=128)
    ap.add_argument("--reps", type=int, default=24)
    ap.add_argument("--copies", type=int, default=12,
                    help="distinct copies of W cycled through, so that decode reads DRAM, not the L3 cache")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    w = (rng.choice([-1.0, 0.0, 1.0], size=(a.n_out, a.n_in)) * 0.02).astype(np.float32)
    x1 = rng.standard_normal((1, a.n_in)).astype(np.float32)
    xp = rng.standard_normal((a.prefill, a.n_in)).astype(np.float32)
    half = a.n_out // 2
    print(f"cpu: {_core.cpu_model_name()}; W {a.n_out} x {a.n_in}; prefill {a.prefill} tokens")
    for name in a.types:
        qt = int(QT[name])
        blocks = quantize(w, QT[name])
        flat = blocks.reshape(-1)
        copies = [flat.copy() for _ in range(a.copies)]
        halves = [[c.reshape(blocks.shape)[:half].reshape(-1) for c in copies],
                  [c.reshape(blocks.shape)[half:].reshape(-1) for c in copies]]
        nb_row = blocks.shape[1]
        for isa in a.isa:
            def one_thread():
                for c in copies:
                    _core.matmul(qt, c, a.n_out, a.n_in, x1, isa=isa)

            t1 = timed(one_thread, max(1, a.reps // a.copies)) / a.copies

            def two_threads():  # each thread loops over its half; wall time of the slower one
                def loop(hs):
                    for _ in range(max(1, a.reps // a.copies)):
                        for h in hs:
                            _core.matmul(qt, h, h.size // nb_row, a.n_in, x1, isa=isa)
                th = [threading.Thread(target=loop, args=(h,)) for h in halves]
                for t in th:
                    t.start()
                for t in th:
                    t.join()

            t2 = timed(two_threads, 1) / (max(1, a.reps // a.copies) * a.copies)
            tp = timed(lambda: _core.matmul(qt, flat, a.n_out, a.n_in, xp, isa=isa), max(1, a.reps // 10))
            gb = flat.nbytes / 1e9
            macs = a.n_out * a.n_in * a.prefill / 1e9
            print(f"{name:6s} {isa:7s} decode 1 thread {gb / t1:6.2f} GB/s ({t1 * 1e3:.3f} ms)  "
                  f"2 threads {gb / t2:6.2f} GB/s  prefill {macs / tp:6.1f} GMAC/s ({tp * 1e3:.2f} ms)")


if __name__ == "__main__":
    main()
