"""bitnet.cpp's I2_S tensors (type 36): the GGUF reader's sizes, edgeq's forward pass on I2_S models
(converted to TQ2_0 at load) against the TQ2_0 / TQ1_0 files of the same weights and against the
numpy oracle, and clear errors for malformed I2_S tensors.

Layout (microsoft/BitNet src/ggml-bitnet-mad.cpp quantize_i2_s, x86; ggml_nbytes in its llama.cpp
fork): n / 4 bytes of 2-bit codes in 128-value blocks (value 32 g + p of a block: bits 7-2g..6-2g of
its byte p; code c -> s * (c - 1)), then the f32 tensor scale s and 28 bytes of padding.
"""
from __future__ import annotations

import dataclasses

import gguf
import numpy as np
import pytest

from edgeq import _core
from edgeq.gguf import GGUFError, open_gguf
from edgeq.model import load_model
from llama_ref import RefLlama, decode_i2s

from conftest import dummy_bitnet

I2_S = 36


def tiny_shape(**over):
    gen = dummy_bitnet()
    return dataclasses.replace(gen.BitnetShape(n_embd=256, n_ff=512, n_layer=2, n_head=4, n_head_kv=2, head_dim=64,
                                                context_length=64, n_vocab=300), **over)


def write(path, weight_type, arch="bitnet", seed=5, **kw):
    dummy_bitnet().write_dummy_bitnet(path, kw.pop("shape", tiny_shape()), arch=arch, weight_type=weight_type,
                                      vocab=None, seed=seed, **kw)
    return path


def tokens(n=17, seed=2):
    return np.random.default_rng(seed).integers(0, 300, n).astype(np.int32)


# ---- Layout --------------------------------------------------------------------------------------
def test_generator_i2s_bytes_follow_the_layout():
    # Codes placed by hand: block 0 values 0, 32, 64, 96 = codes 2, 1, 0, 2 -> byte 0 = 0b10010010;
    # block 1 value 128 + 127 (group 3, byte 31) = code 0 -> byte 32 + 31 = 0b01010100.
    codes = np.ones(256, dtype=np.int8)
    codes[[0, 32, 64, 96]] = [2, 1, 0, 2]
    codes[255] = 0
    raw = dummy_bitnet().write_i2s(codes, np.float32(0.75))
    assert raw.dtype == np.uint8 and raw.size == 256 // 4 + 32
    assert raw[0] == 0b10010010 and raw[1] == 0b01010101
    assert raw[32 + 31] == 0b01010100
    assert raw[64:68].view(np.float32)[0] == np.float32(0.75) and not raw[68:].any()
    # The oracle's decoder (written from the same documented layout) reads it back.
    np.testing.assert_array_equal(decode_i2s(raw, 256), (codes.astype(np.float32) - 1) * np.float32(0.75))


def test_reader_sizes_i2s_tensors(tmp_path):
    path = write(tmp_path / "m.gguf", "I2_S")
    with open_gguf(path) as g:
        t = g.tensors["blk.0.ffn_down.weight"]
        assert (t.type, t.type_name, t.shape) == (I2_S, "I2_S", (512, 256))
        assert t.nbytes == 512 * 256 // 4 + 32
        # Tensors follow one another at their aligned offsets: the trailer is part of the size.
        ends = sorted((u.offset, u.offset + u.nbytes) for u in g)
        assert all(e <= s for (_, e), (s, _) in zip(ends, ends[1:]))
        assert ends[-1][1] == path.stat().st_size


# ---- Forward pass --------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["bitnet", "bitnet-b1.58"])
def test_i2s_logits_equal_tq2_0_and_tq1_0(tmp_path, arch):
    # One seed: the same weights in three encodings. The tensor scales are fp16 values, so I2_S
    # becomes TQ2_0 blocks with d = s: the same integer kernels on the same blocks, the same bits.
    toks = tokens()
    logits = {}
    for wtype in ("I2_S", "TQ2_0", "TQ1_0"):
        m = load_model(write(tmp_path / f"{wtype}.gguf", wtype, arch), n_threads=2)
        logits[wtype] = m.eval(toks, all_logits=True)
    assert np.abs(logits["TQ2_0"]).max() > 1.0
    np.testing.assert_array_equal(logits["I2_S"], logits["TQ2_0"])
    np.testing.assert_array_equal(logits["I2_S"], logits["TQ1_0"])


def test_i2s_matches_oracle_with_non_fp16_scales(tmp_path):
    # Scales that are not fp16 values (as in real bitnet.cpp files) stay exact: d = 1 and the scale
    # multiplies the matmul output. The oracle decodes the I2_S bytes itself (llama_ref.decode_i2s).
    path = write(tmp_path / "m.gguf", "I2_S", arch="bitnet-b1.58")
    raw = bytearray(path.read_bytes())
    with open_gguf(path) as g:
        spots = [(t.offset + t.n_elements // 4, t.name) for t in g if t.type == I2_S]
    for k, (at, _) in enumerate(spots):
        s = np.frombuffer(raw[at:at + 4], dtype=np.float32)[0] * np.float32(1 + 2.0 ** -13 * (k + 1))
        assert np.float32(np.float16(s)) != s
        raw[at:at + 4] = np.float32(s).tobytes()
    path.write_bytes(bytes(raw))
    m = load_model(path, n_threads=2)
    toks = tokens()
    got = m.eval(toks, all_logits=True)
    want = RefLlama(m.gguf, m.config, emulate_act_quant=True).forward(toks)
    scale = np.abs(want).max()
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-3 * scale)  # bound: test_bitnet.py (ternary)


@pytest.mark.parametrize("isa", _core.runnable_isas())
def test_i2s_every_isa(tmp_path, isa):
    path = write(tmp_path / "m.gguf", "I2_S", scale_tensors=True)
    toks = tokens(9)
    want = load_model(path, n_threads=1, isa="ref").eval(toks, all_logits=True)
    got = load_model(path, n_threads=2, isa=isa).eval(toks, all_logits=True)
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-3 * np.abs(want).max())


# ---- Errors --------------------------------------------------------------------------------------
def _single_i2s_file(path, shape, data: bytes):
    """A GGUF holding one tensor of type I2_S with the given GGUF shape and bytes."""
    w = gguf.GGUFWriter(str(path), "bitnet")
    w.add_tensor_info("blk.0.attn_q.weight", tuple(reversed(shape)), np.dtype(np.float32), len(data),
                      raw_dtype=I2_S)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.write_tensor_data(np.frombuffer(data, dtype=np.uint8))
    w.close()
    return path


def test_reader_rejects_truncated_i2s(tmp_path):
    n = 256 * 4
    ok = _single_i2s_file(tmp_path / "ok.gguf", (256, 4), bytes(n // 4 + 32))
    with open_gguf(ok) as g:
        assert g.tensors["blk.0.attn_q.weight"].nbytes == n // 4 + 32
    # Without the 32-byte trailer (the size a blocks-only reader would write) the tensor does not fit.
    short = _single_i2s_file(tmp_path / "short.gguf", (256, 4), bytes(n // 4))
    with pytest.raises(GGUFError, match=r"'blk.0.attn_q.weight' \(I2_S, 288 bytes .*truncated file"):
        open_gguf(short)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(ok.read_bytes()[:-1])
    with pytest.raises(GGUFError, match="extends past the end"):
        open_gguf(cut)


def test_reader_rejects_odd_sized_i2s(tmp_path):
    path = _single_i2s_file(tmp_path / "odd.gguf", (64, 4), bytes(64 + 32))
    with pytest.raises(GGUFError, match="row length 64 is not a multiple of the I2_S block size 128"):
        open_gguf(path)


def test_model_errors_name_the_i2s_tensor(tmp_path):
    path = write(tmp_path / "m.gguf", "I2_S", shape=tiny_shape(n_layer=1))
    m = load_model(path, n_threads=1)
    config = dict(m.config)
    tensors = {t.name: (t.type, t.shape, np.array(m.gguf.tensor_bytes(t.name))) for t in m.gguf}
    name = "blk.0.ffn_up.weight"

    def error(**changes):
        bad = dict(tensors)
        ty, shape, data = bad[name]
        bad[name] = (changes.get("type", ty), changes.get("shape", shape), changes.get("data", data))
        with pytest.raises(ValueError) as e:
            _core.Model(config, bad, 16, 1)
        message = str(e.value)
        assert name in message and "\n" not in message
        return message

    ty, shape, data = tensors[name]
    assert "needs 32800 bytes" in error(data=data[:-1])
    assert "got 32768" in error(data=data[:-32])  # the trailer missing
    code3 = data.copy()
    code3[70] |= 0b11000000  # block 2 (values 256..383 in file order), byte 6, group 0: value 262
    assert "code 3 (not a ternary value) at row 1, column 6" in error(data=code3)
    nan = data.copy()
    nan[-32:-28] = np.frombuffer(np.float32(np.nan).tobytes(), dtype=np.uint8)
    assert "scale is not a finite number" in error(data=nan)
    # The embedding lookup cannot apply a per-tensor scale: I2_S token_embd is refused.
    bad = dict(tensors)
    e_ty, e_shape, e_data = bad["token_embd.weight"]
    bad["token_embd.weight"] = (I2_S, e_shape, np.zeros(e_shape[0] * e_shape[1] // 4 + 32, dtype=np.uint8))
    with pytest.raises(ValueError, match="token_embd.weight.*I2_S is supported for the matmul weights only"):
        _core.Model(config, bad, 16, 1)
