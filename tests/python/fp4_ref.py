"""Independent models of the FP4 formats for tests (nothing here calls edgeq).

* nvfp4_quantize: numpy model of llama.cpp's quantize_row_nvfp4_ref (the gguf package has an
  NVFP4 dequantizer but no quantizer), built on the gguf package's fp32_to_ue4m3 / ue4m3_to_fp32.
* ggml_lib(): llama.cpp's own C reference (libggml-base.so, via ctypes) when it is installed:
  quantize_row_{mxfp4,nvfp4}_ref and dequantize_row_{mxfp4,nvfp4}; None otherwise.
"""
from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Optional

import numpy as np
from gguf.quants import NVFP4

KVALUES = np.array(NVFP4.kvalues, dtype=np.float32)  # doubled E2M1 values, code order


def best_codes(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Per value, the first code whose kvalue * d is nearest to x (float32 arithmetic, as C)."""
    err = np.abs(d[..., None] * KVALUES - x[..., None].astype(np.float32))
    return np.argmin(err, axis=-1).astype(np.uint8)


def nvfp4_quantize(w: np.ndarray) -> np.ndarray:
    """w float (rows, n), n % 64 == 0 -> NVFP4 bytes (rows, n / 64 * 36): per sub-block of 16,
    d = ue4m3(amax / 6), codes nearest to x at the half scale; in sub-block s of a 64-block,
    value j (low nibble) and j + 8 (high nibble) share qs[8 s + j]."""
    rows, n = w.shape
    sub = w.astype(np.float32).reshape(rows, n // 64, 4, 16)
    amax = np.abs(sub).max(axis=-1)
    d_bytes = NVFP4.fp32_to_ue4m3(amax / np.float32(6.0))
    d = NVFP4.ue4m3_to_fp32(d_bytes).astype(np.float32)
    codes = best_codes(sub, np.broadcast_to(d[..., None], sub.shape))
    qs = codes[..., :8] | (codes[..., 8:] << np.uint8(4))  # (rows, nb, 4, 8)
    blocks = np.concatenate([d_bytes.astype(np.uint8), qs.reshape(rows, n // 64, 32)], axis=-1)
    return blocks.reshape(rows, -1)


_LIB_CANDIDATES = [
    os.environ.get("EDGEQ_LIBGGML_BASE", ""),
    "/tmp/llama/llama_cpp_python-0.3.36/vendor/llama.cpp/build/bin/libggml-base.so",
]


class GgmlLib:
    """llama.cpp's reference FP4 row functions."""

    def __init__(self, path: str):
        self.path = path
        self.lib = ctypes.CDLL(path)
        for name in ("quantize_row_mxfp4_ref", "quantize_row_nvfp4_ref", "dequantize_row_mxfp4",
                     "dequantize_row_nvfp4"):
            getattr(self.lib, name).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
            getattr(self.lib, name).restype = None

    def quantize(self, kind: str, x: np.ndarray, row_bytes: int) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        out = np.zeros((x.shape[0], row_bytes), dtype=np.uint8)
        fn = getattr(self.lib, f"quantize_row_{kind}_ref")
        fn(x.ctypes.data, out.ctypes.data, x.size)
        return out

    def dequantize(self, kind: str, raw: np.ndarray, n: int) -> np.ndarray:
        raw = np.ascontiguousarray(raw, dtype=np.uint8)
        out = np.zeros((raw.shape[0], n), dtype=np.float32)
        getattr(self.lib, f"dequantize_row_{kind}")(raw.ctypes.data, out.ctypes.data, out.size)
        return out


def ggml_lib() -> Optional[GgmlLib]:
    for p in _LIB_CANDIDATES:
        if p and Path(p).is_file():
            try:
                return GgmlLib(p)
            except (OSError, AttributeError):
                return None
    return None
