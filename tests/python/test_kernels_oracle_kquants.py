"""Q4_K / Q6_K kernels against an independent oracle: the `gguf` package's numpy dequantizers.

- The scalar reference's dequantize_row must equal gguf's float32 result exactly.
- Q8_K activation quantization (gguf has none) is checked against a numpy transcription of
  ggml's quantize_row_q8_K_ref, byte for byte, for every runnable ISA.
- matmul for every runnable ISA matches float64 W @ x^T, with W taken exactly from gguf's
  dequantizer (see exact_weights) and x the Q8_K-dequantized activations, within the float
  rounding bound explained in check_matmul.
"""
import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as QT  # noqa: E402
from gguf.quants import dequantize  # noqa: E402

from edgeq import _core  # noqa: E402

QK_K = 256
Q4_K, Q6_K = int(QT.Q4_K), int(QT.Q6_K)
ACT_Q8_K = 3
BLOCK_BYTES = {Q4_K: 144, Q6_K: 210}
Q8K_BYTES = 292  # float d, int8 qs[256], int16 bsums[16]
EPS32 = 2.0**-24  # unit roundoff of float32

RUNNABLE = _core.runnable_isas()
SKIPPED = [isa for isa in _core.compiled_isas() if isa not in RUNNABLE]
if SKIPPED:
    print("skipped ISAs (not supported by this CPU):", ", ".join(SKIPPED))


def random_fp16(rng, shape, lo, hi):
    """Random fp16 bit patterns with |value| in [lo, hi] and random sign."""
    v = rng.uniform(lo, hi, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return v.astype(np.float16).view(np.uint8).reshape(shape + (2,))


def random_blocks(rng, qtype, n_rows, n_in):
    """Random bytes are valid K-quant blocks; only the fp16 super-block scales are set to moderate
    finite values (random bytes could be inf/nan or 1e4)."""
    nb = n_in // QK_K
    blocks = rng.integers(0, 256, size=(n_rows, nb, BLOCK_BYTES[qtype]), dtype=np.uint8)
    if qtype == Q4_K:
        blocks[:, :, 0:2] = random_fp16(rng, (n_rows, nb), 1e-3, 0.1)  # d
        blocks[:, :, 2:4] = random_fp16(rng, (n_rows, nb), 1e-3, 0.1)  # dmin
    else:
        blocks[:, :, 208:210] = random_fp16(rng, (n_rows, nb), 1e-3, 0.1)  # d
    return blocks.reshape(n_rows, -1)


def set_fp16(blocks, qtype, field_offset, value, n_in):
    """Copy of `blocks` with one fp16 field of every super-block replaced by `value`."""
    b = blocks.reshape(blocks.shape[0], n_in // QK_K, BLOCK_BYTES[qtype]).copy()
    b[:, :, field_offset:field_offset + 2] = np.array([value], dtype=np.float16).view(np.uint8)
    return b.reshape(blocks.shape)


def exact_weights(blocks, qtype, n_in):
    """(W exact in float64, |W| as the sum of absolute parts), both (n_rows, n_in), from gguf only.

    Q4_K: w = (d sc) q - dmin m. gguf's float32 parts are exact: d sc q has <= 11+6+4 significant
    bits and dmin m <= 11+6, so dequantizing with dmin = 0 gives P = d sc q and with d = 0 gives
    N = -dmin m exactly; W = P + N in float64. Q6_K: w = d * (sc (q - 32)); with d = 1 gguf gives
    the integer sc (q - 32) exactly, then scale by d in float64."""
    rows = blocks.shape[0]
    if qtype == Q4_K:
        P = dequantize(set_fp16(blocks, qtype, 2, 0.0, n_in), QT.Q4_K).astype(np.float64)
        N = dequantize(set_fp16(blocks, qtype, 0, 0.0, n_in), QT.Q4_K).astype(np.float64)
        return P + N, np.abs(P) + np.abs(N)
    ints = dequantize(set_fp16(blocks, qtype, 208, 1.0, n_in), QT.Q6_K).astype(np.float64)
    d = blocks.reshape(rows, n_in // QK_K, 210)[:, :, 208:210].copy().view(np.float16).astype(np.float64)
    W = (ints.reshape(rows, -1, QK_K) * d).reshape(rows, n_in)
    return W, np.abs(W)


def q8k_numpy(x):
    """ggml's quantize_row_q8_K_ref in numpy float32: (n,) -> bytes of n/256 block_q8_K."""
    out = bytearray()
    for blk in x.astype(np.float32).reshape(-1, QK_K):
        i = int(np.argmax(np.abs(blk)))  # first index of the largest |x|
        if blk[i] == 0:
            out += bytes(Q8K_BYTES)
            continue
        iscale = np.float32(-127.0) / blk[i]
        q = np.minimum(np.rint(iscale * blk), 127).astype(np.int8)  # rint: half to even
        bsums = q.astype(np.int32).reshape(16, 16).sum(axis=1).astype(np.int16)
        out += (np.float32(1.0) / iscale).tobytes() + q.tobytes() + bsums.tobytes()
    return bytes(out)


def q8k_dequant(xq, n):
    """Q8_K bytes (n_tok, row bytes) -> float64 (n_tok, n)."""
    blocks = np.asarray(xq).reshape(-1, Q8K_BYTES)
    d = blocks[:, 0:4].copy().view(np.float32).astype(np.float64)
    q = blocks[:, 4:260].copy().view(np.int8).astype(np.float64)
    return (d * q).reshape(-1, n)


@pytest.mark.parametrize("qtype", [Q4_K, Q6_K], ids=["Q4_K", "Q6_K"])
@pytest.mark.parametrize("n_in", [256, 1536])
def test_ref_dequantize_matches_gguf(qtype, n_in):
    rng = np.random.default_rng(1000 + qtype + n_in)
    blocks = random_blocks(rng, qtype, 7, n_in)
    want = dequantize(blocks, QT(qtype)).astype(np.float32)
    got = _core.dequantize(qtype, blocks.reshape(-1), n_in, isa="ref")
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    for isa in RUNNABLE:  # every ISA's dequantizer equals the reference bit for bit
        np.testing.assert_array_equal(_core.dequantize(qtype, blocks.reshape(-1), n_in, isa=isa), got)


@pytest.mark.parametrize("isa", RUNNABLE)
def test_q8k_quantize_matches_numpy(isa):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 768)).astype(np.float32)
    x[1, :256] = 0.0  # all-zero block: d = 0
    x[2, 10], x[2, 200] = -3.5, 3.5  # tie in |x|: the first one sets the sign of d
    x[3, 300], x[3, 301] = 4.0, -4.0
    x[4] *= 1e-3
    got = _core.quantize_act(ACT_Q8_K, x, isa=isa)
    for t in range(x.shape[0]):
        assert bytes(got[t]) == q8k_numpy(x[t]), f"{isa}: token {t}"


@pytest.mark.parametrize("isa", RUNNABLE)
@pytest.mark.parametrize("qtype", [Q4_K, Q6_K], ids=["Q4_K", "Q6_K"])
@pytest.mark.parametrize("n_out,n_in,n_tok", [(1, 256, 1), (5, 768, 1), (17, 1536, 1), (3, 256, 2),
                                               (13, 768, 9), (20, 512, 33)])
def test_matmul_matches_float64(isa, qtype, n_out, n_in, n_tok):
    rng = np.random.default_rng(n_out * 1000 + n_in + n_tok)
    blocks = random_blocks(rng, qtype, n_out, n_in)
    x = rng.standard_normal((n_tok, n_in)).astype(np.float32)
    y = _core.matmul(qtype, blocks.reshape(-1), n_out, n_in, x, isa=isa)
    xq = q8k_dequant(_core.quantize_act(ACT_Q8_K, x, isa="ref"), n_in)
    W, W_abs = exact_weights(blocks, qtype, n_in)
    want = xq @ W.T
    # Bound: per super-block the integer sums are exact; what rounds is float32 work on at most
    # nb + 8 terms per output (int32 -> float conversion, the d_w * d_x product, the scaling
    # product, the min subtraction, the accumulation over nb blocks, an 8- or 16-lane horizontal
    # sum in SIMD code). Each step's error is <= EPS32 times a partial sum bounded by
    # M = sum_k |w_k| |x_k| (|w| split into its scale and min parts for Q4_K), so
    # |err| <= 4 (nb + 8) EPS32 M with a factor 4 of slack.
    nb = n_in // QK_K
    M = np.abs(xq) @ W_abs.T
    bound = 4 * (nb + 8) * EPS32 * M + 1e-30
    err = np.abs(y.astype(np.float64) - want)
    assert np.all(err <= bound), f"{isa}: max err/bound {np.max(err / bound):.3g}"
    assert np.max(M) > 0  # the comparison compared something
    # The same weights in their x16 layout (16 rows interleaved, made at model load).
    x16 = _core.x16_type(qtype)
    y16 = _core.matmul(x16, _core.x16_pack(qtype, blocks.reshape(-1), n_out, n_in), n_out, n_in, x, isa=isa)
    err = np.abs(y16.astype(np.float64) - want)
    assert np.all(err <= bound), f"{isa} x16: max err/bound {np.max(err / bound):.3g}"
