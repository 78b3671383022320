"""BitNet architectures in edgeq's forward pass against the numpy float64 oracle (llama_ref.py),
on tiny random models, and the dummy BitNet generator (models/make_dummy_bitnet.py).

The architecture facts, written here independently of edgeq.model's table (from llama.cpp's
src/models/bitnet.cpp + llama_model_rope_type, and bitnet.cpp's build_bitnet_158):
  bitnet        NeoX RoPE, silu(gate) * up, attn_sub_norm / ffn_sub_norm, optional .scale tensors
  bitnet-b1.58  the same with relu(gate)^2 * up (BitNet-b1.58-2B-4T)
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize

from edgeq import _core
from edgeq.gguf import GGUFError
from edgeq.model import load_model
from llama_ref import RefLlama
from tiny_llama import write_tiny_llama

from conftest import REPO_ROOT

EXPECTED_FLAGS = {
    "bitnet": dict(rope_style="neox", ffn_act="silu", sub_norms=True, matmul_scales=True),
    "bitnet-b1.58": dict(rope_style="neox", ffn_act="relu2", sub_norms=True, matmul_scales=True),
}
ARCHS = list(EXPECTED_FLAGS)
# Ternary rows are whole 256-value blocks.
TERNARY_SHAPE = dict(n_embd=256, n_ff=512, n_head=4, n_head_kv=2)


def tokens(n=20, seed=1, n_vocab=80):
    return np.random.default_rng(seed).integers(0, n_vocab, n).astype(np.int32)


def oracle(m, **flags):
    return RefLlama(m.gguf, dict(m.config, **flags), emulate_act_quant=True)


def core_inputs(m):
    return dict(m.config), {t.name: (t.type, t.shape, m.gguf.tensor_bytes(t.name)) for t in m.gguf}


# ---- Forward pass vs the oracle -------------------------------------------------------------------
# Bounds as in test_forward.py: float weights differ from float64 only by float32 rounding (1e-4
# of the logit range); 8-bit activations emulated exactly by the oracle leave float rounding plus
# an occasional one-step rounding flip of one activation (2e-3).
@pytest.mark.parametrize("wtype", [T.F32, T.Q8_0], ids=lambda t: t.name)
@pytest.mark.parametrize("arch", ARCHS)
def test_tiny_bitnet_matches_oracle(tmp_path, arch, wtype):
    path = tmp_path / "tiny.gguf"
    write_tiny_llama(path, wtype, tied=True, arch=arch, scales=True)
    m = load_model(path, n_threads=2)
    for key, value in EXPECTED_FLAGS[arch].items():
        assert m.config[key] == value, key
    toks = tokens()
    got = m.eval(toks, all_logits=True)
    want = oracle(m).forward(toks)
    scale = np.abs(want).max()
    assert scale > 1.0
    tol = 2e-3 if wtype == T.Q8_0 else 1e-4
    np.testing.assert_allclose(got, want, rtol=0, atol=tol * scale)
    # Each BitNet difference is visible: dropping any one of them moves the logits far outside the
    # bound (so none of them is silently ignored by edgeq or by the oracle).
    other_act = "silu" if m.config["ffn_act"] == "relu2" else "relu2"
    for flags in (dict(sub_norms=False), dict(matmul_scales=False), dict(ffn_act=other_act),
                  dict(rope_style="normal")):
        ref = RefLlama(m.gguf, dict(m.config, **flags))
        assert np.abs(ref.forward(toks) - want).max() > 50 * tol * scale, flags


@pytest.mark.parametrize("arch", ARCHS)
def test_tiny_bitnet_flags_in_core(tmp_path, arch):
    # The C++ flags themselves: each one switched off in the _core config changes edgeq's logits
    # to the oracle's logits for that variant.
    path = tmp_path / "tiny.gguf"
    write_tiny_llama(path, T.F32, tied=True, arch=arch, scales=True, n_layer=1)
    m = load_model(path, n_threads=2)
    config, tensors = core_inputs(m)
    toks = tokens(9)
    other_act = "silu" if config["ffn_act"] == "relu2" else "relu2"
    for flags in (dict(sub_norms=False), dict(matmul_scales=False), dict(ffn_act=other_act)):
        variant = dict(config, **flags)
        got = _core.Model(variant, tensors, 32, 2).eval(toks, True)
        want = RefLlama(m.gguf, variant).forward(toks)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * np.abs(want).max())


@pytest.mark.parametrize("wtype", [T.TQ2_0, T.TQ1_0], ids=lambda t: t.name)
@pytest.mark.parametrize("arch", ARCHS)
def test_tiny_ternary_bitnet_matches_oracle(tmp_path, arch, wtype):
    # Ternary weights with per-token int8 activations (ACT_I8_TOKEN), emulated by the oracle. The
    # integer block sums are exact, so only float rounding and (rarely) a one-step flip of one
    # int8 activation separate the two: the same 2e-3 bound as the 8-bit block formats.
    path = tmp_path / "tiny.gguf"
    write_tiny_llama(path, wtype, tied=True, arch=arch, scales=True, **TERNARY_SHAPE)
    m = load_model(path, n_threads=2)
    toks = tokens()
    got = m.eval(toks, all_logits=True)
    want = oracle(m).forward(toks)
    scale = np.abs(want).max()
    assert scale > 1.0
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-3 * scale)
    # The activation quantization shows without the emulation (so the emulation is what matches).
    plain = RefLlama(m.gguf, m.config).forward(toks)
    assert np.abs(got - plain).max() > 5e-3 * scale


@pytest.mark.parametrize("isa", _core.runnable_isas())
def test_tiny_ternary_every_isa_matches_ref(tmp_path, isa):
    # Integer ternary kernels are bit-exact against the reference; attention's dot / axpy and the
    # F16 output matmul differ only in float summation order.
    path = tmp_path / "tiny.gguf"
    write_tiny_llama(path, T.TQ2_0, tied=True, arch="bitnet-b1.58", scales=True, **TERNARY_SHAPE)
    toks = tokens(33)
    want = load_model(path, n_threads=1, isa="ref").eval(toks, all_logits=True)
    got = load_model(path, n_threads=2, isa=isa).eval(toks, all_logits=True)
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-3 * np.abs(want).max())


def test_bitnet_decode_matches_prefill(tmp_path):
    # The KV cache path (one token at a time) equals the batched prompt.
    path = tmp_path / "tiny.gguf"
    write_tiny_llama(path, T.F32, tied=True, arch="bitnet", scales=True)
    m = load_model(path, n_threads=2)
    toks = tokens(12)
    batch = m.eval(toks, all_logits=True)
    m.reset()
    steps = np.concatenate([m.eval(toks[i:i + 1]) for i in range(len(toks))])
    np.testing.assert_allclose(steps, batch, rtol=0, atol=1e-5 * np.abs(batch).max())


def test_bitnet_missing_sub_norm_is_an_error(tmp_path):
    path = tmp_path / "tiny.gguf"
    write_tiny_llama(path, T.F32, tied=True, arch="bitnet")
    m = load_model(path, n_threads=1)
    config, tensors = core_inputs(m)
    del tensors["blk.1.ffn_sub_norm.weight"]
    with pytest.raises(ValueError, match="blk.1.ffn_sub_norm.weight"):
        _core.Model(config, tensors, 16, 1)
    with pytest.raises(ValueError, match="ffn_act"):
        _core.Model(dict(config, ffn_act="gelu"), tensors, 16, 1)
