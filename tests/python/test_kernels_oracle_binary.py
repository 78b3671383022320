"""Q1_0 (binary) kernels and quantizer against independent oracles. The `gguf` package knows the
type (id 41, blocks of 128, 18 bytes) but has no Q1_0 quantizer or dequantizer, so the oracles are
numpy / plain-Python transcriptions of llama.cpp's C reference (q1_0_ref.py):

- dequantize_row (reference and every ISA) equals the transcription of dequantize_row_q1_0 exactly.
- edgeq's numpy quantizer (quant_formats, what `edgeq quantize --type Q1_0` writes) equals a
  loop-by-loop Python transcription of quantize_row_q1_0_ref byte for byte.
- ACT_Q8_PLANES activation rows equal a numpy transcription of their definition (kernels.h) byte
  for byte, for every runnable ISA.
- matmul for every runnable ISA matches float64 W @ x^T within a rounding bound and equals the
  reference bit for bit.
(tests/python/test_quantize.py checks the bytes against llama-quantize itself when it is there.)
"""
import struct

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as QT  # noqa: E402

from edgeq import _core  # noqa: E402
from edgeq.quant_formats import FORMATS  # noqa: E402
from q1_0_ref import dequantize_q1_0, quantize_row_q1_0_ref  # noqa: E402

Q1_0 = int(QT.Q1_0)
QK = 128
ACT_Q8_PLANES = _core.ACT_Q8_PLANES
EPS32 = 2.0**-24
RUNNABLE = _core.runnable_isas()


def test_type_facts():
    assert Q1_0 == 41 and gguf.GGML_QUANT_SIZES[QT.Q1_0] == (128, 18)
    assert _core.block_size(Q1_0) == 128 and _core.type_size(Q1_0) == 18
    assert all(_core.matmul_act_type(Q1_0, isa) == ACT_Q8_PLANES for isa in RUNNABLE)


def q8_planes_numpy(x):
    """ACT_Q8_PLANES row of x (n,) per kernels.h: per 128 values float d = amax / 127,
    q = rint(x / d) (half to even; 0 if d == 0), int32 sum of q, then plane b (16 bytes) = bit b of
    the int8 q, value j at bit j % 8 of byte j / 8."""
    out = bytearray()
    for blk in np.asarray(x, dtype=np.float32).reshape(-1, QK):
        d = np.float32(np.max(np.abs(blk)) / np.float32(127))
        q = np.rint(blk / d).astype(np.int8) if d != 0 else np.zeros(QK, np.int8)
        planes = [np.packbits((q.view(np.uint8) >> b) & 1, bitorder="little").tobytes() for b in range(8)]
        out += d.tobytes() + struct.pack("<i", int(q.astype(np.int64).sum())) + b"".join(planes)
    return bytes(out)


def random_blocks(rng, n_rows, n_in):
    nb = n_in // QK
    blocks = rng.integers(0, 256, size=(n_rows, nb, 18), dtype=np.uint8)
    d = rng.uniform(1e-3, 1.0, size=(n_rows, nb)) * rng.choice([-1.0, 1.0], size=(n_rows, nb))
    if n_rows:
        d[0, 0] = 0.0  # an all-zero scale
    blocks[:, :, :2] = d.astype(np.float16).view(np.uint8).reshape(n_rows, nb, 2)
    return blocks.reshape(n_rows, nb * 18)


def test_quantizer_matches_llama_cpp_reference():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 512)).astype(np.float32)
    x[0, :QK] = 0.0  # d = 0, all bits set (0 >= 0)
    x[1, 3], x[1, 4] = -0.0, np.float32(-1e-30)  # -0.0 >= 0 sets the bit; a tiny negative does not
    x[2] *= 1e4
    got = FORMATS["Q1_0"].quantize(x, 1)
    assert got.shape == (3, 4 * 18)
    for r in range(3):
        assert bytes(got[r]) == quantize_row_q1_0_ref(x[r]), f"row {r}"


@pytest.mark.parametrize("n_in", [128, 640, 2048])
def test_dequantize_matches_llama_cpp_reference(n_in):
    rng = np.random.default_rng(n_in)
    w = rng.standard_normal((4, n_in)).astype(np.float32)
    blocks = np.concatenate([FORMATS["Q1_0"].quantize(w, 1), random_blocks(rng, 3, n_in)])
    want = dequantize_q1_0(blocks).reshape(-1, n_in)
    got = _core.dequantize(Q1_0, blocks.reshape(-1), n_in, isa="ref")
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    # Sanity of the test data: sign(w) survives, |w| becomes the block mean.
    assert np.all((got[:4] >= 0) == (w >= 0))
    for isa in RUNNABLE:
        np.testing.assert_array_equal(_core.dequantize(Q1_0, blocks.reshape(-1), n_in, isa=isa).view(np.uint32),
                                      got.view(np.uint32))


@pytest.mark.parametrize("isa", RUNNABLE)
def test_act_planes_match_numpy(isa):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((6, 640)).astype(np.float32)
    x[1] = 0.0
    x[2, 10], x[2, 200] = -3.5, 3.5  # ties in |x|
    x[3] = np.round(x[3] * 40) / 2  # halves: ties after the division where d == 1
    x[3, ::QK] = 127.0
    x[4] *= 1e-7
    x[5] *= 1e4
    got = _core.quantize_act(ACT_Q8_PLANES, x, isa=isa)
    for t in range(x.shape[0]):
        assert bytes(got[t]) == q8_planes_numpy(x[t]), f"{isa}: token {t}"


def planes_dequant(xq, n):
    """ACT_Q8_PLANES rows -> float64 (n_tok, n) = d * q."""
    rows = np.asarray(xq, dtype=np.uint8).reshape(xq.shape[0], n // QK, 136)
    d = rows[:, :, :4].copy().view(np.float32).astype(np.float64)  # (t, nb, 1)
    bits = np.unpackbits(rows[:, :, 8:].reshape(rows.shape[0], n // QK, 8, 16), axis=3, bitorder="little")
    q = (bits.astype(np.int64) << np.arange(8)[None, None, :, None]).sum(axis=2)  # (t, nb, 128), unsigned
    q = np.where(q >= 128, q - 256, q)
    return (q * d).reshape(rows.shape[0], n)


@pytest.mark.parametrize("isa", RUNNABLE)
@pytest.mark.parametrize("n_out,n_in,n_tok", [(1, 128, 1), (5, 640, 1), (37, 2048, 1), (3, 256, 2),
                                               (19, 640, 9), (40, 384, 70)])
def test_matmul_matches_float64(isa, n_out, n_in, n_tok):
    rng = np.random.default_rng(n_out * 1000 + n_in + n_tok)
    w = rng.standard_normal((n_out - n_out // 2, n_in)).astype(np.float32)
    blocks = np.concatenate([FORMATS["Q1_0"].quantize(w, 1), random_blocks(rng, n_out // 2, n_in)])
    x = rng.standard_normal((n_tok, n_in)).astype(np.float32)
    y = _core.matmul(Q1_0, blocks.reshape(-1), n_out, n_in, x, isa=isa)
    xq = planes_dequant(_core.quantize_act(ACT_Q8_PLANES, x, isa="ref"), n_in)
    W = dequantize_q1_0(blocks).reshape(n_out, n_in).astype(np.float64)
    want = xq @ W.T
    # Per block the integer sum is exact; what rounds is d_w * d_x (<= EPS32 relative) and one fused
    # multiply-add per block (<= EPS32 times a partial sum bounded by M = sum |w| |x|):
    # |err| <= (2 nb + 1) EPS32 M; a factor 2 of slack.
    nb = n_in // QK
    M = np.abs(xq) @ np.abs(W).T
    bound = 2 * (2 * nb + 1) * EPS32 * M + 1e-30
    err = np.abs(y.astype(np.float64) - want)
    assert np.all(err <= bound), f"{isa}: max err/bound {np.max(err / bound):.3g}"
    assert np.max(M) > 0
    ref = _core.matmul(Q1_0, blocks.reshape(-1), n_out, n_in, x, isa="ref")
    np.testing.assert_array_equal(y.view(np.uint32), ref.view(np.uint32))


# ---- opt-in binary activations (ACT_B1, XNOR-popcount; EDGEQ_Q1_0_ACT=binary) -----------------

ACT_B1 = _core.ACT_B1


def b1_numpy(x):
    """ACT_B1 row of x (n,) per kernels.h: per 128 values float d = (sum |x| left to right in
    float32) / 128, then the sign bits (set iff x >= 0), value j at bit j % 8 of byte j / 8."""
    out = bytearray()
    for blk in np.asarray(x, dtype=np.float32).reshape(-1, QK):
        d = np.cumsum(np.abs(blk), dtype=np.float32)[-1] / np.float32(QK)
        out += np.float32(d).tobytes() + np.packbits(blk >= 0, bitorder="little").tobytes()
    return bytes(out)


@pytest.mark.parametrize("isa", RUNNABLE)
def test_b1_activations_match_numpy(isa):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((4, 640)).astype(np.float32)
    x[1] = 0.0
    x[2, 3] = -0.0
    x[3] *= 1e4
    got = _core.quantize_act(ACT_B1, x, isa=isa)
    for t in range(x.shape[0]):
        assert bytes(got[t]) == b1_numpy(x[t]), f"{isa}: token {t}"


@pytest.mark.parametrize("isa", RUNNABLE)
@pytest.mark.parametrize("n_out,n_in,n_tok", [(1, 128, 1), (37, 2048, 1), (19, 640, 9), (40, 384, 70)])
def test_binary_act_matmul_matches_float64(isa, n_out, n_in, n_tok):
    """W (dequantized, exact) times the binarized x (d_x * sign x, float64) within the same
    rounding bound as the int8 kernel; bit-exact with the reference."""
    rng = np.random.default_rng(n_out * 7 + n_in + n_tok)
    blocks = np.concatenate([FORMATS["Q1_0"].quantize(rng.standard_normal((n_out - n_out // 2, n_in)).astype(np.float32), 1),
                             random_blocks(rng, n_out // 2, n_in)])
    x = rng.standard_normal((n_tok, n_in)).astype(np.float32)
    y = _core.matmul(Q1_0, blocks.reshape(-1), n_out, n_in, x, isa=isa, binary_act=True)
    xb = _core.quantize_act(ACT_B1, x, isa="ref").reshape(n_tok, n_in // QK, 20)
    d = xb[:, :, :4].copy().view(np.float32).astype(np.float64)
    signs = np.where(np.unpackbits(xb[:, :, 4:], axis=2, bitorder="little") == 1, 1.0, -1.0)
    xf = (signs * d).reshape(n_tok, n_in)
    W = dequantize_q1_0(blocks).reshape(n_out, n_in).astype(np.float64)
    want = xf @ W.T
    nb = n_in // QK
    M = np.abs(xf) @ np.abs(W).T
    bound = 2 * (2 * nb + 1) * EPS32 * M + 1e-30
    err = np.abs(y.astype(np.float64) - want)
    assert np.all(err <= bound), f"{isa}: max err/bound {np.max(err / bound):.3g}"
    ref = _core.matmul(Q1_0, blocks.reshape(-1), n_out, n_in, x, isa="ref", binary_act=True)
    np.testing.assert_array_equal(y.view(np.uint32), ref.view(np.uint32))
    # A different numeric result from the int8 kernel (documented): not equal, but correlated.
    y8 = _core.matmul(Q1_0, blocks.reshape(-1), n_out, n_in, x, isa=isa)
    assert not np.array_equal(y, y8)
    if n_out * n_tok > 100:
        assert np.corrcoef(y.ravel(), y8.ravel())[0, 1] > 0.5


def test_binary_act_rejects_other_types():
    with pytest.raises(ValueError, match="Q1_0 weights only"):
        _core.matmul(2, np.zeros(18 * 4, np.uint8), 1, 128, np.zeros((1, 128), np.float32), binary_act=True)
