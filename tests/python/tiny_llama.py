"""Writes a tiny random-weight llama GGUF with gguf.GGUFWriter (for fast forward-pass tests)."""
from __future__ import annotations

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

TINY = dict(n_layer=2, n_embd=64, n_ff=96, n_head=4, n_head_kv=2, n_vocab=80, rope_base=10000.0,
            rms_eps=1e-5, context_length=64)


def _add(w: "gguf.GGUFWriter", name: str, a: np.ndarray, qtype: T) -> None:
    a = np.ascontiguousarray(a, dtype=np.float32)
    if qtype == T.F32:
        w.add_tensor(name, a)
    elif qtype == T.F16:
        w.add_tensor(name, a.astype(np.float16))
    else:  # quantized (and BF16): the gguf package's quantizer, bytes with raw_dtype
        w.add_tensor(name, gguf.quants.quantize(a, qtype), raw_dtype=qtype)


def write_tiny_llama(path, weight_type: T = T.F32, tied: bool = False, seed: int = 0,
                     extra_u32: "dict | None" = None, **over) -> dict:
    """Random llama with the TINY shape (or overrides); returns the hyper-parameters used.
    extra_u32: more uint32 metadata (e.g. to make a file the loader must refuse)."""
    p = dict(TINY, **over)
    rng = np.random.default_rng(seed)
    D, F, H, KV, V = p["n_embd"], p["n_ff"], p["n_head"], p["n_head_kv"], p["n_vocab"]
    hd = D // H
    w = gguf.GGUFWriter(str(path), "llama")
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
        return rng.standard_normal((n_out, n_in)) * scale / np.sqrt(n_in)

    def norm(n):
        return 1.0 + 0.1 * rng.standard_normal(n)

    _add(w, "token_embd.weight", rng.standard_normal((V, D)), weight_type)
    for l in range(p["n_layer"]):
        b = f"blk.{l}."
        _add(w, b + "attn_norm.weight", norm(D), T.F32)
        _add(w, b + "attn_q.weight", mat(H * hd, D, 2.0), weight_type)
        _add(w, b + "attn_k.weight", mat(KV * hd, D, 2.0), weight_type)
        _add(w, b + "attn_v.weight", mat(KV * hd, D), weight_type)
        _add(w, b + "attn_output.weight", mat(D, H * hd), weight_type)
        _add(w, b + "ffn_norm.weight", norm(D), T.F32)
        _add(w, b + "ffn_gate.weight", mat(F, D), weight_type)
        _add(w, b + "ffn_up.weight", mat(F, D), weight_type)
        _add(w, b + "ffn_down.weight", mat(D, F), weight_type)
    _add(w, "output_norm.weight", norm(D), T.F32)
    if not tied:
        _add(w, "output.weight", mat(V, D, 4.0), weight_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return p
