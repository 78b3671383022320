"""TQ2_0 / TQ1_0 kernels against an independent oracle: the `gguf` package's numpy quantizers
and dequantizers (byte-identical to llama.cpp's C reference).

- The scalar reference's dequantize_row equals gguf's float32 result exactly, for blocks that
  gguf's own quantizer wrote and for random bytes; every ISA equals the reference bit for bit.
- ACT_I8_TOKEN quantization (gguf has none) is checked byte for byte against a numpy
  transcription of bitnet.cpp's quantize_row_i8_s, for every runnable ISA.
- matmul for every runnable ISA matches float64 W @ x^T (W from gguf's dequantizer, exact; x the
  dequantized int8 activations q / s) within the rounding bound in test_matmul_matches_float64,
  and equals the reference bit for bit.
"""
import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as QT  # noqa: E402
from gguf.quants import dequantize, quantize  # noqa: E402

from edgeq import _core  # noqa: E402

QK_K = 256
TQ1_0, TQ2_0 = int(QT.TQ1_0), int(QT.TQ2_0)
ACT_I8_TOKEN = 4
BLOCK_BYTES = {TQ1_0: 54, TQ2_0: 66}
EPS32 = 2.0**-24  # unit roundoff of float32

RUNNABLE = _core.runnable_isas()
SKIPPED = [isa for isa in _core.compiled_isas() if isa not in RUNNABLE]
if SKIPPED:
    print("skipped ISAs (not supported by this CPU):", ", ".join(SKIPPED))


def ternary_weights(rng, n_rows, n_in, zero_frac=0.3):
    """BitNet-like float weights: scale * {-1, 0, 1}, one scale per row, some all-zero blocks."""
    t = rng.choice([-1.0, 0.0, 1.0], size=(n_rows, n_in), p=[(1 - zero_frac) / 2, zero_frac, (1 - zero_frac) / 2])
    w = (t * rng.uniform(0.01, 2.0, size=(n_rows, 1))).astype(np.float32)
    if n_in >= 2 * QK_K:
        w[0, QK_K:2 * QK_K] = 0.0  # an all-zero block: d = 0
    return w


def random_blocks(rng, qtype, n_rows, n_in):
    """Random bytes are valid TQ blocks (TQ2_0 code 3 decodes to +2, as in ggml); the fp16 d is
    set to moderate finite values of either sign."""
    nb = n_in // QK_K
    blocks = rng.integers(0, 256, size=(n_rows, nb, BLOCK_BYTES[qtype]), dtype=np.uint8)
    d = rng.uniform(1e-3, 1.0, size=(n_rows, nb)) * rng.choice([-1.0, 1.0], size=(n_rows, nb))
    blocks[:, :, -2:] = d.astype(np.float16).view(np.uint8).reshape(n_rows, nb, 2)
    return blocks.reshape(n_rows, nb * BLOCK_BYTES[qtype])


def i8_token_numpy(x):
    """bitnet.cpp's quantize_row_i8_s in numpy: (n,) float32 -> the ACT_I8_TOKEN row bytes."""
    x = x.astype(np.float32)
    n = x.shape[0]
    amax = max(1e-5, float(np.max(np.abs(x))))  # in double, as bitnet.cpp
    s = np.float32(127.0 / amax)
    q = np.clip(np.rint(x * s), -128, 127).astype(np.int8)  # x * s in float32; rint: half to even
    bsum = q.astype(np.int32).reshape(-1, QK_K).sum(axis=1).astype(np.int32)
    row = q.tobytes() + s.tobytes() + bsum.tobytes()
    return row + bytes(-len(row) % 64)


def i8_token_dequant(xq, n):
    """ACT_I8_TOKEN rows (n_tok, row bytes) -> float64 (n_tok, n) = q / s."""
    xq = np.asarray(xq)
    q = xq[:, :n].copy().view(np.int8).astype(np.float64)
    s = xq[:, n:n + 4].copy().view(np.float32).astype(np.float64)
    return q / s


@pytest.mark.parametrize("qtype", [TQ1_0, TQ2_0], ids=["TQ1_0", "TQ2_0"])
@pytest.mark.parametrize("n_in", [256, 2560])
def test_ref_dequantize_matches_gguf(qtype, n_in):
    rng = np.random.default_rng(2000 + qtype + n_in)
    w = ternary_weights(rng, 5, n_in)
    blocks = np.concatenate([quantize(w, QT(qtype)), random_blocks(rng, qtype, 4, n_in)])
    want = dequantize(blocks, QT(qtype)).astype(np.float32)
    got = _core.dequantize(qtype, blocks.reshape(-1), n_in, isa="ref")
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    # gguf's quantizer is lossless on ternary weights up to the fp16 scale: a sanity check that
    # the test data is what it claims to be.
    np.testing.assert_allclose(got[:5], w, rtol=1e-3)
    for isa in RUNNABLE:
        np.testing.assert_array_equal(_core.dequantize(qtype, blocks.reshape(-1), n_in, isa=isa), got)


@pytest.mark.parametrize("isa", RUNNABLE)
def test_i8_token_quantize_matches_numpy(isa):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((6, 768)).astype(np.float32)
    x[1] = 0.0  # all zero: max floors at 1e-5, q = 0
    x[2, 10], x[2, 200] = -3.5, 3.5  # ties in |x|
    x[3] = np.round(x[3] * 4) / 4 * (127 / 4.0)  # many exact .5 products: half to even
    x[3, 0] = 127.0
    x[4] *= 1e-7  # below the 1e-5 floor
    x[5] *= 1e4
    got = _core.quantize_act(ACT_I8_TOKEN, x, isa=isa)
    for t in range(x.shape[0]):
        assert bytes(got[t]) == i8_token_numpy(x[t]), f"{isa}: token {t}"


@pytest.mark.parametrize("isa", RUNNABLE)
@pytest.mark.parametrize("qtype", [TQ1_0, TQ2_0], ids=["TQ1_0", "TQ2_0"])
@pytest.mark.parametrize("n_out,n_in,n_tok", [(1, 256, 1), (5, 768, 1), (17, 2560, 1), (3, 256, 2),
                                               (13, 768, 9), (20, 512, 33)])
def test_matmul_matches_float64(isa, qtype, n_out, n_in, n_tok):
    rng = np.random.default_rng(n_out * 1000 + n_in + n_tok + qtype)
    blocks = np.concatenate([quantize(ternary_weights(rng, n_out - n_out // 2, n_in), QT(qtype)),
                             random_blocks(rng, qtype, n_out // 2, n_in)])
    x = rng.standard_normal((n_tok, n_in)).astype(np.float32)
    y = _core.matmul(qtype, blocks.reshape(-1), n_out, n_in, x, isa=isa)
    xq = i8_token_dequant(_core.quantize_act(ACT_I8_TOKEN, x, isa="ref"), n_in)
    W = dequantize(blocks, QT(qtype)).astype(np.float64)  # d * (c - 1): exact in float32
    want = xq @ W.T
    # Bound: per block the integer sum is exact and (float)isum_b is exact; what rounds is one
    # fused multiply-add per block (nb roundings, each <= EPS32 times a partial sum bounded by
    # s * M, M = sum_k |w_k| |x_k|) and the final division by s (<= EPS32 |y|, |y| <= M):
    # |err| <= (nb + 1) EPS32 M; a factor 2 of slack.
    nb = n_in // QK_K
    M = np.abs(xq) @ np.abs(W).T
    bound = 2 * (nb + 1) * EPS32 * M + 1e-30
    err = np.abs(y.astype(np.float64) - want)
    assert np.all(err <= bound), f"{isa}: max err/bound {np.max(err / bound):.3g}"
    assert np.max(M) > 0  # the comparison compared something
    ref = _core.matmul(qtype, blocks.reshape(-1), n_out, n_in, x, isa="ref")
    np.testing.assert_array_equal(y.view(np.uint32), ref.view(np.uint32))  # integer kernel: bit-exact
