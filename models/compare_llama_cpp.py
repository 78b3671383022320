#!/usr/bin/env python3
"""Compare edgeq's logits on a BitNet (or any llama-style) GGUF with llama.cpp's, token by token.

    python models/compare_llama_cpp.py model.gguf [-p PROMPT] [-n GREEDY_STEPS] \
        [--llama-cpp-python DIR] [--llama-lib DIR] [--oracle]

llama.cpp runs through llama-cpp-python's ctypes bindings (its logits for every prompt position);
--llama-cpp-python is a source tree of the package (added to sys.path), --llama-lib the folder of
libllama.so (LLAMA_CPP_LIB_PATH). Reported per prompt position: the largest logit difference in
units of the logits' standard deviation, whether the top-1 tokens agree, and llama.cpp's top-1
margin (a random-weight model's margins are small: a different top-1 counts only where the margin
is clearly larger than the differences). Then each engine continues the prompt greedily on its own
and the first divergence is shown with both margins. --oracle adds tests/python/llama_ref.py's
float64 forward pass (no activation quantization) as a third opinion: how far each engine is from
the exact model.

The two engines quantize ternary-matmul activations differently (llama.cpp: Q8_K, one scale per 256
values; edgeq: bitnet.cpp's one int8 scale per token), and llama.cpp's F16 output matmul rounds its
activations to F16, so their logits differ by about 1% of the logits' spread, not by float rounding.
"""
from __future__ import annotations

import argparse
import os
import sys
import types
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]


def greedy(last: np.ndarray, step, steps: int):
    """Greedy continuation from the logits `last`: step(token) feeds a token and returns the next
    logits. Returns (tokens, top-1 margins)."""
    cont, margins = [], []
    for _ in range(steps):
        top = np.argsort(last)[-2:]
        cont.append(int(top[1]))
        margins.append(float(last[top[1]] - last[top[0]]))
        last = step(cont[-1])
    return cont, margins


def llama_cpp_logits(path: str, ids, n_ctx: int, threads: int, steps: int):
    """llama.cpp's logits (len(ids), n_vocab) and its greedy continuation of `steps` tokens."""
    try:
        import diskcache  # noqa: F401  (llama-cpp-python imports it for an optional cache)
    except ImportError:
        sys.modules["diskcache"] = types.SimpleNamespace(Cache=object)
    import llama_cpp
    m = llama_cpp.Llama(path, n_ctx=n_ctx, n_threads=threads, logits_all=True, verbose=False)
    m.eval(list(ids))
    logits = np.array(m.scores[:len(ids)], dtype=np.float32)

    def step(token: int) -> np.ndarray:
        m.eval([token])
        return np.array(m.scores[m.n_tokens - 1], dtype=np.float32)
    return (logits,) + greedy(logits[-1], step, steps)


def edgeq_logits(path: str, ids, n_ctx: int, threads: int, steps: int):
    """edgeq's model, its logits (len(ids), n_vocab) and greedy continuation of `steps` tokens."""
    from edgeq.model import load_model
    m = load_model(path, n_ctx=n_ctx, n_threads=threads)
    logits = m.eval(np.asarray(ids, dtype=np.int32), all_logits=True)
    return (m, logits) + greedy(logits[-1], lambda token: m.eval([token])[0], steps)


def q8_k(x: np.ndarray) -> np.ndarray:
    """x (n, k) -> the values its Q8_K activation blocks hold (ggml's quantize_row_q8_K_ref: per 256
    values, max = the value of largest magnitude, iscale = -127 / max, q = min(127, round(iscale x)),
    value = q / iscale), which llama.cpp's TQ1_0 / TQ2_0 dot products consume."""
    n, k = x.shape
    b = x.astype(np.float32).reshape(n, k // 256, 256)
    idx = np.abs(b).argmax(axis=-1)[..., None]
    mx = np.take_along_axis(b, idx, axis=-1)
    iscale = np.where(mx == 0, np.float32(0), np.float32(-127.0) / np.where(mx == 0, 1, mx)).astype(np.float32)
    q = np.minimum(127, np.rint(iscale * b))
    d = np.where(iscale == 0, 0, np.float32(1.0) / np.where(iscale == 0, 1, iscale)).astype(np.float32)
    return (q * d.astype(np.float64)).reshape(n, k)


def llama_numerics_oracle(g, config):
    """The float64 oracle with llama.cpp's CPU activation formats: Q8_K for ternary weights, F16 for
    F16 weights, Q8_0 blocks for Q8_0 weights (attention and the KV cache stay float64)."""
    from llama_ref import RefLlama, q8_block32

    class LlamaNumerics(RefLlama):
        def _mm(self, x, w, name):
            ty = self.types[name]
            if ty in (34, 35):
                x = q8_k(x)
            elif ty == 1:
                x = x.astype(np.float16).astype(np.float64)
            elif ty == 8:
                x = q8_block32(x)[0]
            return x @ w.T.astype(np.float64)
    return LlamaNumerics(g, config)


def margin(row: np.ndarray) -> float:
    top = np.sort(row)[-2:]
    return float(top[1] - top[0])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("-p", "--prompt", default="The capital of France is Paris, and the capital of Germany is")
    p.add_argument("-n", "--steps", type=int, default=16, help="greedy continuation steps")
    p.add_argument("-t", "--threads", type=int, default=2)
    p.add_argument("--llama-cpp-python", metavar="DIR", help="llama-cpp-python source tree")
    p.add_argument("--llama-lib", metavar="DIR", help="folder of libllama.so (LLAMA_CPP_LIB_PATH)")
    p.add_argument("--oracle", action="store_true", help="also the numpy float64 forward pass")
    a = p.parse_args(argv)
    if a.llama_cpp_python:
        sys.path.insert(0, a.llama_cpp_python)
    if a.llama_lib:
        os.environ["LLAMA_CPP_LIB_PATH"] = a.llama_lib
    sys.path.insert(0, str(REPO_ROOT / "python"))

    n_ctx = 512
    from edgeq.model import load_model
    tok = load_model(a.model, n_ctx=n_ctx, n_threads=1).tokenizer
    ids = tok.encode(a.prompt)
    model, ours, our_cont, our_m = edgeq_logits(a.model, ids, n_ctx, a.threads, a.steps)
    theirs, their_cont, their_m = llama_cpp_logits(a.model, ids, n_ctx, a.threads, a.steps)

    print(f"model {a.model}: {model.arch}, {model.config['n_layer']} layers, prompt {len(ids)} tokens")
    print(" pos  max|d|/std  top1 edgeq  top1 llama  llama margin/std")
    agree = 0
    for i in range(len(ids)):
        std = float(theirs[i].std())
        d = float(np.abs(ours[i] - theirs[i]).max()) / std
        t1, t2 = int(ours[i].argmax()), int(theirs[i].argmax())
        agree += t1 == t2
        print(f"{i:4d}  {d:10.4f}  {t1:10d}  {t2:10d}  {margin(theirs[i]) / std:8.4f}{'' if t1 == t2 else '  <- differ'}")
    diff = (ours - theirs) / theirs.std(axis=-1, keepdims=True)
    corr = np.mean([np.corrcoef(ours[i], theirs[i])[0, 1] for i in range(len(ids))])
    print(f"top-1 agree at {agree}/{len(ids)} positions; |d|/std: median {np.median(np.abs(diff)):.4f}, "
          f"max {np.abs(diff).max():.4f}; mean correlation {corr:.6f}")

    if a.oracle:
        sys.path.insert(0, str(REPO_ROOT / "tests" / "python"))
        from llama_ref import RefLlama
        toks = np.asarray(ids)
        want = RefLlama(model.gguf, model.config).forward(toks)
        s = want.std(axis=-1, keepdims=True)
        print(f"vs the float64 oracle, max |d|/std: edgeq {np.abs((ours - want) / s).max():.4f}, "
              f"llama.cpp {np.abs((theirs - want) / s).max():.4f}; top-1 = oracle's: edgeq "
              f"{(ours.argmax(-1) == want.argmax(-1)).sum()}/{len(ids)}, llama.cpp "
              f"{(theirs.argmax(-1) == want.argmax(-1)).sum()}/{len(ids)}")
        # Each engine against the oracle computing with that engine's activation formats.
        ours_emul = RefLlama(model.gguf, model.config, emulate_act_quant=True).forward(toks)
        theirs_emul = llama_numerics_oracle(model.gguf, model.config).forward(toks)
        print(f"vs the oracle with each engine's activation formats, max |d|/std: edgeq "
              f"{np.abs((ours - ours_emul) / s).max():.4f}, llama.cpp {np.abs((theirs - theirs_emul) / s).max():.4f}")

    same = next((i for i, (x, y) in enumerate(zip(our_cont, their_cont)) if x != y), len(our_cont))
    print(f"greedy {a.steps} steps: identical for the first {same}")
    print(f"  edgeq: {tok.decode(our_cont)!r}")
    print(f"  llama: {tok.decode(their_cont)!r}")
    if same < len(our_cont):
        print(f"  first divergence at step {same}: top-1 margins edgeq {our_m[same]:.4f}, llama.cpp {their_m[same]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
