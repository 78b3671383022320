"""Rotate a llama-architecture GGUF's residual stream (QuaRot's weight folding), in float.

For an orthogonal Q (d x d, d = n_embd) and the residual stream h -> Q h, every weight that
touches the stream absorbs Q, so the model computes exactly the same function (up to float
rounding) and stays a standard GGUF that any llama runtime loads:
  1. RMSNorm weights g are folded into the matmuls that read the normed stream
     (W <- W diag(g), g <- 1), because RMSNorm(Q h) = Q RMSNorm(h) only without the per-channel g
     (Q keeps the norm, so the rms and eps are unchanged);
  2. the token embedding rows e -> Q e; the stream's readers (attn_q / attn_k / attn_v,
     ffn_gate / ffn_up, output) W -> W Q^T; its writers (attn_output, ffn_down) W -> Q W;
  3. optionally each value head v -> R v with an hd x hd orthogonal R, undone in attn_output's
     columns (W_o -> W_o blockdiag(R)^T): attention mixes values linearly, so that is exact too.
A tied output (no output.weight) becomes an explicit output.weight: the embedding needs E Q^T,
the output E diag(g_out) Q^T.

Why: Q spreads each weight row's outlier channels over all channels (incoherence processing,
QuaRot / QuIP#), so 32-value blocks see flatter values and quantize with less error. Whether it
helps a given model and format is measured (bench/README.md), not assumed.
"""
from __future__ import annotations

import re
from typing import Dict, Optional

import numpy as np

from .gguf import GGML_TYPE_IDS, open_gguf
from .gguf_write import GGUFStreamWriter, TensorSpec, tensor_nbytes
from .quant_formats import to_float32

READERS = ("attn_q.weight", "attn_k.weight", "attn_v.weight", "ffn_gate.weight", "ffn_up.weight")
WRITERS = ("attn_output.weight", "ffn_down.weight")
NORM_OF = {"attn_q.weight": "attn_norm.weight", "attn_k.weight": "attn_norm.weight",
           "attn_v.weight": "attn_norm.weight", "ffn_gate.weight": "ffn_norm.weight",
           "ffn_up.weight": "ffn_norm.weight"}


class RotateError(Exception):
    pass


def random_orthogonal(n: int, seed: int) -> np.ndarray:
    """A Haar-random n x n orthogonal matrix (float64): QR of a Gaussian, signs fixed."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def rotate_tensors(tensors: Dict[str, np.ndarray], n_embd: int, head_dim: int, seed: int = 0,
                   rotate_heads: bool = True) -> Dict[str, np.ndarray]:
    """tensors: name -> float64 array in numpy order (rows = GGUF's outer dimension, so a matrix
    W (n_out, n_in) maps x (n_in) to W x). Returns the rotated set (same names, plus
    output.weight when the output was tied)."""
    Q = random_orthogonal(n_embd, seed)
    R = random_orthogonal(head_dim, seed + 1) if rotate_heads else None
    out = dict(tensors)
    if "output.weight" not in out:
        out["output.weight"] = tensors["token_embd.weight"].copy()
    out["token_embd.weight"] = tensors["token_embd.weight"] @ Q.T
    out["output.weight"] = (out["output.weight"] * tensors["output_norm.weight"][None, :]) @ Q.T
    out["output_norm.weight"] = np.ones(n_embd)
    for name, w in tensors.items():
        m = re.match(r"blk\.(\d+)\.(.*)$", name)
        if not m:
            continue
        layer, kind = m.group(1), m.group(2)
        if kind in READERS:
            g = tensors[f"blk.{layer}.{NORM_OF[kind]}"]
            w = (w * g[None, :]) @ Q.T
            if kind == "attn_v.weight" and R is not None:  # rows: n_kv_head blocks of head_dim
                w = np.einsum("ij,hjk->hik", R, w.reshape(-1, head_dim, n_embd)).reshape(w.shape)
            out[name] = w
        elif kind in WRITERS:
            if kind == "attn_output.weight" and R is not None:  # columns: n_head blocks
                w = np.einsum("dhj,ij->dhi", w.reshape(n_embd, -1, head_dim), R).reshape(w.shape)
            out[name] = Q @ w
        elif kind in ("attn_norm.weight", "ffn_norm.weight"):
            out[name] = np.ones(n_embd)
    return out


def rotate_file(src: str, dst: str, seed: int = 0, out_type: str = "F16", rotate_heads: bool = True,
                note=lambda message: None) -> None:
    """Read a llama GGUF (any type edgeq can dequantize), write its rotated float version
    (matrices in out_type F16 / F32, norms F32) with the same metadata."""
    with open_gguf(src) as g:
        arch = g.get("general.architecture")
        if arch != "llama":
            raise RotateError(f"rotation is implemented for llama models, not {arch!r}")
        n_embd = int(g.get("llama.embedding_length"))
        n_head = int(g.get("llama.attention.head_count"))
        head_dim = n_embd // n_head
        known = {"token_embd.weight", "output.weight", "output_norm.weight"}
        tensors = {}
        for t in g:
            kind = t.name.split(".", 2)[-1]
            if t.name not in known and kind not in READERS + WRITERS + ("attn_norm.weight", "ffn_norm.weight"):
                raise RotateError(f"tensor {t.name} is not one rotation knows how to transform")
            n = t.shape[0]
            tensors[t.name] = to_float32(t.type, g.tensor_bytes(t.name), n).astype(np.float64).reshape(
                tuple(reversed(t.shape)))
        rot = rotate_tensors(tensors, n_embd, head_dim, seed, rotate_heads)
        order = [t.name for t in g] + [k for k in rot if k not in g.tensors]
        mat_type = GGML_TYPE_IDS[out_type]
        dtype = {"F16": np.float16, "F32": np.float32}[out_type]
        arrays = {k: rot[k].astype(np.float32 if rot[k].ndim == 1 else dtype) for k in order}
        specs = [TensorSpec(k, tuple(reversed(a.shape)), 0 if a.dtype == np.float32 else mat_type,
                            tensor_nbytes(0 if a.dtype == np.float32 else mat_type, tuple(reversed(a.shape))))
                 for k, a in arrays.items()]
        entries = [g.metadata_entry_bytes(k) for k in g.metadata]
        with open(dst, "wb") as f:
            w = GGUFStreamWriter(f, g.alignment)
            w.write_header(entries, specs)
            for k, a in arrays.items():
                w.write_tensor_data(np.ascontiguousarray(a).view(np.uint8).reshape(-1))
                w.end_tensor()
            w.finish()
    if "output.weight" not in tensors:
        note("the tied output became an explicit output.weight")


def main(argv: Optional[list] = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="rotate a llama GGUF's residual stream (QuaRot folding)")
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--type", default="F16", choices=("F16", "F32"))
    ap.add_argument("--no-heads", action="store_true", help="do not rotate the value heads")
    a = ap.parse_args(argv)
    rotate_file(a.input, a.output, a.seed, a.type, not a.no_heads, note=print)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
