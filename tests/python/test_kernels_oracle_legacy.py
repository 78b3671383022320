"""The float and legacy-quant kernels against an independent oracle.

The oracle is the `gguf` package's numpy quantizers / dequantizers (byte-identical to llama.cpp's
C reference for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, F16, BF16) and numpy in float64:
  * the reference dequantizers must reproduce gguf's dequantize bit for bit (every ISA too);
  * activation quantization (Q8_0 / Q8_1) must produce exactly the bytes of the numpy model of
    its spec below, on every ISA;
  * matmul on every runnable ISA must match float64 W_deq @ X_qdq^T within a stated bound.
"""
import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as T  # noqa: E402

from edgeq import _core  # noqa: E402

ACT_F32, ACT_Q8_0, ACT_Q8_1 = 0, 1, 2
U = 2.0 ** -24  # unit roundoff of float32
ISAS = _core.runnable_isas()
for _isa in _core.compiled_isas():
    if _isa not in ISAS:
        print(f"SKIP isa {_isa}: not supported by this CPU")


def random_weights(rng, n_out, n_in):
    """Rows with different magnitudes, some blocks all zero, some with an outlier."""
    w = rng.standard_normal((n_out, n_in)).astype(np.float32)
    w *= (10.0 ** rng.uniform(-3, 1, size=(n_out, 1))).astype(np.float32)
    if n_in >= 64:
        w[0, 32:64] = 0.0
    w[-1, 0] *= 50.0
    return w


# ---- Numpy model of the activation quantizer spec (see cpp/kernels/ref/legacy.cpp) -----------
def q8_act(x, with_sum):
    """x float32 (n_tok, n) -> (bytes (n_tok, row bytes), dequantized values float64, s float64).

    d = amax / 127 in float32; q = rint(x / d) (half to even); d stored as fp16;
    Q8_1 also stores s = fp16(d * sum(q)) with the float32 d.
    """
    n_tok, n = x.shape
    xb = x.reshape(n_tok, n // 32, 32).astype(np.float32)
    amax = np.abs(xb).max(axis=-1, keepdims=True)
    d = amax / np.float32(127.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(d != 0, np.rint(xb / d), 0).astype(np.int8)
    d16 = d.astype(np.float16)
    parts = [d16.view(np.uint8).reshape(n_tok, n // 32, 2)]
    s16 = None
    if with_sum:
        s16 = (d * q.astype(np.float32).sum(axis=-1, keepdims=True, dtype=np.float32)).astype(np.float16)
        parts.append(s16.view(np.uint8).reshape(n_tok, n // 32, 2))
    parts.append(q.view(np.uint8))
    raw = np.concatenate(parts, axis=-1).reshape(n_tok, -1)
    deq = (d16.astype(np.float64) * q.astype(np.float64)).reshape(n_tok, n)
    s = None if s16 is None else s16.astype(np.float64).reshape(n_tok, n // 32)
    return raw, deq, s


# ---- Dequantization ---------------------------------------------------------------------------
@pytest.mark.parametrize("qtype", [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.BF16])
def test_dequantize_matches_gguf(qtype):
    rng = np.random.default_rng(1)
    n_out, n_in = 7, 544
    w = random_weights(rng, n_out, n_in)
    raw = gguf.quants.quantize(w, qtype)
    want = gguf.quants.dequantize(raw, qtype).astype(np.float32)
    for isa in ["ref"] + [i for i in ISAS if i != "ref"]:
        got = _core.dequantize(int(qtype), raw, n_in, isa=isa)
        assert got.shape == (n_out, n_in)
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32), err_msg=isa)


def test_f16_all_bit_patterns():
    bits = np.arange(1 << 16, dtype=np.uint16)
    want = bits.view(np.float16).astype(np.float32)
    nan = np.isnan(want)
    for isa in ["ref"] + [i for i in ISAS if i != "ref"]:
        got = _core.dequantize(int(T.F16), bits.view(np.uint8), 1 << 16, isa=isa).reshape(-1)
        # NaNs: only "is NaN" is specified (F16C quiets signalling NaNs); all else bit-exact.
        assert np.array_equal(np.isnan(got), nan), isa
        np.testing.assert_array_equal(got[~nan].view(np.uint32), want[~nan].view(np.uint32), err_msg=isa)


def test_bf16_all_bit_patterns():
    bits = np.arange(1 << 16, dtype=np.uint16)
    want = (bits.astype(np.uint32) << 16).view(np.float32)
    for isa in ["ref"] + [i for i in ISAS if i != "ref"]:
        got = _core.dequantize(int(T.BF16), bits.view(np.uint8), 1 << 16, isa=isa).reshape(-1)
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32), err_msg=isa)


# ---- Activation quantization ------------------------------------------------------------------
def activations(rng, n_tok, n):
    x = rng.standard_normal((n_tok, n)).astype(np.float32) * np.float32(3.0)
    x[0, :32] = 0.0  # an all-zero block: d = 0, q = 0
    if n >= 64:
        # amax = 127 gives d = 1 exactly: x / d = k + 0.5 are ties, half to even decides them.
        x[0, 32:64] = np.arange(32, dtype=np.float32) - np.float32(15.5)
        x[0, 32] = 127.0
    return x


@pytest.mark.parametrize("act,with_sum", [(ACT_Q8_0, False), (ACT_Q8_1, True)])
def test_quantize_act_matches_spec(act, with_sum):
    rng = np.random.default_rng(2)
    x = activations(rng, 5, 256)
    want, _, _ = q8_act(x, with_sum)
    for isa in ISAS:
        got = _core.quantize_act(act, x, isa=isa)
        np.testing.assert_array_equal(got, want, err_msg=isa)


# ---- Matmul -----------------------------------------------------------------------------------
SHAPES = [(1, 32, 1), (3, 96, 2), (17, 544, 5), (67, 96, 9), (5, 64, 16), (9, 128, 33)]


def oracle_quant(qtype, raw, n_out, n_in, x):
    """float64 Y and an error bound for one quantized matmul.

    Kernels compute per 32-block integer dots exactly, then per block t_b = sumi * (dw * dx)
    (+ mw * sx for Q4_1 / Q5_1) in float32 and sum the t_b in float32 (in some order, 8 lanes then a
    tree on SIMD). Each t_b carries <= 2 roundings and a sum of nb terms <= nb + 3 more, so
    |Y - exact| <= (nb + 5) u sum_b |t_b|, and sum_b |t_b| <= S = sum_i |W_i X_i| (plus
    sum_b |mw sx| for Q4_1 / Q5_1). The float64 oracle adds nothing visible. Those two only: the kernel
    uses s = fp16(d * sum q), the oracle the exact d16 * sum q: one more fp16 rounding of s
    (relative 2^-11, absolute 2^-25 when subnormal) times |mw| per block.
    """
    wd = gguf.quants.dequantize(raw, qtype).astype(np.float64).reshape(n_out, n_in)
    has_min = qtype in (T.Q4_1, T.Q5_1)
    _, xd, s = q8_act(x, has_min)
    y = xd @ wd.T
    nb = n_in // 32
    if has_min:  # (d, m) lead the block
        blocks = raw.reshape(n_out, nb, -1)
        m = blocks[:, :, 2:4].copy().view(np.float16).astype(np.float64).reshape(n_out, nb)
        dq = wd - np.repeat(m, 32, axis=1)  # d * q, exact in float64
        S = np.abs(xd) @ np.abs(dq).T + np.abs(s) @ np.abs(m).T
        abs_s = np.abs(xd).reshape(x.shape[0], nb, 32).sum(-1)  # >= |d16 * sum q|
        s_err = (abs_s * 2.0 ** -11 + 2.0 ** -25) @ np.abs(m).T
    else:
        S = np.abs(xd) @ np.abs(wd).T
        s_err = 0.0
    bound = (nb + 5) * U * S + s_err
    return y, bound


@pytest.mark.parametrize("qtype", [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0])
@pytest.mark.parametrize("shape", SHAPES)
def test_matmul_quant_vs_float64(qtype, shape):
    n_out, n_in, n_tok = shape
    rng = np.random.default_rng(n_out * 1000 + n_in + n_tok)
    w = random_weights(rng, n_out, n_in)
    raw = gguf.quants.quantize(w, qtype)
    x = activations(rng, n_tok, n_in)
    want, bound = oracle_quant(qtype, raw, n_out, n_in, x)
    # The same weights in their x16 layout (16 rows interleaved, made at model load), if any.
    x16 = _core.x16_type(int(qtype))
    packed = _core.x16_pack(int(qtype), raw.reshape(-1), n_out, n_in) if x16 else None
    for isa in ISAS:
        got = _core.matmul(int(qtype), raw, n_out, n_in, x, isa=isa).astype(np.float64)
        err = np.abs(got - want)
        assert np.all(err <= bound), f"{isa}: max err {err.max():.3g}, worst ratio {(err / bound).max():.3g}"
        if x16:
            got = _core.matmul(x16, packed, n_out, n_in, x, isa=isa).astype(np.float64)
            err = np.abs(got - want)
            assert np.all(err <= bound), f"{isa} x16: max err {err.max():.3g}"


@pytest.mark.parametrize("qtype", [T.F32, T.F16, T.BF16])
@pytest.mark.parametrize("shape", SHAPES + [(7, 1, 3), (4, 13, 2)])
def test_matmul_float_vs_float64(qtype, shape):
    """F32 activations: float32 products summed in float32. Sequential (ref) or 8 lanes + tree
    (SIMD) summation of n terms: |Y - exact| <= (n + 4) u sum_i |W_i X_i| (products of one
    rounding each, or none with FMA)."""
    n_out, n_in, n_tok = shape
    rng = np.random.default_rng(n_out * 1000 + n_in + n_tok + 7)
    w = random_weights(rng, n_out, n_in)
    if qtype == T.F32:
        raw, wd = w.view(np.uint8), w.astype(np.float64)
    else:
        q = gguf.quants.quantize(w, qtype)
        raw = q.view(np.uint8)  # F16 comes back as float16, BF16 as bytes
        wd = gguf.quants.dequantize(q, qtype).astype(np.float64).reshape(n_out, n_in)
    x = rng.standard_normal((n_tok, n_in)).astype(np.float32)
    want = x.astype(np.float64) @ wd.T
    bound = (n_in + 4) * U * (np.abs(x.astype(np.float64)) @ np.abs(wd).T)
    for isa in ISAS:
        got = _core.matmul(int(qtype), raw, n_out, n_in, x, isa=isa).astype(np.float64)
        err = np.abs(got - want)
        assert np.all(err <= bound), f"{isa}: max err {err.max():.3g}, worst ratio {(err / bound).max():.3g}"


def test_matmul_act_types():
    for isa in ISAS:
        assert _core.matmul_act_type(int(T.Q4_0), isa) == ACT_Q8_0
        assert _core.matmul_act_type(int(T.Q8_0), isa) == ACT_Q8_0
        assert _core.matmul_act_type(int(T.Q4_1), isa) == ACT_Q8_1
        assert _core.matmul_act_type(int(T.Q5_0), isa) == ACT_Q8_0
        assert _core.matmul_act_type(int(T.Q5_1), isa) == ACT_Q8_1
        for t in (T.F32, T.F16, T.BF16):
            assert _core.matmul_act_type(int(t), isa) == ACT_F32
