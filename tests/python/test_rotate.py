"""The residual-stream rotation (edgeq.rotate, QuaRot's weight folding) is exact in float: the
rotated F32 model's logits equal the original's within float32 rounding, tied or not, with and
without the value-head rotation; and it really rotated (the weights and norms changed)."""
import numpy as np
import pytest
from gguf import GGMLQuantizationType as T

from edgeq.gguf import open_gguf
from edgeq.model import load_model
from edgeq.quant_formats import to_float32
from edgeq.rotate import RotateError, random_orthogonal, rotate_file
from tiny_llama import write_tiny_llama

IDS = [1, 5, 9, 22, 7, 3, 11, 40, 2, 17]


def matrix(path, name):
    with open_gguf(str(path)) as g:
        t = g.tensors[name]
        return to_float32(t.type, g.tensor_bytes(name), t.shape[0]).reshape(tuple(reversed(t.shape)))


def test_random_orthogonal():
    q = random_orthogonal(24, 7)
    assert np.allclose(q @ q.T, np.eye(24), atol=1e-12)
    assert not np.allclose(q, random_orthogonal(24, 8))


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("heads", [False, True])
def test_rotation_keeps_the_logits(tmp_path, tied, heads):
    src, dst = tmp_path / "m.gguf", tmp_path / "rot.gguf"
    write_tiny_llama(src, T.F32, tied=tied, n_embd=64, n_head=4, n_head_kv=2)
    assert not np.allclose(matrix(src, "blk.0.attn_norm.weight"), 1.0)  # the fold is exercised
    rotate_file(str(src), str(dst), seed=3, out_type="F32", rotate_heads=heads)
    with open_gguf(str(dst)) as g:
        assert "output.weight" in g.tensors  # a tied output becomes explicit
    assert np.array_equal(matrix(dst, "blk.1.ffn_norm.weight"), np.ones(64, np.float32))
    assert not np.allclose(matrix(dst, "blk.0.attn_q.weight"), matrix(src, "blk.0.attn_q.weight"), atol=1e-3)
    a = load_model(str(src), n_threads=1).eval(IDS, all_logits=True)
    b = load_model(str(dst), n_threads=1).eval(IDS, all_logits=True)
    # float32 rounding through 2 layers: ~1e-6 of the logits' scale; a wrong fold is O(1)
    assert np.abs(a - b).max() <= 2e-5 * np.abs(a).max(), np.abs(a - b).max()


def test_rotation_refuses_other_architectures(tmp_path):
    src = tmp_path / "b.gguf"
    write_tiny_llama(src, T.F32, arch="bitnet-b1.58")
    with pytest.raises(RotateError, match="llama models"):
        rotate_file(str(src), str(tmp_path / "r.gguf"))
