"""An MXFP4 or NVFP4 copy of a GGUF model, for the GPU tests and benchmarks (`edgeq quantize`
does not write the FP4 types): every 2-D weight matrix whose rows are whole FP4 blocks is
dequantized to float32 and requantized with edgeq's FP4 quantizer (_core.quantize: ggml's MXFP4
rule, llama.cpp's NVFP4 one, no per-tensor scale); every other tensor and all metadata are copied
byte for byte.

    python -m edgeq.fp4_copy IN.gguf OUT.gguf MXFP4|NVFP4
"""
from __future__ import annotations

import sys

import numpy as np

from . import _core
from .gguf import GGML_TYPE_IDS, open_gguf
from .gguf_write import GGUFStreamWriter, TensorSpec, tensor_nbytes
from .quant_formats import to_float32

BLOCK = {"MXFP4": 32, "NVFP4": 64}


def write_fp4_copy(src: str, dst: str, type_name: str) -> int:
    """Writes dst; returns how many matrices became FP4."""
    type_id, block = GGML_TYPE_IDS[type_name], BLOCK[type_name]
    n_fp4 = 0
    with open_gguf(src) as g, open(dst, "wb") as f:
        plan = []
        for t in g:
            fp4 = len(t.shape) == 2 and t.shape[0] % block == 0 and t.name.endswith(".weight")
            plan.append((t, type_id if fp4 else t.type))
            n_fp4 += fp4
        w = GGUFStreamWriter(f, g.alignment)
        w.write_header([g.metadata_entry_bytes(k) for k in g.metadata],
                       [TensorSpec(t.name, tuple(t.shape), ty, tensor_nbytes(ty, t.shape)) for t, ty in plan])
        for t, ty in plan:
            data = np.asarray(g.tensor_bytes(t.name))
            if ty != t.type:
                data = _core.quantize(ty, to_float32(t.type, data, int(t.shape[0])))
            w.write_tensor_data(np.ascontiguousarray(data).tobytes())
            w.end_tensor()
        w.finish()
    return n_fp4


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[3] not in BLOCK:
        sys.exit(__doc__.strip().splitlines()[-1].strip())
    print(f"{write_fp4_copy(sys.argv[1], sys.argv[2], sys.argv[3])} matrices in {sys.argv[3]}")
