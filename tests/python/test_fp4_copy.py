"""edgeq.fp4_copy (the MXFP4 / NVFP4 copies of real models that the GPU tests and bench/cuda_forward.py
use): which tensors it converts, that everything else is copied byte for byte, and that the copy's
matrices are the FP4 quantizer's output for the original's float values."""
import numpy as np
import pytest
from gguf import GGMLQuantizationType as T

from edgeq import _core
from edgeq.fp4_copy import write_fp4_copy
from edgeq.gguf import open_gguf
from edgeq.model import load_model
from edgeq.quant_formats import to_float32
from tiny_llama import write_tiny_llama


@pytest.mark.parametrize("qtype", [T.MXFP4, T.NVFP4], ids=lambda t: t.name)
def test_fp4_copy(tmp_path, qtype):
    src, dst = tmp_path / "q8.gguf", tmp_path / "fp4.gguf"
    write_tiny_llama(src, T.Q8_0, n_ff=128)
    n = write_fp4_copy(str(src), str(dst), qtype.name)
    with open_gguf(src) as a, open_gguf(dst) as b:
        assert dict(a.metadata) == dict(b.metadata)
        assert [t.name for t in a] == [t.name for t in b]
        converted = 0
        for ta in a:
            tb = b.tensors[ta.name]
            raw = np.asarray(b.tensor_bytes(ta.name))
            if len(ta.shape) == 2:
                assert tb.type == int(qtype)
                want = _core.quantize(int(qtype), to_float32(ta.type, np.asarray(a.tensor_bytes(ta.name)),
                                                             int(ta.shape[0])))
                assert np.array_equal(raw, want.reshape(-1))
                converted += 1
            else:
                assert tb.type == ta.type and np.array_equal(raw, np.asarray(a.tensor_bytes(ta.name)))
        assert converted == n == 1 + 7 * 2 + 1
    m = load_model(dst)
    assert np.isfinite(m.eval([1, 2, 3])).all()
