"""TL2 / TL2D (ternary lookup-table layouts) vs the TQ2_0 / TQ1_0 MAD kernels on BitNet-2B shapes.

    PYTHONPATH=python python bench/ternary_lut.py [--isa avx2 avx512] [--threads 1 2] [--runs 7]

Decode: one-token GEMV, weights cycled through distinct copies (>= --cycle-mb in all, larger than
the L3 cache) so that they come from DRAM; reports weight GB/s (bytes of that format) and GMAC/s.
Prefill: --prefill tokens, one matrix (cache-resident after the first pass), GMAC/s.
Times are medians over --runs runs, by the wall clock or (--clock cpu) by the CPU time of the
slowest thread, which leaves out the time other processes of a shared machine hold the cores
(memory stalls are still counted). Only the kernels are timed: the activations are quantized
once beforehand (the runtime does so once per input row and shares it between the matmuls that
read it); the quantization time per row is reported separately. Two threads = two Python
threads on the two tile-aligned halves of the rows (the GIL is released in the kernel), as the
runtime's thread pool splits a matmul.
"""
import argparse
import os
import statistics
import threading
import time

import numpy as np
from gguf import GGMLQuantizationType as QT
from gguf.quants import quantize

from edgeq import _core

SHAPES = [(2560, 2560), (640, 2560), (6912, 2560), (2560, 6912)]  # (n_out, n_in): qkv/o, k/v, gate/up, down


CLOCK = "wall"


def median_time(fn, runs):
    """Median seconds of fn() (which returns the CPU seconds of its slowest thread)."""
    fn()  # warm up: page faults, thread-local buffers
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        cpu = fn()
        times.append(cpu if CLOCK == "cpu" else time.perf_counter() - t0)
    return statistics.median(times)


def run_split(fn_for_range, n_out, n_threads):
    """Calls fn_for_range(row0, row1) on n_threads tile-aligned row ranges in parallel; returns
    the CPU seconds of the slowest thread."""
    cpu = []

    def timed(row0, row1):
        t0 = time.thread_time()
        fn_for_range(row0, row1)
        cpu.append(time.thread_time() - t0)

    if n_threads == 1:
        timed(0, n_out)
        return cpu[0]
    step = -(-n_out // (64 * n_threads)) * 64
    ranges = [(r, min(n_out, r + step)) for r in range(0, n_out, step)]
    th = [threading.Thread(target=timed, args=rg) for rg in ranges]
    for t in th:
        t.start()
    for t in th:
        t.join()
    return max(cpu)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--isa", nargs="+", default=[i for i in ("avx2", "avx512") if i in _core.runnable_isas()])
    ap.add_argument("--kernels", nargs="+", default=["TL2D", "TL2", "TQ2_0", "TQ1_0"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--shapes", nargs="+", default=[f"{o}x{i}" for o, i in SHAPES])
    ap.add_argument("--prefill", type=int, default=128)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--cycle-mb", type=float, default=96.0,
                    help="total bytes of the weight copies a decode run cycles through")
    ap.add_argument("--no-prefill", action="store_true")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    a = ap.parse_args()
    global CLOCK
    CLOCK = a.clock
    rng = np.random.default_rng(0)
    print(f"cpu: {_core.cpu_model_name()}; medians of {a.runs} runs ({a.clock} clock); "
          f"prefill {a.prefill} tokens; load average {os.getloadavg()[0]:.1f}")
    print(f"{'shape':>10s} {'kernel':6s} {'isa':6s} {'thr':>3s} {'MB':>6s} {'bpw':>5s} | {'decode GB/s':>11s} "
          f"{'GMAC/s':>7s} {'us':>7s} | {'prefill GMAC/s':>14s}")
    for shape in a.shapes:
        n_out, n_in = map(int, shape.split("x"))
        w = (rng.choice([-1.0, 0.0, 1.0], size=(n_out, n_in)) * 0.02).astype(np.float32)
        x1 = rng.standard_normal((1, n_in)).astype(np.float32)
        xp = rng.standard_normal((a.prefill, n_in)).astype(np.float32)
        tq2 = quantize(w, QT.TQ2_0).reshape(-1)
        mats = {"TQ2_0": (int(QT.TQ2_0), tq2), "TQ1_0": (int(QT.TQ1_0), quantize(w, QT.TQ1_0).reshape(-1))}
        for name, layout in (("TL2", _core.TYPE_TL2), ("TL2D", _core.TYPE_TL2D)):
            t0 = time.perf_counter()
            mats[name] = (layout, _core.tl_pack(int(QT.TQ2_0), tq2, n_out, n_in, layout))
            pack_ms = (time.perf_counter() - t0) * 1e3
            print(f"{shape:>10s} {name} pack from TQ2_0: {pack_ms:.1f} ms")
        for kname in a.kernels:
            qtype, data = mats[kname]
            n_copies = max(2, int(a.cycle_mb * 1e6 / data.nbytes) + 1)
            copies = [data.copy() for _ in range(n_copies)]
            bpw = data.nbytes * 8 / (n_out * n_in)
            for isa in a.isa:
                act = _core.matmul_act_type(qtype, isa)
                xq1 = _core.quantize_act(act, x1, isa=isa)
                xqp = _core.quantize_act(act, xp, isa=isa)
                q_us = median_time(lambda: run_split(lambda r0, r1: _core.quantize_act(act, x1, isa=isa), 1, 1),
                                   a.runs) * 1e6
                for n_threads in a.threads:
                    ys = {}

                    def decode_range(row0, row1):
                        y = ys.setdefault((row0, threading.get_ident()), np.zeros((1, n_out), np.float32))
                        for c in copies:
                            _core.matmul_rows(qtype, c, n_out, n_in, xq1, y, row0, row1, isa=isa)

                    t = median_time(lambda: run_split(decode_range, n_out, n_threads), a.runs) / n_copies
                    line = (f"{shape:>10s} {kname:6s} {isa:6s} {n_threads:3d} {data.nbytes / 1e6:6.2f} {bpw:5.2f} | "
                            f"{data.nbytes / t / 1e9:11.2f} {n_out * n_in / t / 1e9:7.2f} {t * 1e6:7.1f} |")
                    if not a.no_prefill:
                        yp = {}

                        def prefill_range(row0, row1):
                            y = yp.setdefault(row0, np.zeros((a.prefill, n_out), np.float32))
                            _core.matmul_rows(qtype, data, n_out, n_in, xqp, y, row0, row1, isa=isa)

                        tp = median_time(lambda: run_split(prefill_range, n_out, n_threads), max(3, a.runs // 2))
                        line += f" {n_out * n_in * a.prefill / tp / 1e9:14.1f}"
                    if n_threads == a.threads[0]:
                        line += f"   (quantize one row: {q_us:.1f} us)"
                    print(line, flush=True)


if __name__ == "__main__":
    main()
