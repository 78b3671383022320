"""Q1_0 (binary) kernel timings: decode GEMV weight GB/s from DRAM, 1 and 2 threads, per ISA,
plus prefill GMAC/s. Medians over --trials (the shared machine is noisy).

    PYTHONPATH=python python bench/binary_kernels.py [--isa ref avx2 avx512] [--trials 7] [--binary-act]

Each figure is given twice, from the wall time and from the CPU time of the busiest thread (see
median_time). _core.matmul is single-threaded and quantizes the activations (ACT_Q8_PLANES) first, included in
the time; the 2-thread figure runs two Python threads on the two halves of the rows (the GIL is
released inside the kernel), as the runtime's thread pool splits a matmul. --copies distinct
copies of W are cycled through so that decode reads DRAM, not the 32 MB L3.
For llama.cpp's Q1_0 GEMV on the same machine see bench/README.md (llama-bench tg on a Q1_0 model).
"""
import argparse
import statistics
import threading
import time

import numpy as np

from edgeq import _core
from edgeq.quant_formats import FORMATS

Q1_0 = 41


def median_time(fn, trials, calls):
    """Medians of (wall seconds, CPU seconds of the busiest thread) per call. fn() returns the CPU
    seconds of its busiest thread: on a shared machine the wall time also counts the time other
    processes held the core, the thread CPU time only the time this kernel ran (stalls included)."""
    fn()  # warm up (page faults, thread_local buffers)
    wall, cpu = [], []
    for _ in range(trials):
        t0 = time.perf_counter()
        c = fn()
        wall.append((time.perf_counter() - t0) / calls)
        cpu.append(c / calls)
    return statistics.median(wall), statistics.median(cpu)


def thread_cpu(fn):
    t0 = time.thread_time()
    fn()
    return time.thread_time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--isa", nargs="+", default=[i for i in ("avx2", "avx512") if i in _core.runnable_isas()])
    ap.add_argument("--n-out", type=int, default=6912)
    ap.add_argument("--n-in", type=int, default=2560)
    ap.add_argument("--prefill", type=int, default=128)
    ap.add_argument("--trials", type=int, default=7)
    ap.add_argument("--copies", type=int, default=24)
    ap.add_argument("--binary-act", action="store_true",
                    help="the opt-in binary-activation (XNOR-popcount) kernel instead of int8 activations")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    w = rng.standard_normal((a.n_out, a.n_in)).astype(np.float32)
    blocks = FORMATS["Q1_0"].quantize(w, 1)
    x1 = rng.standard_normal((1, a.n_in)).astype(np.float32)
    xp = rng.standard_normal((a.prefill, a.n_in)).astype(np.float32)
    copies = [blocks.copy() for _ in range(a.copies)]
    half = a.n_out // 2
    halves = [[c[:half].reshape(-1) for c in copies], [c[half:].reshape(-1) for c in copies]]
    gb = blocks.nbytes / 1e9
    print(f"cpu: {_core.cpu_model_name()}; Q1_0 W {a.n_out} x {a.n_in} ({gb * 1e3:.2f} MB) x {a.copies} copies; "
          f"prefill {a.prefill} tokens; medians of {a.trials}")
    for isa in a.isa:
        def loop(hs):
            for h in hs:
                _core.matmul(Q1_0, h, h.size // blocks.shape[1], a.n_in, x1, isa=isa, binary_act=a.binary_act)

        def one_thread():
            return thread_cpu(lambda: loop([c.reshape(-1) for c in copies]))

        def two_threads():
            cpu = [0.0, 0.0]

            def run(i):
                cpu[i] = thread_cpu(lambda: loop(halves[i]))
            th = [threading.Thread(target=run, args=(i,)) for i in range(2)]
            for t in th:
                t.start()
            for t in th:
                t.join()
            return max(cpu)

        (w1, c1), (w2, c2) = median_time(one_thread, a.trials, a.copies), median_time(two_threads, a.trials, a.copies)
        flat = blocks.reshape(-1)
        wp, cp = median_time(lambda: thread_cpu(lambda: _core.matmul(Q1_0, flat, a.n_out, a.n_in, xp, isa=isa, binary_act=a.binary_act)),
                             max(1, a.trials // 2), 1)
        macs = a.n_out * a.n_in * a.prefill / 1e9
        print(f"Q1_0{'xB1' if a.binary_act else ''} {isa:7s} decode GB/s wall|cpu: 1 thread {gb / w1:6.2f} | {gb / c1:6.2f}  "
              f"2 threads {gb / w2:6.2f} | {gb / c2:6.2f}   prefill GMAC/s {macs / wp:6.1f} | {macs / cp:6.1f}")


if __name__ == "__main__":
    main()
