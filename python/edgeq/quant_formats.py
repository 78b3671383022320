"""The weight formats `edgeq quantize` writes, and reading any GGUF tensor back as float32.

Every format is one `Format` entry in FORMATS: its GGUF type, the llama.cpp file type it stands
for, the function that turns float32 rows into GGUF bytes, and the type used for rows it cannot
hold. Every quantizer writes exactly the bytes llama.cpp's reference quantizer (what
llama-quantize runs without an importance matrix) writes for the same float32 rows:

    F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,    the gguf package's numpy quantizers
    TQ1_0, TQ2_0
    Q4_K, Q6_K                                  edgeq's C++ quantizers (cpp/quant), threaded
    Q1_0                                        _quantize_q1_0 below (numpy; the gguf package has none)

Q4_K also has searched fits (search="mse" / "wmse", cpp/quant/q4k_search.cpp) that write other,
lower-error bytes of the same format. MIXES are llama.cpp's per-tensor mixes (Q4_K_M): a base
format plus the rule that gives some tensors more bits (quantize.py applies it).

A later format (Q1_0, MXFP4, NVFP4, an edgeq-internal layout) is one more entry with its
quantizer: a numpy function or a `_core.quantize_rows` type.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional

import numpy as np

from .gguf import GGML_TYPE_IDS, GGML_TYPES

# float32 (n_rows, n_per_row), a thread count and a fit ("rtn" or one of Format.searches) ->
# uint8 (n_rows, row bytes)
QuantizeFn = Callable[..., np.ndarray]
Q4K_SEARCHES = ("rtn", "mse", "wmse")


@dataclass(frozen=True)
class Format:
    name: str                  # GGUF type name, as --type takes it
    file_type: int             # llama.cpp's llama_ftype for a model "mostly" of this type
    quantize: QuantizeFn
    fallback: Optional[str] = None  # for rows whose length is not a multiple of the block
    description: str = ""
    searches: tuple = ("rtn",)     # the fits quantize(x, n_threads, search) accepts
    # Smaller fallbacks `edgeq quantize` also tries (--fallback-choice min-error) and takes where
    # they fit a tensor at least as well as `fallback`.
    alt_fallbacks: tuple = ()

    @property
    def type_id(self) -> int:
        return GGML_TYPE_IDS[self.name]

    @property
    def block(self) -> int:
        return GGML_TYPES[self.type_id][1]

    @property
    def is_float(self) -> bool:
        return self.name in ("F32", "F16", "BF16")

    def fits(self, row_length: int) -> bool:
        return row_length % self.block == 0


def _as_bytes(rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(q).view(np.uint8).reshape(rows.shape[0], -1)


def _cast(dtype) -> QuantizeFn:
    return lambda x, n_threads, search="rtn": _as_bytes(x, x.astype(dtype))  # round to nearest even, as ggml


def _gguf_numpy(name: str) -> QuantizeFn:
    def quantize(x: np.ndarray, n_threads: int, search: str = "rtn") -> np.ndarray:
        import gguf  # imported on first use: only `edgeq quantize` needs the package

        return _as_bytes(x, gguf.quants.quantize(x, gguf.GGMLQuantizationType[name]))
    return quantize


def _core_rows(name: str) -> QuantizeFn:
    def quantize(x: np.ndarray, n_threads: int, search: str = "rtn") -> np.ndarray:
        from . import _core

        return _core.quantize_rows(GGML_TYPE_IDS[name], x, n_threads, search=search)
    return quantize


def _quantize_q1_0(x: np.ndarray, n_threads: int, search: str = "rtn") -> np.ndarray:
    """llama.cpp's quantize_row_q1_0_ref (ggml-quants.c) on blocks of 128: d = fp16(sum |x| / 128)
    with the sum accumulated in float32 left to right (cumsum, not numpy's pairwise sum), and
    bit j % 8 of qs[j / 8] set iff x[j] >= 0 (so -0.0 sets it, NaN does not). Block: d | qs[16]."""
    blocks = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 128)
    sum_abs = np.cumsum(np.abs(blocks), axis=1, dtype=np.float32)[:, -1]
    d = (sum_abs / np.float32(128)).astype(np.float16)
    qs = np.packbits(blocks >= 0, axis=1, bitorder="little")
    out = np.concatenate([d.view(np.uint8).reshape(-1, 2), qs], axis=1)
    return out.reshape(x.shape[0], -1)


# Fallbacks: llama-quantize's, the nearest type with 32-value blocks (Q4_K -> Q5_0: a model of
# width 576 like SmolLM2 is mostly fallback rows); a row that not even the fallback holds becomes
# F16, as in llama-quantize.
FORMATS: Dict[str, Format] = {f.name: f for f in (
    Format("F32", 0, _cast(np.float32), description="32-bit float (dequantize)"),
    Format("F16", 1, _cast(np.float16), description="16-bit float"),
    Format("BF16", 32, _gguf_numpy("BF16"), description="bfloat16"),
    Format("Q8_0", 7, _gguf_numpy("Q8_0"), description="8-bit, blocks of 32 (8.5 bpw)"),
    Format("Q4_0", 2, _gguf_numpy("Q4_0"), description="4-bit, blocks of 32 (4.5 bpw)"),
    Format("Q4_1", 3, _gguf_numpy("Q4_1"), description="4-bit with min, blocks of 32 (5.0 bpw)"),
    Format("Q5_0", 8, _gguf_numpy("Q5_0"), description="5-bit, blocks of 32 (5.5 bpw)"),
    Format("Q5_1", 9, _gguf_numpy("Q5_1"), description="5-bit with min, blocks of 32 (6.0 bpw)"),
    Format("Q4_K", 14, _core_rows("Q4_K"), fallback="Q5_0", searches=Q4K_SEARCHES, alt_fallbacks=("Q4_1",),
           description="4-bit k-quant, blocks of 256 (4.5 bpw)"),
    Format("Q6_K", 18, _core_rows("Q6_K"), fallback="Q8_0",
           description="6-bit k-quant, blocks of 256 (6.56 bpw)"),
    Format("TQ1_0", 36, _gguf_numpy("TQ1_0"), fallback="Q4_0",
           description="ternary, blocks of 256 (1.69 bpw)"),
    Format("TQ2_0", 37, _gguf_numpy("TQ2_0"), fallback="Q4_0",
           description="ternary, blocks of 256 (2.06 bpw)"),
    # llama-quantize has no fallback for Q1_0 (it stops on rows that are not a multiple of 128).
    Format("Q1_0", 40, _quantize_q1_0, fallback="Q4_0",
           description="binary (+-d), blocks of 128 (1.125 bpw)"),
)}
TERNARY = ("TQ1_0", "TQ2_0")


@dataclass(frozen=True)
class Mix:
    """A llama.cpp mix: `base` for the weight matrices, `more` for attn_v and ffn_down of the
    layers use_more_bits picks (the first and last eighth, and every third in between)."""
    name: str
    file_type: int
    base: str
    more: str
    description: str = ""

    @staticmethod
    def use_more_bits(i_layer: int, n_layers: int) -> bool:  # llama-quant.cpp's rule
        return (i_layer < n_layers // 8 or i_layer >= 7 * n_layers // 8
                or (i_layer - n_layers // 8) % 3 == 2)


MIXES: Dict[str, Mix] = {m.name: m for m in (
    Mix("Q4_K_M", 15, "Q4_K", "Q6_K",
        description="llama.cpp's Q4_K_M: Q4_K, with Q6_K for half of attn_v / ffn_down (~4.9 bpw)"),
)}


def lookup(name: str) -> Format:
    """The format called `name` (any case); ValueError naming the known ones otherwise."""
    fmt = FORMATS.get(name.upper())
    if fmt is None:
        raise ValueError(f"unknown type {name!r} (known: {', '.join(list(FORMATS) + list(MIXES))})")
    return fmt


def to_float32(type_id: int, data: np.ndarray, n_per_row: int) -> np.ndarray:
    """GGUF bytes of whole rows (uint8, n_rows * row bytes) -> float32 (n_rows, n_per_row),
    exactly as llama.cpp's dequantizers compute it (the gguf package's numpy dequantizers, or for
    types it lacks edgeq's scalar reference kernels). ValueError for a type neither reads."""
    data = np.ascontiguousarray(data, dtype=np.uint8)
    if type_id == 0:
        return data.view(np.float32).reshape(-1, n_per_row)
    if type_id == 1:
        return data.view(np.float16).astype(np.float32).reshape(-1, n_per_row)
    if type_id == 30:
        return (data.view(np.uint16).astype(np.uint32) << 16).view(np.float32).reshape(-1, n_per_row)
    name, block, size = GGML_TYPES[type_id]
    rows = data.reshape(-1, n_per_row // block * size)
    import gguf

    qtype = gguf.GGMLQuantizationType.__members__.get(name)
    if qtype is not None:
        try:
            return gguf.quants.dequantize(rows, qtype).astype(np.float32, copy=False)
        except NotImplementedError:
            pass
    from . import _core

    try:
        return _core.dequantize(type_id, data, n_per_row, "ref")
    except ValueError:
        raise ValueError(f"cannot read {name} tensors (no dequantizer for the type)") from None
