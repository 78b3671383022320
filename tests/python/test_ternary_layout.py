"""The ternary_layout load option: TQ2_0 / TQ1_0 matrices converted at load to edgeq's TL2
lookup-table layout (cpp/kernels/ternary_lut.h) give exactly the logits of the TQ kernels (the TL2
kernels keep the TQ reference's integer block sums and float order), on every ISA; a matrix whose
rows have blocks of different scales cannot convert losslessly: "auto" keeps the model native and
says why, "tl" refuses to load. Kernel level: _core.tl_pack + the TL2 matmul equal the TQ matmul
of the same bytes, and both equal the gguf package's dequantized weights times the int8
activations (the numpy oracle, float64)."""
from __future__ import annotations

import numpy as np
import pytest
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

from edgeq import _core
from edgeq.gguf import GGUFError, open_gguf
from edgeq.model import load_model
from tiny_llama import write_tiny_llama

TERNARY_SHAPE = dict(n_embd=256, n_ff=512, n_head=4, n_head_kv=2)
ISAS = list(_core.runnable_isas())


def tokens(n=24, seed=3, n_vocab=80):
    return np.random.default_rng(seed).integers(0, n_vocab, n).astype(np.int32)


@pytest.fixture(scope="module", params=[T.TQ2_0, T.TQ1_0], ids=lambda t: t.name)
def bitnet_path(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("tl") / f"tiny-{request.param.name}.gguf"
    write_tiny_llama(path, request.param, tied=True, arch="bitnet-b1.58", scales=True, **TERNARY_SHAPE)
    return path


@pytest.mark.parametrize("isa", ISAS)
def test_tl_logits_equal_native(bitnet_path, isa):
    toks = tokens()
    native = load_model(bitnet_path, n_threads=2, isa=isa, ternary_layout="native")
    assert native.ternary_layout == "native" and native.ternary_note == ""
    want = native.eval(toks, all_logits=True)
    # tl / auto take TL2D where the ISA has its kernels (AVX-512 VBMI), else TL2 ("tl").
    best = "tl2d" if _core.matmul_kernel_isa(_core.TYPE_TL2D, isa) != "ref" else "tl"
    for layout, reported in (("tl", best), ("auto", best), ("tl2", "tl"), ("tl2d", "tl2d")):
        m = load_model(bitnet_path, n_threads=2, isa=isa, ternary_layout=layout)
        assert m.ternary_layout == reported, layout
        got = m.eval(toks, all_logits=True)
        assert np.array_equal(got, want), (layout, np.abs(got - want).max())
        # Decode (one token at a time: the GEMV path) equals the batch.
        m.reset()
        steps = np.concatenate([m.eval(toks[i:i + 1]) for i in range(8)])
        assert np.array_equal(steps, want[:8])
        # Batches below the prefill threshold (8 tokens) run the TL2 GEMM; bigger ones the
        # native form kept for prefill (Matrix::prefill): the same bits either way.
        m.reset()
        chunks = np.concatenate([m.eval(toks[i:i + 5], all_logits=True) for i in range(0, 20, 5)])
        assert np.array_equal(chunks, want[:20])


def test_tl_any_thread_split_equals_native(bitnet_path):
    # Row splits between 1, 2 or 3 threads (64-row tiles) change nothing. (Across ISAs the
    # attention and the F16 output matmul round differently: test_bitnet.py bounds that.)
    toks = tokens(40)
    for isa in ISAS:
        want = load_model(bitnet_path, n_threads=1, isa=isa, ternary_layout="native").eval(toks, all_logits=True)
        for n_threads in (1, 2, 3):
            for layout in ("tl2", "tl2d"):
                got = load_model(bitnet_path, n_threads=n_threads, isa=isa, ternary_layout=layout).eval(
                    toks, all_logits=True)
                assert np.array_equal(got, want), (isa, n_threads, layout)


def _patch_block_scale(path, tensor, row, block, value):
    """Set the fp16 scale of one block of a TQ matrix in the file."""
    with open_gguf(path) as g:
        t = g.tensors[tensor]
        qt = T(t.type)
        bsize = {T.TQ2_0: 66, T.TQ1_0: 54}[qt]
        offset = t.offset + (row * (t.shape[0] // 256) + block) * bsize + bsize - 2
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(np.float16(value).tobytes())


@pytest.mark.parametrize("wtype", [T.TQ2_0, T.TQ1_0], ids=lambda t: t.name)
def test_two_scales_in_a_row_is_not_converted(tmp_path, wtype):
    path = tmp_path / "two-scales.gguf"
    write_tiny_llama(path, wtype, tied=True, arch="bitnet-b1.58", scales=True, **TERNARY_SHAPE)
    _patch_block_scale(path, "blk.1.ffn_down.weight", 7, 1, 0.125)
    toks = tokens()
    auto = load_model(path, n_threads=2, ternary_layout="auto")
    assert auto.ternary_layout == "native"
    assert auto.ternary_note.startswith(f"tensor 'blk.1.ffn_down.weight' ({wtype.name}): row 7: block 1 has scale 0.125")
    assert "one scale per row would not be lossless" in auto.ternary_note
    native = load_model(path, n_threads=2, ternary_layout="native")
    assert native.ternary_note == ""
    assert np.array_equal(auto.eval(toks, all_logits=True), native.eval(toks, all_logits=True))
    with pytest.raises(GGUFError, match=r"ternary_layout=tl: tensor 'blk.1.ffn_down.weight'.*row 7: block 1"):
        load_model(path, n_threads=2, ternary_layout="tl")


def test_non_ternary_models_and_bad_option(tmp_path):
    path = tmp_path / "q8.gguf"
    write_tiny_llama(path, T.Q8_0, tied=True)
    m = load_model(path, n_threads=1, ternary_layout="tl")  # nothing to convert: fine
    assert m.ternary_layout == "none" and "ternary_layout=none" in repr(m)
    with pytest.raises(ValueError, match="ternary_layout must be one of auto, native, tl"):
        load_model(path, ternary_layout="fast")


# ---- kernel level ---------------------------------------------------------------------------------
@pytest.mark.parametrize("wtype", [T.TQ2_0, T.TQ1_0], ids=lambda t: t.name)
@pytest.mark.parametrize("n_out,n_in", [(130, 512), (64, 768), (7, 2560)])
def test_tl_matmul_equals_tq_and_oracle(wtype, n_out, n_in):
    rng = np.random.default_rng(n_out)
    w = rng.integers(-1, 2, size=(n_out, n_in)).astype(np.float32) * 0.0625
    blocks = quantize(w, wtype).reshape(-1)
    tl = _core.tl_pack(int(wtype), blocks, n_out, n_in)
    # 64-row tiles of (54 bytes per 256 values + a 2-byte scale) per row: 1.69 bpw at n_in = 2560.
    assert tl.size == -(-n_out // 64) * 64 * (n_in // 256 * 54 + 2)
    x = rng.standard_normal((5, n_in)).astype(np.float32)
    # The oracle: gguf's dequantized weights (exact) times the int8 activations / s, in float64.
    xq = _core.quantize_act(_core.ACT_I8_TOKEN, x, isa="ref")
    q = xq[:, :n_in].view(np.int8).astype(np.float64)
    s = xq[:, n_in:n_in + 4].copy().view(np.float32).astype(np.float64)
    oracle = (q @ dequantize(blocks, wtype).reshape(n_out, n_in).astype(np.float64).T) / s
    for isa in ["ref"] + ISAS:
        want = _core.matmul(int(wtype), blocks, n_out, n_in, x, isa=isa)
        got = _core.matmul(_core.TYPE_TL2, tl, n_out, n_in, x, isa=isa)
        assert np.array_equal(got, want), isa
        np.testing.assert_allclose(got, oracle, rtol=1e-5, atol=1e-5 * np.abs(oracle).max())


def test_tl_pack_refusals():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 512)).astype(np.float32)  # per-block scales all differ
    with pytest.raises(ValueError, match=r"TQ2_0 -> TL2: row 0: block 1 has scale .* one scale per row"):
        _core.tl_pack(int(T.TQ2_0), quantize(w, T.TQ2_0).reshape(-1), 4, 512)
    with pytest.raises(ValueError, match="weight bytes do not match"):
        _core.tl_pack(int(T.TQ2_0), np.zeros(10, np.uint8), 4, 512)
