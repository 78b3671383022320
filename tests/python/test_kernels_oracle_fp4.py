"""The FP4 kernels (MXFP4, NVFP4) against independent oracles.

  * MXFP4 quantization: byte-identical to the gguf package's numpy quantizer (itself identical
    to llama.cpp's C reference) and, when installed, to llama.cpp's libggml-base itself;
  * NVFP4 quantization: byte-identical to a numpy model of llama.cpp's quantize_row_nvfp4_ref
    (fp4_ref.py, on the gguf package's UE4M3 conversions) and to libggml-base when installed;
  * dequantization on every ISA: bit-identical to the gguf package's dequantizers, on random bytes
    covering every code and every scale byte;
  * matmul on every ISA: float64 W_deq @ X_qdq^T within a stated bound (X_qdq: the Q8_0
    activation values, modelled in test_kernels_oracle_legacy.q8_act).
"""
import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as T  # noqa: E402

from edgeq import _core  # noqa: E402
from fp4_ref import ggml_lib, nvfp4_quantize  # noqa: E402
from test_kernels_oracle_legacy import U, activations, q8_act, random_weights  # noqa: E402

ACT_Q8_0 = 1
ISAS = _core.runnable_isas()
ALL = ["ref"] + [i for i in ISAS if i != "ref"]
GGML = ggml_lib()
needs_ggml = pytest.mark.skipif(GGML is None, reason="llama.cpp's libggml-base.so not found "
                                "(set EDGEQ_LIBGGML_BASE to compare with llama.cpp's C reference)")
ROW_BYTES = {T.MXFP4: lambda n: n // 32 * 17, T.NVFP4: lambda n: n // 64 * 36}


def fp4_weights(rng, n_out, n_in):
    """random_weights plus blocks that stress the scale choice: an amax exactly a power of two,
    values just below one (log2 rounding), tiny and huge magnitudes."""
    w = random_weights(rng, n_out, n_in)
    w[1 % n_out, :32] = np.float32(2.0) ** rng.integers(-20, 20, 32)
    w[2 % n_out, 32:64] = np.nextafter(np.float32(1024.0), np.float32(0)) * rng.choice([-1, 1], 32)
    w[3 % n_out, :16] *= np.float32(1e-6)
    w[4 % n_out, 16:32] *= np.float32(1e4)
    return w


# ---- Quantization ------------------------------------------------------------------------------
def test_mxfp4_quantize_matches_gguf():
    rng = np.random.default_rng(3)
    w = fp4_weights(rng, 37, 640)
    want = gguf.quants.quantize(w, T.MXFP4)
    got = _core.quantize(int(T.MXFP4), w)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_nvfp4_quantize_matches_numpy_model():
    rng = np.random.default_rng(4)
    w = fp4_weights(rng, 37, 640)
    w[5, :64] = 0.0  # all-zero block: scale byte 0, codes 0
    w[6, :16] = np.float32(300.0 * 6)  # amax / 6 in [256, 448]: ggml saturates to 0x7E
    got = _core.quantize(int(T.NVFP4), w)
    np.testing.assert_array_equal(got, nvfp4_quantize(w))
    assert got[5, 0] == 0 and got[6, 0] == 0x7E


@needs_ggml
@pytest.mark.parametrize("qtype", [T.MXFP4, T.NVFP4], ids=lambda t: t.name)
def test_quantize_matches_llama_cpp(qtype):
    rng = np.random.default_rng(5)
    w = fp4_weights(rng, 23, 1024)
    # amax one ulp below powers of two at many exponents: where floor(log2f(amax)) rounds up.
    for k in range(8):
        w[k % 23, 64 * k:64 * k + 64] = 0.1 * rng.standard_normal(64)
        w[k % 23, 64 * k] = np.nextafter(np.float32(2.0) ** (k * 5 - 20), np.float32(0))
    kind = qtype.name.lower()
    want = GGML.quantize(kind, w, ROW_BYTES[qtype](1024))
    np.testing.assert_array_equal(_core.quantize(int(qtype), w), want)


def test_quantize_bad_input():
    with pytest.raises(ValueError, match="NVFP4 rows must be a positive multiple of 64"):
        _core.quantize(int(T.NVFP4), np.zeros((2, 32), np.float32))
    with pytest.raises(ValueError, match="no weight quantizer for Q4_K"):
        _core.quantize(int(T.Q4_K), np.zeros((2, 256), np.float32))


# ---- Dequantization ----------------------------------------------------------------------------
def random_blocks(rng, qtype, n_out, n_in):
    """Random bytes: every code and every scale byte (E8M0 e = 255 is NaN in the MX spec and
    decoded as 2^127 by ggml: kept, the dequantizers must agree on it too)."""
    return rng.integers(0, 256, size=(n_out, ROW_BYTES[qtype](n_in)), dtype=np.uint8)


@pytest.mark.parametrize("qtype", [T.MXFP4, T.NVFP4], ids=lambda t: t.name)
def test_dequantize_matches_gguf(qtype):
    rng = np.random.default_rng(6)
    n_out, n_in = 64, 1024
    raw = random_blocks(rng, qtype, n_out, n_in)
    with np.errstate(over="ignore"):  # 12 * 2^127 is inf, in every implementation
        want = gguf.quants.dequantize(raw, qtype).astype(np.float32).reshape(n_out, n_in)
    for isa in ALL:
        got = _core.dequantize(int(qtype), raw, n_in, isa=isa)
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32), err_msg=isa)
    if GGML is not None:  # and llama.cpp's C, on the same bytes
        c = GGML.dequantize(qtype.name.lower(), raw, n_in)
        np.testing.assert_array_equal(c.view(np.uint32), want.view(np.uint32))


def test_nvfp4_every_scale_byte():
    """UE4M3: all 256 scale bytes, each with all 16 codes, against gguf's ue4m3_to_fp32."""
    codes = np.arange(16, dtype=np.uint8)
    qs = np.tile(codes[:8] | (codes[8:] << 4), 4)  # each sub-block holds the 16 codes in order
    raw = np.array([np.concatenate([[b, b, b, b], qs]) for b in range(256)], dtype=np.uint8)
    want = gguf.quants.dequantize(raw, T.NVFP4).astype(np.float32).reshape(256, 64)
    for isa in ALL:
        got = _core.dequantize(int(T.NVFP4), raw, 64, isa=isa)
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32), err_msg=isa)
    # Byte 0x40 is the scale 2.0, code 7 the E2M1 value 6.0; 0x7F (NaN) decodes as 0.
    assert want[0x40, 7] == 12.0 and want[0x7F].max() == 0.0


# ---- Matmul ------------------------------------------------------------------------------------
SHAPES = [(1, 64, 1), (3, 128, 2), (17, 576, 5), (67, 192, 9), (5, 64, 16), (9, 256, 33)]


@pytest.mark.parametrize("qtype", [T.MXFP4, T.NVFP4], ids=lambda t: t.name)
@pytest.mark.parametrize("shape", SHAPES)
def test_matmul_vs_float64(qtype, shape):
    """Kernels: exact integer dots per block of 32 (MXFP4) or 16 (NVFP4), each times an exact
    scale product w_scale * dx (one rounding), summed in float32 in some order: with nt terms,
    |Y - exact| <= (nt + 5) u S, S = sum_i |W_i X_i| (see test_kernels_oracle_legacy)."""
    n_out, n_in, n_tok = shape
    rng = np.random.default_rng(n_out * 1000 + n_in + n_tok)
    raw = _core.quantize(int(qtype), fp4_weights(rng, n_out, n_in))
    wd = gguf.quants.dequantize(raw, qtype).astype(np.float64).reshape(n_out, n_in)
    x = activations(rng, n_tok, n_in)
    _, xd, _ = q8_act(x, False)
    want = xd @ wd.T
    nt = n_in // (32 if qtype == T.MXFP4 else 16)
    bound = (nt + 5) * U * (np.abs(xd) @ np.abs(wd).T)
    assert np.abs(want).max() > 0
    for isa in ALL:
        got = _core.matmul(int(qtype), raw, n_out, n_in, x, isa=isa).astype(np.float64)
        err = np.abs(got - want)
        assert np.all(err <= bound), f"{isa}: max err {err.max():.3g}, worst ratio {(err / bound).max():.3g}"


def test_matmul_act_type_and_kernel_isa():
    for isa in ISAS:
        for t in (T.MXFP4, T.NVFP4):
            assert _core.matmul_act_type(int(t), isa) == ACT_Q8_0
    if "avx2" in ISAS:
        assert _core.matmul_kernel_isa(int(T.MXFP4), "avx2") == "avx2"
        assert _core.matmul_kernel_isa(int(T.NVFP4), "avx2") == "avx2"
