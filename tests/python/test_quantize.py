"""`edgeq quantize` against independent oracles:
  - every format's bytes decode (the gguf package's numpy dequantizers) to within the format's
    error bound of the float source;
  - the bytes equal llama.cpp's: its reference quantizers called directly (libggml-base's
    ggml_quantize_chunk) and whole files written by llama-quantize, when llama.cpp is available
    ($EDGEQ_LLAMA_CPP_BIN: the folder of llama-quantize and libggml-base.so, else llama-quantize
    on PATH); only those comparisons are skipped without it;
  - the quantized models load in edgeq with logits close to the source's;
  - the per-tensor rules (kept tensors, output / embedding types, fallbacks), metadata and
    alignment, and the command line's errors.
"""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as T

from edgeq.gguf import open_gguf
from edgeq.model import load_model
from edgeq.quant_formats import FORMATS, MIXES, to_float32
from edgeq.quantize import Options, QuantizeError, QuantizeOptionsError, quantize_file
from q1_0_ref import dequantize_q1_0
from tiny_llama import write_tiny_llama

# Rows of whole 256-value blocks, so every type holds every matrix.
K_SHAPE = dict(n_embd=256, n_ff=512, n_head=4, n_head_kv=2)
IDS = [1, 5, 17, 33, 2, 70, 41, 8, 9, 60]


# ---- llama.cpp (optional oracle) -----------------------------------------------------------------

def llama_cpp_dir() -> "Path | None":
    env = os.environ.get("EDGEQ_LLAMA_CPP_BIN")
    if env:
        return Path(env)
    exe = shutil.which("llama-quantize")
    return Path(exe).resolve().parent if exe else None


def llama_quantize() -> "Path | None":
    d = llama_cpp_dir()
    return d / "llama-quantize" if d and (d / "llama-quantize").is_file() else None


def libggml() -> "ctypes.CDLL | None":
    d = llama_cpp_dir()
    for cand in ([d / "libggml-base.so", d.parent / "lib" / "libggml-base.so"] if d else []):
        if cand.is_file():
            lib = ctypes.CDLL(str(cand))
            f = lib.ggml_quantize_chunk
            f.restype = ctypes.c_size_t
            f.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                          ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
            return lib
    return None


def ggml_quantize(lib, fmt, x: np.ndarray) -> np.ndarray:
    """llama.cpp's reference quantizer (no importance matrix) on float32 rows."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    block, size = gguf.GGML_QUANT_SIZES[T[fmt.name]]
    out = np.zeros((x.shape[0], x.shape[1] // block * size), np.uint8)
    lib.ggml_quantize_chunk(fmt.type_id, x.ctypes.data, out.ctypes.data, 0, x.shape[0], x.shape[1],
                            None)
    return out


# ---- test data ---------------------------------------------------------------------------------

def sample_rows(kind: str, seed: int = 0, shape=(48, 1024)) -> np.ndarray:
    """Rows that exercise the scale searches: Gaussian, heavy-tailed (outliers), all positive,
    mostly zero, coarse (many ties), all zero, and tiny magnitudes."""
    rng = np.random.default_rng(seed)
    x = {
        "normal": lambda: rng.standard_normal(shape),
        "heavy": lambda: rng.standard_t(2, shape),
        "positive": lambda: rng.random(shape),
        "sparse": lambda: np.where(rng.random(shape) < 0.9, 0, rng.standard_normal(shape)),
        "coarse": lambda: np.round(rng.standard_normal(shape) * 2) / 2,
        "zero": lambda: np.zeros(shape),
        "tiny": lambda: rng.standard_normal(shape) * 1e-4,
    }[kind]()
    return x.astype(np.float32)


KINDS = ["normal", "heavy", "positive", "sparse", "coarse", "zero", "tiny"]


def decode(fmt, q: np.ndarray) -> np.ndarray:
    """The gguf package's dequantizer (the oracle), float64."""
    if fmt.name == "F32":
        return q.view(np.float32).astype(np.float64)
    if fmt.name == "Q1_0":  # the gguf package has no Q1_0 dequantizer
        return dequantize_q1_0(q).astype(np.float64).reshape(q.shape[0], -1)
    return gguf.quants.dequantize(q, T[fmt.name]).astype(np.float64)


def fp16_err(v):
    """Largest error of storing v >= 0 as fp16: half an ulp, 2^-11 relative, but never below
    half the subnormal spacing 2^-25."""
    return np.maximum(v * 2.0 ** -11, 2.0 ** -25)


def error_bound(fmt, x: np.ndarray) -> np.ndarray:
    """Largest |decoded - x| each value may have, from the format's definition (x float64, rows
    of whole blocks): the rounding to the format's levels, plus the fp16 rounding of each block
    scale times the largest code it multiplies."""
    ax = np.abs(x)
    if fmt.name == "F32":
        return np.zeros_like(x)
    if fmt.name == "F16":
        return fp16_err(ax)
    if fmt.name == "BF16":  # 8 significant bits, round to nearest
        return ax * 2.0 ** -8
    blocks = lambda size: x.reshape(-1, size)  # noqa: E731
    per = lambda v, size: np.repeat(v, size).reshape(x.shape)  # noqa: E731
    if fmt.name == "Q8_0":  # d = amax / 127, codes rounded: half a step
        d = np.abs(blocks(32)).max(1) / 127
        return per(0.5 * d + 127 * fp16_err(d), 32)
    if fmt.name == "Q4_0":  # d = max / -8: the value of largest magnitude is exact; the other end
        d = np.abs(blocks(32)).max(1) / 8  # of [-8d, 7d] is one step short: a full step there
        return per(d + 8 * fp16_err(d), 32)
    if fmt.name == "Q4_1":  # 16 levels over [min, max]: half a step
        b = blocks(32)
        d = (b.max(1) - b.min(1)) / 15
        return per(0.5 * d + 15 * fp16_err(d) + fp16_err(np.abs(b.min(1))), 32)
    if fmt.name == "Q5_0":  # as Q4_0 with 32 levels: d = max / -16, a full step at the far end
        d = np.abs(blocks(32)).max(1) / 16
        return per(d + 16 * fp16_err(d), 32)
    if fmt.name == "Q5_1":  # 32 levels over [min, max]: half a step
        b = blocks(32)
        d = (b.max(1) - b.min(1)) / 31
        return per(0.5 * d + 31 * fp16_err(d) + fp16_err(np.abs(b.min(1))), 32)
    if fmt.name in ("TQ1_0", "TQ2_0"):  # levels {-d, 0, d}, d = amax: at most d / 2
        d = np.abs(blocks(256)).max(1)
        return per(0.5 * d + fp16_err(d), 256)
    if fmt.name == "Q1_0":  # levels {-d, d}, d = mean |x| (the sign is kept): | |x| - d | <= max(|x|, d)
        d = np.abs(blocks(128)).mean(1)
        return np.maximum(ax, per(d + 2 * fp16_err(d), 128))
    if fmt.name == "Q4_K":
        # Levels d sc_j q - dmin m_j, q in 0..15, per 32-value sub-block; sc_j, m_j are 6-bit
        # (<= 63) against the super-block's largest. Rounding to the nearest level costs half a
        # step of the largest scale (range / 15 / 2 at most); the 6-bit rounding of a scale and
        # min can leave the ends of a sub-block up to another half step outside its levels. So
        # one step of the super-block range / 15, plus fp16 of d (x 63 x 15) and dmin (x 63).
        b = blocks(256)
        rng_ = b.max(1) - np.minimum(b.min(1), 0)
        d = rng_ / 15 / 63
        return per(rng_ / 15 + 63 * 15 * fp16_err(d) + 63 * fp16_err(d * 15), 256)
    if fmt.name == "Q6_K":
        # Levels d sc_s (q - 32), q in 0..63, per 16-value sub-block, int8 sub-block scales against
        # the largest (-128). Half a step of amax / 32 for rounding, and the 8-bit scale rounding
        # can push an end value past the last level by 31 x 1/256 of the largest step:
        # 0.75 x amax / 31, plus fp16 of d (x 128 x 32).
        step = np.abs(blocks(256)).max(1) / 31
        return per(0.75 * step + 128 * 32 * fp16_err(step / 128), 256)
    raise AssertionError(f"no error bound for {fmt.name}")


# ---- format bytes --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(FORMATS))
def test_format_decodes_within_its_error_bound(name):
    """Quantize, decode with the gguf package, compare with the source (every format, every kind
    of data). Ternary formats are checked on ternary data (their bound is only meaningful there
    and on a scale of it)."""
    fmt = FORMATS[name]
    for kind in KINDS:
        x = sample_rows(kind)
        if name in ("TQ1_0", "TQ2_0"):
            x = np.sign(np.round(x)).astype(np.float32) * 0.03  # ternary weights
        q = fmt.quantize(x, 2)
        assert q.dtype == np.uint8 and q.shape[0] == x.shape[0]
        y = decode(fmt, q).reshape(x.shape)
        err = np.abs(y - x.astype(np.float64))
        bound = error_bound(fmt, x.astype(np.float64))
        worst = np.argmax(err - bound)
        assert (err <= bound).all(), (name, kind, err.flat[worst], bound.flat[worst])
        if kind == "zero":
            assert not y.any()
        if name in ("TQ1_0", "TQ2_0"):  # ternary data is stored exactly (d = 0.03 in fp16)
            assert np.array_equal(y, np.float16(0.03).astype(np.float64) * np.sign(x))


@pytest.mark.parametrize("name", ["Q4_K", "Q6_K"])
def test_cpp_kquant_accuracy_and_threads(name):
    """The C++ k-quant fits are least-squares fits: on Gaussian data their relative RMS error is
    near the uniform-rounding error of 4 / 6 bits (llama.cpp's measure ~0.07 / ~0.018), and the
    bytes do not depend on the thread count."""
    fmt = FORMATS[name]
    x = sample_rows("normal", seed=3, shape=(67, 768))
    q1 = fmt.quantize(x, 1)
    assert np.array_equal(q1, fmt.quantize(x, 3))
    y = decode(fmt, q1).reshape(x.shape)
    rel = np.sqrt(((y - x) ** 2).mean() / (x.astype(np.float64) ** 2).mean())
    assert rel < {"Q4_K": 0.08, "Q6_K": 0.02}[name], rel


def q4k_weights(x: np.ndarray, search: str) -> np.ndarray:
    """The per-value weights a Q4_K search minimizes: 1 (mse), or ggml's rms(sub-block) + |x|
    (wmse; float64 here, the C++ uses float32)."""
    if search == "mse":
        return np.ones_like(x, dtype=np.float64)
    b = x.astype(np.float64).reshape(-1, 32)
    return (np.sqrt((b ** 2).mean(1, keepdims=True)) + np.abs(b)).reshape(x.shape)


@pytest.mark.parametrize("search", ["mse", "wmse"])
def test_q4k_search_beats_reference(search):
    """The searched Q4_K fits write valid Q4_K (decoded by the gguf package), never a higher error
    than ggml's reference in their own metric on any super-block (each step only accepts lower
    errors: a float32 tie may go either way, hence 1e-5), clearly lower on average on every kind
    of data that is not stored exactly anyway, and the same bytes for any thread count."""
    fmt = FORMATS["Q4_K"]
    for seed, kind in enumerate(KINDS):
        x = sample_rows(kind, seed=seed, shape=(24, 1024))
        ref = decode(fmt, fmt.quantize(x, 2, "rtn")).reshape(x.shape)
        q = fmt.quantize(x, 2, search)
        assert np.array_equal(q, fmt.quantize(x, 1, search))
        got = decode(fmt, q).reshape(x.shape)
        w = q4k_weights(x, search)
        e_ref = (w * (ref - x) ** 2).reshape(-1, 256).sum(1)
        e_got = (w * (got - x) ** 2).reshape(-1, 256).sum(1)
        assert (e_got <= e_ref * (1 + 1e-5) + 1e-30).all(), (kind, np.max(e_got / np.maximum(e_ref, 1e-30)))
        if kind in ("normal", "heavy", "positive", "sparse", "tiny"):
            assert e_got.sum() < 0.99 * e_ref.sum(), (kind, e_got.sum() / e_ref.sum())
        if kind == "zero":
            assert not got.any()


def test_q4k_search_fits_a_4_bit_grid():
    """Data already on a 4-bit grid per 32 values (a model dequantized from Q4_1, like the
    SmolLM2 source of bench/quality_table.py): the reference's 6-bit rounding of the scales costs
    error that the joint search cuts by more than 40% (57% on SmolLM2's ffn_down)."""
    rng = np.random.default_rng(5)
    d = rng.uniform(0.01, 0.03, (64, 32, 1))
    m = -rng.uniform(0.05, 0.2, (64, 32, 1))
    x = (d * rng.integers(0, 16, (64, 32, 32)) + m).astype(np.float32).reshape(64, 1024)
    fmt = FORMATS["Q4_K"]
    err = {s: ((decode(fmt, fmt.quantize(x, 2, s)).reshape(x.shape) - x) ** 2).sum() for s in ("rtn", "mse")}
    assert err["mse"] < 0.6 * err["rtn"], err


def test_q4k_search_unknown_is_refused():
    from edgeq import _core
    with pytest.raises(ValueError, match="search 'hqq'"):
        _core.quantize_rows(int(T.Q4_K), np.zeros((1, 256), np.float32), 1, search="hqq")
    with pytest.raises(ValueError, match="Q6_K with search 'mse'"):
        _core.quantize_rows(int(T.Q6_K), np.zeros((1, 256), np.float32), 1, search="mse")


@pytest.mark.parametrize("name", [n for n in FORMATS if n != "F32"])
def test_format_bytes_equal_llama_cpp_reference(name):
    """Byte equality with llama.cpp's own C reference quantizers (ggml_quantize_chunk without an
    importance matrix is llama-quantize's path)."""
    lib = libggml()
    if lib is None:
        pytest.skip("libggml-base.so not found (set EDGEQ_LLAMA_CPP_BIN)")
    fmt = FORMATS[name]
    for seed, kind in enumerate(KINDS):
        x = sample_rows(kind, seed=seed, shape=(24, 768))
        assert np.array_equal(fmt.quantize(x, 2), ggml_quantize(lib, fmt, x)), (name, kind)


# ---- whole files ---------------------------------------------------------------------------------

def tensors_of(path) -> dict:
    with open_gguf(path) as g:
        return {t.name: (t.type_name, t.shape, g.tensor_bytes(t.name).copy()) for t in g}


def quantize(src, dst, type_name, **kw):
    mix = MIXES.get(type_name)
    opts = Options(type=FORMATS[mix.base if mix else type_name], threads=2, mix=mix,
                   **{k: (FORMATS[v] if k.endswith("_type") else v) for k, v in kw.items()})
    return quantize_file(str(src), str(dst), opts)


@pytest.mark.parametrize("type_name,llama_args", [
    ("Q4_K", ["--pure", "--output-tensor-type", "q6_k", "Q4_K_S"]),  # Q4_K_S mixes in Q5_K
    ("Q6_K", ["Q6_K"]), ("Q8_0", ["Q8_0"]), ("Q4_0", ["Q4_0"]), ("Q4_1", ["Q4_1"]),
    ("Q5_0", ["Q5_0"]), ("Q5_1", ["Q5_1"]), ("BF16", ["BF16"]), ("Q4_K_M", ["Q4_K_M"]), ("Q1_0", ["Q1_0"]),
])
def test_files_equal_llama_quantize(tmp_path, type_name, llama_args):
    """Every tensor (type, shape, bytes) and every metadata value equal llama-quantize's output
    for the same F32 model (llama-quantize orders the tensors differently)."""
    exe = llama_quantize()
    if exe is None:
        pytest.skip("llama-quantize not found (set EDGEQ_LLAMA_CPP_BIN)")
    src = tmp_path / "f32.gguf"
    write_tiny_llama(src, T.F32, **K_SHAPE)
    quantize(src, tmp_path / "edgeq.gguf", type_name, q4k_search="rtn", fallback_choice="llama")
    proc = subprocess.run([str(exe), *llama_args[:-1], str(src), str(tmp_path / "llama.gguf"),
                           llama_args[-1], "2"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ours, theirs = tensors_of(tmp_path / "edgeq.gguf"), tensors_of(tmp_path / "llama.gguf")
    assert ours.keys() == theirs.keys()
    for name, (tname, shape, data) in ours.items():
        assert (tname, shape) == theirs[name][:2], name
        assert np.array_equal(data, theirs[name][2]), name
    with open_gguf(tmp_path / "edgeq.gguf") as a, open_gguf(tmp_path / "llama.gguf") as b:
        assert a.metadata.keys() == b.metadata.keys()
        for k in a.metadata:
            assert str(a.metadata[k]) == str(b.metadata[k]), k


def test_quantized_models_run_close_to_source(tmp_path):
    """Every float / non-ternary output loads in edgeq, and its logits stay within a relative
    distance of the F32 source's that grows as the format's bits shrink: this random 2-layer
    model turns a weights' relative RMS error e (F16 ~3e-4, BF16 ~2e-3, Q8_0 ~4e-3 + the int8
    activations, Q6_K ~0.018, 4-bit ~0.07) into ~3.5 e on the logits (measured on 3 seeds; the
    bounds leave ~1.6x). A broken layout would land near 1.4."""
    src = tmp_path / "f32.gguf"
    write_tiny_llama(src, T.F32, **K_SHAPE)
    ref = load_model(str(src), n_threads=1).eval(IDS, all_logits=True)
    rel = {}
    for type_name, bound in (("F16", 0.002), ("BF16", 0.012), ("Q8_0", 0.04), ("Q6_K", 0.12),
                             ("Q4_K", 0.4), ("Q4_1", 0.45), ("Q4_0", 0.45)):
        quantize(src, tmp_path / f"{type_name}.gguf", type_name)
        got = load_model(str(tmp_path / f"{type_name}.gguf"), n_threads=1).eval(IDS, all_logits=True)
        rel[type_name] = np.linalg.norm(got - ref) / np.linalg.norm(ref)
        assert rel[type_name] < bound, rel
    assert rel["F16"] < rel["BF16"] < rel["Q8_0"] < rel["Q6_K"] < min(rel["Q4_K"], rel["Q4_0"]), rel


def test_q1_0_model_runs_close_to_its_dequantization(tmp_path):
    """A Q1_0 model (edgeq's file, and llama-quantize's where available) runs in edgeq within 3% of
    its own weights dequantized to F32: the only difference is the per-128 int8 activations of
    the Q1_0 matmuls (~1% measured). (Against the Gaussian source a random model does not survive
    1 bit: ~1.1, which is why the bound is not taken from the source.)"""
    src = tmp_path / "f32.gguf"
    write_tiny_llama(src, T.F32, **K_SHAPE)
    quantize(src, tmp_path / "q1.gguf", "Q1_0", output_type="F32")
    types = {p.type for p in quantize(tmp_path / "q1.gguf", tmp_path / "back.gguf", "F32").tensors}
    assert types == {"F32"}
    with open_gguf(tmp_path / "q1.gguf") as g:
        assert g.tensors["blk.0.ffn_down.weight"].type_name == "Q1_0"
    back = load_model(str(tmp_path / "back.gguf"), n_threads=1).eval(IDS, all_logits=True)
    got = load_model(str(tmp_path / "q1.gguf"), n_threads=2).eval(IDS, all_logits=True)
    assert np.linalg.norm(got - back) / np.linalg.norm(back) < 0.03
    exe = llama_quantize()
    if exe is not None:
        proc = subprocess.run([str(exe), "--output-tensor-type", "f32", str(src), str(tmp_path / "llama.gguf"),
                               "Q1_0", "2"], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        theirs = load_model(str(tmp_path / "llama.gguf"), n_threads=2).eval(IDS, all_logits=True)
        np.testing.assert_array_equal(theirs, got)


def test_q1_0_binary_activation_mode(tmp_path, monkeypatch):
    """EDGEQ_Q1_0_ACT=binary at load: the Q1_0 matrices binarize their inputs (XNOR-popcount) -- a
    different, coarser result than the default int8 activations (the tiny random model's logits
    move by tens of percent, against ~1% for int8); an unknown value is refused at load."""
    src = tmp_path / "f32.gguf"
    write_tiny_llama(src, T.F32, **K_SHAPE)
    quantize(src, tmp_path / "q1.gguf", "Q1_0", output_type="F32")
    int8 = load_model(str(tmp_path / "q1.gguf"), n_threads=1).eval(IDS, all_logits=True)
    monkeypatch.setenv("EDGEQ_Q1_0_ACT", "binary")
    binary = load_model(str(tmp_path / "q1.gguf"), n_threads=2).eval(IDS, all_logits=True)
    assert np.isfinite(binary).all()
    rel = np.linalg.norm(binary - int8) / np.linalg.norm(int8)
    assert 0.05 < rel < 1.5, rel
    monkeypatch.setenv("EDGEQ_Q1_0_ACT", "int4")
    with pytest.raises(Exception, match="EDGEQ_Q1_0_ACT must be 'int8' or 'binary'"):
        load_model(str(tmp_path / "q1.gguf"), n_threads=1)


@pytest.mark.parametrize("arch", ["bitnet", "bitnet-b1.58"])
def test_ternary_models_stay_lossless(tmp_path, arch):
    """A BitNet model in TQ2_0: to TQ1_0, to F32 and back to TQ2_0, its ternary matrices keep
    their exact values (back to TQ2_0: the same bytes), the tied F16 embedding gets the
    --output-type (the BitNet output-layer choice), and the model runs the same."""
    src = tmp_path / "tq2.gguf"
    write_tiny_llama(src, T.TQ2_0, tied=True, arch=arch, scales=True, **K_SHAPE)
    r1 = quantize(src, tmp_path / "tq1.gguf", "TQ1_0", output_type="Q8_0")
    quantize(src, tmp_path / "f32.gguf", "F32")
    quantize(tmp_path / "f32.gguf", tmp_path / "back.gguf", "TQ2_0", output_type="F16")
    orig, tq1, back = (tensors_of(p) for p in (src, tmp_path / "tq1.gguf", tmp_path / "back.gguf"))
    assert back.keys() == orig.keys()
    for name, (tname, shape, data) in orig.items():
        if tname == "TQ2_0":
            assert tq1[name][0] == "TQ1_0"
            n = shape[0]
            assert np.array_equal(to_float32(34, tq1[name][2], n), to_float32(35, data, n)), name
        assert back[name][0] == tname and np.array_equal(back[name][2], data), name
    assert tq1["token_embd.weight"][0] == "Q8_0"
    assert {p.info.name for p in r1.tensors if p.copy} == {
        n for n, (t, s, _) in orig.items() if t == "F32"}  # norms and .scale tensors kept
    a = load_model(str(src), n_threads=1).eval(IDS, all_logits=True)
    b = load_model(str(tmp_path / "back.gguf"), n_threads=1).eval(IDS, all_logits=True)
    assert np.array_equal(a, b)


def test_rules_kept_tensors_output_embedding_metadata(tmp_path):
    src = tmp_path / "f32.gguf"
    write_tiny_llama(src, T.F32, **K_SHAPE)
    r = quantize(src, tmp_path / "q.gguf", "Q4_K", embd_type="Q8_0")
    types = {p.info.name: p.type for p in r.tensors}
    assert types["output.weight"] == "Q6_K" and types["token_embd.weight"] == "Q8_0"
    assert types["blk.0.attn_q.weight"] == "Q4_K" and types["blk.1.ffn_down.weight"] == "Q4_K"
    assert types["blk.0.attn_norm.weight"] == "F32" and types["output_norm.weight"] == "F32"
    with open_gguf(src) as a, open_gguf(tmp_path / "q.gguf") as b:
        assert list(b.tensors) == list(a.tensors)
        assert b.metadata["general.file_type"] == 14  # LLAMA_FTYPE_MOSTLY_Q4_K_S
        assert b.metadata["general.quantization_version"] == 2
        for k, v in a.metadata.items():
            if k not in ("general.file_type", "general.quantization_version"):
                assert str(b.metadata[k]) == str(v), k
        assert np.array_equal(a.tensor_bytes("blk.0.attn_norm.weight"),
                              b.tensor_bytes("blk.0.attn_norm.weight"))
    # Ternary: the (untied) embedding defaults to Q4_K, the output to Q6_K.
    r = quantize(src, tmp_path / "t.gguf", "TQ2_0")
    types = {p.info.name: p.type for p in r.tensors}
    assert types["token_embd.weight"] == "Q4_K" and types["output.weight"] == "Q6_K"
    # Float targets keep the output in the target type; Q8_0 keeps Q8_0.
    for target in ("F16", "Q8_0"):
        r = quantize(src, tmp_path / "f.gguf", target)
        assert {p.type for p in r.tensors if p.info.name.endswith("weight") and
                len(p.info.shape) == 2} == {target}


def test_fallbacks_follow_llama_quantize(tmp_path):
    """Rows of 64 values (not whole 256-blocks): Q4_K -> Q5_0, Q6_K -> Q8_0, TQ2_0 -> Q4_0, the
    output -> Q8_0; rows of 48 (not whole 32-blocks) -> F16. --no-fallback refuses instead."""
    src = tmp_path / "f32.gguf"
    write_tiny_llama(src, T.F32)  # n_embd 64, n_ff 96
    for target, fb in (("Q4_K", "Q5_0"), ("Q6_K", "Q8_0"), ("TQ2_0", "Q4_0")):
        r = quantize(src, tmp_path / "q.gguf", target)
        got = {p.info.name: (p.type, p.wanted) for p in r.tensors}
        assert got["blk.0.attn_q.weight"] == (fb, target)
        assert got["output.weight"] == ("Q8_0", None)  # llama: output of odd rows is Q8_0
        assert got["blk.0.ffn_down.weight"][0] == (fb if target != "TQ2_0" else "Q4_0")
    write_tiny_llama(tmp_path / "odd.gguf", T.F32, n_embd=48, n_head=4, n_head_kv=2)
    r = quantize(tmp_path / "odd.gguf", tmp_path / "q.gguf", "Q4_0")
    assert {p.info.name: p.type for p in r.tensors}["blk.0.attn_q.weight"] == "F16"
    assert load_model(str(tmp_path / "q.gguf"), n_threads=1).eval(IDS[:3]).shape[-1] == 80
    with pytest.raises(QuantizeError, match="do not fit Q4_K"):
        quantize(src, tmp_path / "strict.gguf", "Q4_K", fallback=False)
    assert not (tmp_path / "strict.gguf").exists()


def test_fallback_choice_min_error(tmp_path):
    """Rows Q4_K cannot hold: float data keeps llama's Q5_0 (lower error), data already on a Q4_1
    grid (a model dequantized from Q4_1) gets Q4_1 (exact, and smaller) unless
    --fallback-choice llama."""
    src = tmp_path / "q41.gguf"
    write_tiny_llama(src, T.Q4_1, embd_type=T.F32)
    types = lambda r: {p.info.name: p.type for p in r.tensors}  # noqa: E731
    r = quantize(src, tmp_path / "a.gguf", "Q4_K")
    assert types(r)["blk.0.attn_q.weight"] == "Q4_1" and types(r)["blk.1.ffn_up.weight"] == "Q4_1"
    assert types(r)["token_embd.weight"] == "Q5_0"  # its float32 source: Q5_0 fits better
    with open_gguf(src) as a, open_gguf(tmp_path / "a.gguf") as b:
        assert np.array_equal(a.tensor_bytes("blk.0.attn_q.weight"), b.tensor_bytes("blk.0.attn_q.weight"))
    r = quantize(src, tmp_path / "b.gguf", "Q4_K", fallback_choice="llama")
    assert types(r)["blk.0.attn_q.weight"] == "Q5_0"
    write_tiny_llama(tmp_path / "f.gguf", T.F32)
    r = quantize(tmp_path / "f.gguf", tmp_path / "c.gguf", "Q4_K")
    assert types(r)["blk.0.attn_q.weight"] == "Q5_0"


def test_alignment_and_quantized_source(tmp_path):
    """A source with general.alignment 64 in Q8_0: the output keeps the alignment (every tensor
    at a multiple of 64) and the re-quantized values match quantizing the dequantized source."""
    src = tmp_path / "a.gguf"
    w = gguf.GGUFWriter(str(src), "llama")
    w.add_custom_alignment(64)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 512)).astype(np.float32)
    w.add_tensor("blk.0.ffn_up.weight", gguf.quants.quantize(x, T.Q8_0), raw_dtype=T.Q8_0)
    w.add_tensor("blk.0.ffn_norm.weight", rng.standard_normal(7).astype(np.float32))
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    quantize(src, tmp_path / "b.gguf", "Q4_K")
    with open_gguf(tmp_path / "b.gguf") as g:
        assert g.alignment == 64 and all((t.offset - g.data_offset) % 64 == 0 for t in g)
        want = FORMATS["Q4_K"].quantize(  # Q4_K's default fit
            gguf.quants.dequantize(gguf.quants.quantize(x, T.Q8_0), T.Q8_0), 1, "mse")
        assert np.array_equal(g.tensor_bytes("blk.0.ffn_up.weight"), want.ravel())


def test_non_finite_values_are_refused(tmp_path):
    src = tmp_path / "nan.gguf"
    w = gguf.GGUFWriter(str(src), "llama")
    x = np.ones((4, 256), np.float32)
    x[2, 7] = np.nan
    w.add_tensor("blk.0.ffn_up.weight", x)
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    with pytest.raises(QuantizeError, match="'blk.0.ffn_up.weight' has 1 NaN or infinite"):
        quantize(src, tmp_path / "q.gguf", "Q8_0")
    assert [p.name for p in tmp_path.iterdir()] == ["nan.gguf"]


def test_smollm2_q6_k_equals_llama_quantize(smollm2, tmp_path):
    """The real model from its Q4_1 file (dequantized first, as llama-quantize
    --allow-requantize does): Q6_K bytes equal llama-quantize's where available, and the result
    runs in edgeq with logits close to the source's."""
    r = quantize(smollm2, tmp_path / "q6k.gguf", "Q6_K")
    assert {p.type for p in r.tensors} == {"F32", "Q6_K", "Q8_0"}  # 576-value rows -> Q8_0
    exe = llama_quantize()
    if exe is not None:
        proc = subprocess.run([str(exe), "--allow-requantize", str(smollm2),
                               str(tmp_path / "llama.gguf"), "Q6_K", "2"],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        ours, theirs = tensors_of(tmp_path / "q6k.gguf"), tensors_of(tmp_path / "llama.gguf")
        for name, (tname, shape, data) in ours.items():
            assert tname == theirs[name][0] and np.array_equal(data, theirs[name][2]), name
    ids = [1, 504, 3458, 282, 4649, 314, 1345, 30]
    ref = load_model(str(smollm2), n_threads=2).eval(ids, all_logits=True)
    got = load_model(str(tmp_path / "q6k.gguf"), n_threads=2).eval(ids, all_logits=True)
    # Q6_K of 4-bit weights adds little: 0.052 measured (Q8_0 activations vs Q8_K ones included)
    assert np.linalg.norm(got - ref) / np.linalg.norm(ref) < 0.08
    assert (got.argmax(1) == ref.argmax(1)).mean() >= 0.75


# ---- command line --------------------------------------------------------------------------------

def edgeq(*args, timeout=120):
    env = dict(os.environ)
    env.pop("EDGEQ_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "edgeq", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)


def one_line_error(proc, code):
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "error: " in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "tiny.gguf"
    write_tiny_llama(path, T.F32)
    return path


def test_cli_json_summary_and_quiet_when_piped(tiny, tmp_path):
    out = tmp_path / "q.gguf"
    proc = edgeq("quantize", tiny, out, "--type", "q8_0", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["type"] == "Q8_0" and summary["file_type"] == 7
    assert summary["output_bytes"] == out.stat().st_size
    assert summary["tensor_types"] == {"F32": 5, "Q8_0": 16}
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal, no fallbacks
    proc = edgeq("quantize", tiny, out, "--type", "Q4_K")
    assert proc.returncode == 0 and proc.stdout == ""
    lines = proc.stderr.splitlines()  # a fallback note per row length (64, 96), then the summary
    assert len(lines) == 3, proc.stderr
    assert "rows of 64 values, not a multiple of the Q4_K block (256): written as Q5_0" in lines[0]
    assert "blk.*.attn_q.weight (x2)" in lines[0] and "blk.*.ffn_down.weight (x2)" in lines[1]
    assert lines[2].startswith(f"edgeq: wrote {out}: 21 tensors (15 fell back)")
    assert edgeq("quantize", tiny, out, "--type", "Q4_K", "-q").stderr == ""
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


@pytest.mark.parametrize("args,code,fragment", [
    (["--type", "Q5_K"], 2, "unknown type 'Q5_K' (known: F32, F16, BF16, Q8_0"),
    (["--type", "Q4_K", "--q4k-search", "hqq"], 2, "--q4k-search: invalid choice: 'hqq'"),
    (["--type", "Q4_K", "--output-type", "IQ4"], 2, "unknown type 'IQ4'"),
    ([], 2, "the following arguments are required: --type"),
    (["--type", "Q4_K", "-t", "0"], 2, "-t/--threads: must be >= 1"),
    (["--type", "Q4_K", "--no-fallback"], 1, "rows of 64 values do not fit Q4_K"),
])
def test_cli_errors(tiny, tmp_path, args, code, fragment):
    line = one_line_error(edgeq("quantize", tiny, tmp_path / "q.gguf", *args), code)
    assert fragment in line
    assert not list(tmp_path.iterdir())  # nothing written, no partial file left


def test_cli_refuses_paths(tiny, tmp_path):
    before = tiny.read_bytes()
    line = one_line_error(edgeq("quantize", tiny, tiny, "--type", "Q8_0"), 2)
    assert "is the input file" in line
    link = tmp_path / "link.gguf"
    os.link(tiny, link)  # another name for the same file is still the input
    assert "is the input file" in one_line_error(edgeq("quantize", tiny, link, "--type", "Q8_0"), 2)
    assert tiny.read_bytes() == before
    line = one_line_error(edgeq("quantize", tmp_path / "nope.gguf", tmp_path / "o.gguf",
                                "--type", "Q8_0"), 1)
    assert "nope.gguf: No such file" in line
    line = one_line_error(edgeq("quantize", tiny, tmp_path / "no" / "dir" / "o.gguf",
                                "--type", "Q8_0"), 1)
    assert "No such file" in line
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file at all")
    assert "not a GGUF file" in one_line_error(edgeq("quantize", bad, tmp_path / "o.gguf",
                                                     "--type", "Q8_0"), 1)
    assert "is a directory" in one_line_error(edgeq("quantize", tiny, tmp_path, "--type", "Q8_0"), 1)


def test_tied_embedding_takes_either_flag(tmp_path):
    """A tied token embedding is the output layer: --embd-type or --output-type sets it (BitNet's
    output-layer choice), defaulting to Q6_K; different values for the two are a usage error."""
    src = tmp_path / "tied.gguf"
    write_tiny_llama(src, T.F32, tied=True, **K_SHAPE)
    for kw, want in (({}, "Q6_K"), ({"embd_type": "Q4_K"}, "Q4_K"),
                     ({"output_type": "Q8_0"}, "Q8_0")):
        r = quantize(src, tmp_path / "q.gguf", "Q4_K", **kw)
        assert {p.info.name: p.type for p in r.tensors}["token_embd.weight"] == want, kw
    proc = edgeq("quantize", src, tmp_path / "x.gguf", "--type", "Q4_K", "--embd-type", "Q4_K",
                 "--output-type", "Q6_K")
    assert proc.returncode == 2 and "cannot differ" in proc.stderr
    with pytest.raises(QuantizeOptionsError, match="cannot differ"):  # the library says it too
        quantize(src, tmp_path / "y.gguf", "Q4_K", embd_type="Q4_K", output_type="Q6_K")
    assert not (tmp_path / "y.gguf").exists()
