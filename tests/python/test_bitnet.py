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


# ---- The dummy BitNet generator (models/make_dummy_bitnet.py) ------------------------------------
def gen():
    from conftest import dummy_bitnet
    return dummy_bitnet()


def gen_shape(**over):
    base = gen().BitnetShape(n_embd=256, n_ff=512, n_layer=2, n_head=4, n_head_kv=2, head_dim=64,
                             context_length=64, n_vocab=300)
    return base.__class__(**dict(base.__dict__, **over))


def test_generator_presets_are_the_real_shapes():
    # BitNet-b1.58-2B-4T and bitnet_b1_58-large (~700M), as their configs give them.
    p = gen().PRESETS
    two, large = p["bitnet-2b"], p["bitnet-700m"]
    assert (two.n_embd, two.n_ff, two.n_layer, two.n_head, two.n_head_kv, two.head_dim) == (2560, 6912, 30, 20, 5, 128)
    assert (large.n_embd, large.n_ff, large.n_layer, large.n_head, large.n_head_kv, large.head_dim) == \
        (1536, 4096, 24, 16, 16, 96)
    assert two.rope_base == 500000.0 and large.rope_base == 10000.0


@pytest.mark.parametrize("arch", ARCHS)
def test_generated_model_matches_oracle(tmp_path, arch):
    path = tmp_path / "m.gguf"
    gen().write_dummy_bitnet(path, gen_shape(), arch=arch, weight_type="TQ2_0", embd_type="Q8_0", vocab=None, seed=1)
    m = load_model(path, n_threads=2)
    assert m.arch == arch and m.config["n_layer"] == 2 and m.n_vocab == 300
    for key, value in EXPECTED_FLAGS[arch].items():
        assert m.config[key] == value, key
    toks = tokens(16, n_vocab=300)
    got = m.eval(toks, all_logits=True)
    want = oracle(m).forward(toks)
    scale = np.abs(want).max()
    assert scale > 1.0
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-3 * scale)  # bound: the ternary test above


def test_generated_weights_are_ternary_with_one_fp16_scale(tmp_path):
    # Every projection is s * {-1, 0, 1}, one fp16 s per tensor, and the TQ2_0 / TQ1_0 / I2_S files
    # of one seed decode to the same values (read with the gguf package / the oracle's I2_S decoder).
    from llama_ref import dequant
    from edgeq.gguf import open_gguf
    files = {}
    for wtype in ("TQ2_0", "TQ1_0", "I2_S"):
        files[wtype] = tmp_path / f"{wtype}.gguf"
        gen().write_dummy_bitnet(files[wtype], gen_shape(n_layer=1), weight_type=wtype, vocab=None, seed=4)
    gs = {k: open_gguf(v) for k, v in files.items()}
    names = [t.name for t in gs["TQ2_0"] if t.name.startswith("blk.") and t.name.endswith(".weight")
             and "norm" not in t.name]
    assert len(names) == 7
    for name in names:
        w = dequant(gs["TQ2_0"], name)
        s = np.abs(w).max()
        assert s > 0 and np.float32(np.float16(s)) == s
        assert set(np.unique(w)) == {-s, 0.0, s}
        frac = [(w == v).mean() for v in (-s, 0.0, s)]
        assert min(frac) > 0.3, frac  # uniform over the three values
        for other in ("TQ1_0", "I2_S"):
            np.testing.assert_array_equal(dequant(gs[other], name), w, err_msg=f"{other} {name}")
    for g in gs.values():
        g.close()


def test_generator_seed_and_layers(tmp_path):
    # A tensor depends on the seed and its name only: --layers and the types leave the others as they are.
    from edgeq.gguf import open_gguf
    a, b, c = tmp_path / "a.gguf", tmp_path / "b.gguf", tmp_path / "c.gguf"
    gen().write_dummy_bitnet(a, gen_shape(n_layer=1), vocab=None, seed=7)
    gen().write_dummy_bitnet(b, gen_shape(n_layer=2), vocab=None, seed=7, embd_type="Q8_0")
    gen().write_dummy_bitnet(c, gen_shape(n_layer=1), vocab=None, seed=8)
    with open_gguf(a) as ga, open_gguf(b) as gb, open_gguf(c) as gc:
        assert len(gb.tensors) == len(ga.tensors) + 11  # one more layer
        for t in ga:
            if t.name != "token_embd.weight":
                assert bytes(ga.tensor_bytes(t.name)) == bytes(gb.tensor_bytes(t.name)), t.name
        assert bytes(ga.tensor_bytes("blk.0.attn_q.weight")) != bytes(gc.tensor_bytes("blk.0.attn_q.weight"))


def test_generator_scale_tensors(tmp_path):
    # With scale_tensors the matrices hold {-1, 0, 1} and each scale is `blk.N.<proj>.scale`: the
    # same model, computed as scale * (W x) instead of fp16 block scales (float rounding apart).
    from edgeq.gguf import open_gguf
    plain, scaled = tmp_path / "plain.gguf", tmp_path / "scaled.gguf"
    gen().write_dummy_bitnet(plain, gen_shape(), vocab=None, seed=2)
    gen().write_dummy_bitnet(scaled, gen_shape(), vocab=None, seed=2, scale_tensors=True)
    with open_gguf(scaled) as g:
        assert g.tensors["blk.1.ffn_down.scale"].shape == (1,)
        assert sum(t.name.endswith(".scale") for t in g) == 14
    toks = tokens(12, n_vocab=300)
    want = load_model(plain, n_threads=2).eval(toks, all_logits=True)
    got = load_model(scaled, n_threads=2).eval(toks, all_logits=True)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * np.abs(want).max())


def test_generator_copies_the_vocabulary(tmp_path, shared_data):
    # Every tokenizer.* key of the vocabulary GGUF, value and type; edgeq's tokenizer reads it.
    from edgeq.gguf import open_gguf
    vocab = shared_data / "vocab" / "ggml-vocab-llama-bpe.gguf"
    path = tmp_path / "m.gguf"
    info = gen().write_dummy_bitnet(path, gen_shape(n_layer=1), vocab=vocab, embd_type="Q8_0", seed=0)
    assert info["n_vocab"] == 128256
    with open_gguf(vocab) as v, open_gguf(path) as g:
        keys = [k for k in v.metadata if k.startswith("tokenizer.")]
        assert "tokenizer.ggml.merges" in keys
        for k in keys:
            assert g.metadata_types[k] == v.metadata_types[k], k
            a, b = g.metadata[k], v.metadata[k]
            assert (np.array_equal(a, b) if isinstance(b, np.ndarray) else a == b), k
        assert g.metadata["bitnet.vocab_size"] == 128256
        assert g.tensors["token_embd.weight"].shape == (256, 128256)
    m = load_model(path, n_threads=2)
    ids = m.tokenizer.encode("The capital of France is")
    assert ids == [128000, 791, 6864, 315, 9822, 374]  # llama-tokenize's ids for this vocabulary
    assert np.isfinite(m.eval(ids)).all()


def test_generator_cli(tmp_path):
    script = REPO_ROOT / "models" / "make_dummy_bitnet.py"
    out = tmp_path / "m.gguf"
    args = [sys.executable, str(script), str(out), "--preset", "bitnet-700m", "--layers", "1", "--vocab", "none",
            "--set", "n_vocab=500", "--set", "n_embd=256", "--set", "n_ff=512", "--set", "n_head=4",
            "--set", "n_head_kv=4", "--set", "head_dim=64", "--type", "I2_S", "--arch", "bitnet-b1.58"]
    r = subprocess.run(args, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"wrote {out}: bitnet-b1.58, 1 layers x 256, I2_S + F16 embedding, 500 tokens")
    m = load_model(out, n_threads=1)
    assert (m.arch, m.n_vocab, m.config["n_head_kv"]) == ("bitnet-b1.58", 500, 4)
    for bad, needle in ((["--embd-type", "Q6_K"], "K-quant quantizer"), (["--set", "n_ff=500"], "multiple of 256"),
                        (["--vocab", str(tmp_path / "nope.gguf")], "not found")):
        r = subprocess.run(args[:2] + [str(tmp_path / "x.gguf")] + args[3:] + bad, capture_output=True, text=True)
        assert r.returncode == 1 and needle in r.stderr and r.stderr.count("\n") == 1, (bad, r.stderr)
        assert not (tmp_path / "x.gguf").exists()
