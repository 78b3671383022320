"""The whole forward pass on the GPU against the CPU one, on real model files (needs a CUDA build
and a device): how close the logits are, and GPU prefill / decode speed with the weight bandwidth
decode reaches (device weight bytes per token x tokens/s; compare with bench/cuda_fp4.py's
cudaMemcpy GB/s).

    PYTHONPATH=build-cuda-gpu/py python bench/cuda_forward.py [model.gguf ...] [--fp4] [--json out.json]

Without model arguments it takes EDGEQ_SMOLLM2; --fp4 also measures MXFP4 and NVFP4 copies of each
model (edgeq.fp4_copy: the FP4 kernels; other types run as F16 copies on the GPU).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

from edgeq import _core
from edgeq.model import load_model

FP4_GROUP = {39: 32, 40: 16}  # MXFP4, NVFP4: values per scale byte


def device_weight_bytes_per_token(m) -> int:
    """Bytes of the matrices one decode step reads on the GPU (the embedding is a row lookup
    unless it is also the output matrix)."""
    total = 0
    tied = "output.weight" not in m.gguf.tensors
    for t in m.gguf:
        if len(t.shape) != 2 or (t.name == "token_embd.weight" and not tied):
            continue
        n_in, n_out = int(t.shape[0]), int(t.shape[1])
        g = FP4_GROUP.get(t.type)
        total += n_out * (n_in // 2 + n_in // g) if g else 2 * n_out * n_in
    return total


def median_time(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def measure(path: str, n_prompt: int, n_gen: int, reps: int) -> dict:
    cpu, gpu = load_model(path), load_model(path, device="cuda")
    toks = np.random.default_rng(0).integers(0, cpu.n_vocab, n_prompt)
    lc, lg = cpu.eval(toks, all_logits=True), gpu.eval(toks, all_logits=True)
    S = float(np.abs(lc).max())

    def prefill():
        gpu.reset()
        gpu.eval(toks)

    def decode():
        gpu.truncate(n_prompt)
        for i in range(n_gen):
            gpu.eval([int(toks[i % n_prompt])])

    prefill()
    t_prefill = median_time(prefill, reps)
    decode()
    t_decode = median_time(decode, reps)
    wb = device_weight_bytes_per_token(gpu)
    rec = dict(model=os.path.basename(path), device=gpu.device_info, n_prompt=n_prompt, n_gen=n_gen,
               max_abs_diff_rel=float(np.abs(lc - lg).max()) / S,
               argmax_agree=float(np.mean(lc.argmax(-1) == lg.argmax(-1))),
               prefill_tps=n_prompt / t_prefill, decode_tps=n_gen / t_decode,
               weight_bytes_per_token=wb, decode_weight_gbps=wb * n_gen / t_decode / 1e9)
    print(f"{rec['model']:40} max|gpu-cpu|/max|cpu| {rec['max_abs_diff_rel']:.2e}  argmax agree "
          f"{100 * rec['argmax_agree']:.0f}%  prefill {rec['prefill_tps']:8.0f} t/s  decode "
          f"{rec['decode_tps']:6.0f} t/s  ({rec['decode_weight_gbps']:.0f} GB/s of weights)")
    return rec


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--fp4", action="store_true", help="also MXFP4 / NVFP4 copies (edgeq.fp4_copy)")
    ap.add_argument("-p", type=int, default=128, help="prompt tokens (default 128)")
    ap.add_argument("-n", type=int, default=64, help="decode tokens (default 64)")
    ap.add_argument("-r", type=int, default=3, help="repetitions, median (default 3)")
    ap.add_argument("--json", help="also write the records here")
    args = ap.parse_args()
    if not _core.cuda_available():
        print(f"SKIP: {_core.cuda_status()}")
        return 0
    models = args.models or [p for p in [os.environ.get("EDGEQ_SMOLLM2")] if p and os.path.exists(p)]
    if not models:
        print("SKIP: no model (pass a GGUF path or set EDGEQ_SMOLLM2)")
        return 0
    print(_core.cuda_status())
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in models:
            records.append(measure(path, args.p, args.n, args.r))
            if args.fp4:
                from edgeq.fp4_copy import write_fp4_copy
                for qtype in ("MXFP4", "NVFP4"):
                    out = os.path.join(tmp, f"{qtype}-{os.path.basename(path)}")
                    write_fp4_copy(path, out, qtype)
                    records.append(measure(out, args.p, args.n, args.r))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
