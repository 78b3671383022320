"""Writes a tiny random-weight llama (or BitNet) GGUF with gguf.GGUFWriter (for fast
forward-pass tests)."""
from __future__ import annotations

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

from fp4_ref import nvfp4_quantize

TINY = dict(n_layer=2, n_embd=64, n_ff=96, n_head=4, n_head_kv=2, n_vocab=80, rope_base=10000.0,
            rms_eps=1e-5, context_length=64)


def _add(w: "gguf.GGUFWriter", name: str, a: np.ndarray, qtype: T) -> None:
    a = np.ascontiguousarray(a, dtype=np.float32)
    if qtype == T.F32:
        w.add_tensor(name, a)
    elif qtype == T.F16:
        w.add_tensor(name, a.astype(np.float16))
    elif qtype == T.NVFP4:  # the gguf package has no NVFP4 quantizer: a numpy model of llama.cpp's
        w.add_tensor(name, nvfp4_quantize(a.reshape(-1, a.shape[-1])), raw_dtype=qtype)
    else:  # quantized (and BF16): the gguf package's quantizer, bytes with raw_dtype
        try:
            data = gguf.quants.quantize(a, qtype)
        except NotImplementedError:  # a type the package cannot write (IQ4_NL): random blocks
            block, size = gguf.GGML_QUANT_SIZES[qtype]
            data = np.random.default_rng(0).integers(0, 256, (a.shape[0], a.shape[1] // block * size), dtype=np.uint8)
        w.add_tensor(name, data, raw_dtype=qtype)


# Ternary types: their matrices are written as scale * {-1, 0, 1} (as BitNet's are), which the
# quantizer stores exactly; their rows must be whole 256-value blocks (n_embd, n_ff % 256 == 0).
TERNARY = {T.TQ1_0, T.TQ2_0}
BITNET_ARCHS = ("bitnet", "bitnet-b1.58")


def write_tiny_llama(path, weight_type: T = T.F32, tied: bool = False, seed: int = 0,
                     extra_u32: "dict | None" = None, arch: str = "llama", embd_type: "T | None" = None,
                     scales: bool = False, **over) -> dict:
    """Random llama with the TINY shape (or overrides); returns the hyper-parameters used.
    extra_u32: more uint32 metadata (e.g. to make a file the loader must refuse).
    arch: "llama", or a BitNet arch (adds blk.N.attn_sub_norm / ffn_sub_norm);
    embd_type: type of token_embd and output (default: weight_type, F16 for ternary types);
    scales: add a random 1-element `blk.N.<matrix>.scale` for every projection (BitNet, NVFP4's
    per-tensor scale), and `output.scale` for an untied NVFP4 output."""
    p = dict(TINY, **over)
    rng = np.random.default_rng(seed)
    D, F, H, KV, V = p["n_embd"], p["n_ff"], p["n_head"], p["n_head_kv"], p["n_vocab"]
    hd = D // H
    if embd_type is None:
        embd_type = T.F16 if weight_type in TERNARY else weight_type
    bitnet = arch in BITNET_ARCHS
    if arch != "llama" and not bitnet:
        raise ValueError(f"unknown arch {arch!r}")
    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(p["n_layer"])
    w.add_context_length(p["context_length"])
    w.add_embedding_length(D)
    w.add_feed_forward_length(F)
    w.add_head_count(H)
    w.add_head_count_kv(KV)
    w.add_rope_freq_base(p["rope_base"])
    w.add_layer_norm_rms_eps(p["rms_eps"])
    w.add_rope_dimension_count(hd)
    for key, value in (extra_u32 or {}).items():
        w.add_uint32(key, value)

    def mat(n_out, n_in, scale=1.0):
        if weight_type in TERNARY:  # variance of {-1, 0, 1} drawn uniformly: 2/3
            t = rng.integers(-1, 2, size=(n_out, n_in)).astype(np.float64)
            return t * scale / np.sqrt(n_in * 2.0 / 3.0)
        return rng.standard_normal((n_out, n_in)) * scale / np.sqrt(n_in)

    def proj(name, n_out, n_in, scale=1.0):
        _add(w, name + ".weight", mat(n_out, n_in, scale), weight_type)
        if scales:
            _add(w, name + ".scale", rng.uniform(0.5, 2.0, size=1), T.F32)

    def norm(n):
        return 1.0 + 0.1 * rng.standard_normal(n)

    _add(w, "token_embd.weight", rng.standard_normal((V, D)), embd_type)
    for l in range(p["n_layer"]):
        b = f"blk.{l}."
        _add(w, b + "attn_norm.weight", norm(D), T.F32)
        proj(b + "attn_q", H * hd, D, 2.0)
        proj(b + "attn_k", KV * hd, D, 2.0)
        proj(b + "attn_v", KV * hd, D)
        if bitnet:
            _add(w, b + "attn_sub_norm.weight", norm(H * hd), T.F32)
        proj(b + "attn_output", D, H * hd)
        _add(w, b + "ffn_norm.weight", norm(D), T.F32)
        proj(b + "ffn_gate", F, D)
        proj(b + "ffn_up", F, D)
        if bitnet:
            _add(w, b + "ffn_sub_norm.weight", norm(F), T.F32)
        proj(b + "ffn_down", D, F)
    _add(w, "output_norm.weight", norm(D), T.F32)
    if not tied:
        _add(w, "output.weight", rng.standard_normal((V, D)) * 4.0 / np.sqrt(D), embd_type)
        if scales and embd_type == T.NVFP4:
            _add(w, "output.scale", rng.uniform(0.5, 2.0, size=1), T.F32)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return p
