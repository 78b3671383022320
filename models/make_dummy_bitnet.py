#!/usr/bin/env python3
"""Dummy BitNet GGUF models: the shapes of real BitNet models, random ternary weights.

For benchmarks and tests that need a model of the right size and layout but not a trained one
(models/README.md). The files load in edgeq and, for arch `bitnet` with TQ1_0 / TQ2_0 weights, in
llama.cpp; I2_S files follow bitnet.cpp's layout (python/edgeq/gguf.py, cpp/model/i2s.h).

    python models/make_dummy_bitnet.py out.gguf --preset bitnet-2b --type TQ2_0 --embd-type F16
    python models/make_dummy_bitnet.py small.gguf --preset bitnet-700m --layers 2 --seed 3

    from make_dummy_bitnet import write_dummy_bitnet, PRESETS
    write_dummy_bitnet("out.gguf", PRESETS["bitnet-700m"].with_layers(2), weight_type="I2_S")

The model: every projection matrix W (n_out, n_in) is s * T with T drawn uniformly from
{-1, 0, +1} and ONE scale s per tensor (as trained BitNet b1.58 models are), s an fp16 value, so
TQ2_0, TQ1_0 and I2_S store it exactly: the three files of one seed are the same model. With
scale_tensors the matrices hold T itself (unit scale) and s goes to `blk.N.<proj>.scale`, the
optional per-matrix output scale of llama.cpp's bitnet graph. token_embd (N(0, sigma^2), also the
tied output layer) is F32 / F16 / Q8_0; norm weights are F32 near 1. The weights of a tensor depend
only on the seed and the tensor's name, so --layers N, the weight type and the embedding type do
not change the others.

Architectures (tensor and key names as llama.cpp and bitnet.cpp read them):
  bitnet        llama.cpp's LLM_ARCH_BITNET (src/models/bitnet.cpp): attn_sub_norm, ffn_sub_norm,
                SiLU-gated FFN, NeoX RoPE, output tied to token_embd
  bitnet-b1.58  bitnet.cpp's name for BitNet-b1.58-2B-4T: the same tensors, relu^2-gated FFN
                (upstream llama.cpp does not know this name)
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import zlib
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize

REPO_ROOT = Path(__file__).resolve().parents[1]

ARCHS = ("bitnet", "bitnet-b1.58")
WEIGHT_TYPES = ("TQ2_0", "TQ1_0", "I2_S")
# Q6_K / Q4_K token embeddings need a K-quant quantizer: the gguf package has none (it only
# dequantizes them) and edgeq has no quantizer to call yet, so they are not offered.
EMBD_TYPES = ("F16", "Q8_0", "F32")

# bitnet.cpp's ternary type (not in the gguf package): 2-bit codes in 128-value blocks plus one
# f32 scale per tensor. Layout: write_i2s() below and cpp/model/i2s.h.
GGML_TYPE_I2_S = 36
I2S_BLOCK = 128        # values per 32-byte block
I2S_TRAILER = 32       # f32 scale + 28 bytes of padding after the packed codes

# general.file_type (llama_ftype): llama.cpp's MOSTLY_TQ1_0 / MOSTLY_TQ2_0, bitnet.cpp's MOSTLY_I2_S.
FILE_TYPES = {"TQ1_0": 36, "TQ2_0": 37, "I2_S": 40}

EMBD_CHUNK_ROWS = 4096  # token_embd is generated and written this many rows at a time


@dataclasses.dataclass(frozen=True)
class BitnetShape:
    n_embd: int
    n_ff: int
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim: int
    rope_base: float = 10000.0
    context_length: int = 4096
    rms_eps: float = 1e-5
    n_vocab: int = 0  # used only without a vocabulary file; otherwise the vocabulary's size

    def with_layers(self, n_layer: int) -> "BitnetShape":
        return dataclasses.replace(self, n_layer=n_layer)

    @property
    def q_dim(self) -> int:
        return self.n_head * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.n_head_kv * self.head_dim


PRESETS: Dict[str, BitnetShape] = {
    # BitNet-b1.58-2B-4T (microsoft): Llama-3 vocabulary, RoPE theta 500000, 4k context.
    "bitnet-2b": BitnetShape(n_embd=2560, n_ff=6912, n_layer=30, n_head=20, n_head_kv=5, head_dim=128,
                             rope_base=500000.0, context_length=4096),
    # bitnet_b1_58-large (1bitLLM, ~700M parameters): no GQA, head_dim 96, 2k context.
    "bitnet-700m": BitnetShape(n_embd=1536, n_ff=4096, n_layer=24, n_head=16, n_head_kv=16, head_dim=96,
                               rope_base=10000.0, context_length=2048),
}


def default_vocab() -> Path:
    """The Llama-3 vocabulary GGUF (128256 tokens) in the shared data directory."""
    shared = os.environ.get("EDGEQ_SHARED_DATA")
    base = Path(shared) if shared else REPO_ROOT.parent / "shared" / "data"
    return base / "vocab" / "ggml-vocab-llama-bpe.gguf"


# ---- Weights ---------------------------------------------------------------------------------------
def tensor_rng(seed: int, name: str) -> np.random.Generator:
    """The random stream of one tensor: a function of the seed and the name only."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def fp16_exact(x: float) -> np.float32:
    """x rounded to the nearest fp16 value (so TQ1_0 / TQ2_0's fp16 block scales hold it exactly)."""
    return np.float32(np.float16(x))


def ternary_codes(seed: int, name: str, n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) int8 codes c in {0, 1, 2}, weight = s * (c - 1), uniform over the three."""
    return tensor_rng(seed, name).integers(0, 3, size=(n_out, n_in), dtype=np.int8)


def write_i2s(codes: np.ndarray, scale: float) -> np.ndarray:
    """bitnet.cpp's I2_S bytes of codes (any shape, n values, n % 128 == 0) with tensor scale.

    Layout (microsoft/BitNet src/ggml-bitnet-mad.cpp quantize_i2_s, x86 build: QK_I2_S = 128, the
    layout of the published GGUF files and of dequantize_row_i2_s): the values in file order are
    cut into blocks of 128; value j of a block is bits 7-6 / 5-4 / 3-2 / 1-0 (group j // 32 = 0..3)
    of byte j % 32 of the block's 32 bytes; code 0 / 1 / 2 = weight -s / 0 / +s. After the n / 4
    packed bytes: the scale s as little-endian f32, then 28 bytes of padding (ggml_nbytes of an
    I2_S tensor is n / 4 + 32)."""
    c = np.ascontiguousarray(codes, dtype=np.uint8).reshape(-1, 4, 32)  # (block, group, byte)
    packed = (c[:, 0] << 6) | (c[:, 1] << 4) | (c[:, 2] << 2) | c[:, 3]
    trailer = np.zeros(I2S_TRAILER, dtype=np.uint8)
    trailer[:4] = np.frombuffer(np.float32(scale).tobytes(), dtype=np.uint8)
    return np.concatenate([packed.reshape(-1), trailer])


def ternary_bytes(codes: np.ndarray, scale: np.float32, weight_type: str) -> np.ndarray:
    """The tensor bytes of s * (codes - 1) in a ternary type (exact: s is an fp16 value)."""
    if weight_type == "I2_S":
        return write_i2s(codes, scale)
    w = (codes.astype(np.float32) - np.float32(1.0)) * scale
    return quantize(w, T[weight_type]).reshape(-1)


def embd_chunks(seed: int, n_vocab: int, n_embd: int, embd_type: str, sigma: float) -> Iterator[np.ndarray]:
    """token_embd bytes, EMBD_CHUNK_ROWS rows at a time (values N(0, sigma^2))."""
    rng = tensor_rng(seed, "token_embd.weight")
    for r0 in range(0, n_vocab, EMBD_CHUNK_ROWS):
        rows = min(EMBD_CHUNK_ROWS, n_vocab - r0)
        x = rng.standard_normal((rows, n_embd), dtype=np.float32) * np.float32(sigma)
        if embd_type == "F32":
            yield x.view(np.uint8).reshape(-1)
        elif embd_type == "F16":
            yield x.astype(np.float16).view(np.uint8).reshape(-1)
        else:
            yield quantize(x, T[embd_type]).reshape(-1)


def type_bytes(ggml_type: int, n_in: int, n_out: int) -> int:
    if ggml_type == GGML_TYPE_I2_S:
        return n_in * n_out // 4 + I2S_TRAILER
    block, size = gguf.GGML_QUANT_SIZES[T(ggml_type)]
    return n_out * (n_in // block) * size


@dataclasses.dataclass
class _Tensor:
    name: str
    shape: Sequence[int]  # numpy order: (n_out, n_in) or (n,)
    ggml_type: int
    nbytes: int
    data: Callable[[], Iterator[np.ndarray]]  # uint8 chunks, nbytes in all


def _plan(shape: BitnetShape, n_vocab: int, weight_type: str, embd_type: str, seed: int,
          scale_tensors: bool) -> List[_Tensor]:
    D, F = shape.n_embd, shape.n_ff
    out: List[_Tensor] = []

    def vector(name: str, n: int, spread: float) -> None:
        def data():
            v = np.float32(1.0) + np.float32(spread) * tensor_rng(seed, name).standard_normal(n, dtype=np.float32)
            yield v.view(np.uint8)
        out.append(_Tensor(name, (n,), int(T.F32), 4 * n, data))

    def projection(name: str, n_out: int, n_in: int, gain: float = 1.0) -> None:
        # Var(s * t) with t uniform over {-1, 0, 1} is s^2 * 2/3: s = gain / sqrt(n_in * 2/3) keeps
        # the output's scale that of the (normalized) input.
        s = fp16_exact(gain / np.sqrt(n_in * 2.0 / 3.0))
        stored = np.float32(1.0) if scale_tensors else s
        wtype = GGML_TYPE_I2_S if weight_type == "I2_S" else int(T[weight_type])

        def data():
            yield ternary_bytes(ternary_codes(seed, name + ".weight", n_out, n_in), stored, weight_type)
        out.append(_Tensor(name + ".weight", (n_out, n_in), wtype, type_bytes(wtype, n_in, n_out), data))
        if scale_tensors:
            out.append(_Tensor(name + ".scale", (1,), int(T.F32), 4, lambda: iter([s.reshape(1).view(np.uint8)])))

    # Tied output: logits = rmsnorm(x) . E[v]; with E ~ N(0, sigma^2) their spread is about
    # sigma * sqrt(n_embd) = 4, which gives greedy decoding clear top-1 margins.
    sigma = 4.0 / np.sqrt(D)
    etype = int(T[embd_type])
    out.append(_Tensor("token_embd.weight", (n_vocab, D), etype, type_bytes(etype, D, n_vocab),
                       lambda: embd_chunks(seed, n_vocab, D, embd_type, sigma)))
    for l in range(shape.n_layer):
        b = f"blk.{l}."
        vector(b + "attn_norm.weight", D, 0.1)
        projection(b + "attn_q", shape.q_dim, D, gain=2.0)  # gains > 1 on q, k: attention that is
        projection(b + "attn_k", shape.kv_dim, D, gain=2.0)  # not uniform over the positions
        projection(b + "attn_v", shape.kv_dim, D)
        vector(b + "attn_sub_norm.weight", shape.q_dim, 0.1)
        projection(b + "attn_output", D, shape.q_dim)
        vector(b + "ffn_norm.weight", D, 0.1)
        projection(b + "ffn_gate", F, D)
        projection(b + "ffn_up", F, D)
        vector(b + "ffn_sub_norm.weight", F, 0.1)
        projection(b + "ffn_down", D, F)
    vector("output_norm.weight", D, 0.1)
    return out


# ---- File ------------------------------------------------------------------------------------------
def _check(shape: BitnetShape, arch: str, weight_type: str, embd_type: str) -> None:
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r} (choose from {', '.join(ARCHS)})")
    if weight_type not in WEIGHT_TYPES:
        raise ValueError(f"unknown weight type {weight_type!r} (choose from {', '.join(WEIGHT_TYPES)})")
    if embd_type in ("Q6_K", "Q4_K"):
        raise ValueError(f"embedding type {embd_type} needs a K-quant quantizer, which the gguf package "
                         "does not have (choose from " + ", ".join(EMBD_TYPES) + ")")
    if embd_type not in EMBD_TYPES:
        raise ValueError(f"unknown embedding type {embd_type!r} (choose from {', '.join(EMBD_TYPES)})")
    for field in ("n_embd", "n_ff", "n_layer", "n_head", "n_head_kv", "head_dim", "context_length"):
        if getattr(shape, field) <= 0:
            raise ValueError(f"{field} must be positive, got {getattr(shape, field)}")
    for field, n in (("n_embd", shape.n_embd), ("n_ff", shape.n_ff), ("n_head * head_dim", shape.q_dim)):
        if n % 256:  # ternary rows are whole 256-value blocks (TQ1_0 / TQ2_0; edgeq runs I2_S as TQ2_0)
            raise ValueError(f"{field} = {n} is not a multiple of 256 (ternary block size)")
    if shape.n_head % shape.n_head_kv:
        raise ValueError(f"n_head {shape.n_head} is not a multiple of n_head_kv {shape.n_head_kv}")
    if shape.head_dim % 2:
        raise ValueError(f"head_dim {shape.head_dim} must be even (RoPE pairs)")


def _edgeq_gguf():
    """edgeq's GGUF reader (python/edgeq/gguf.py, numpy only), loaded from its file so that the
    generator runs without the compiled edgeq core. It reads a 128k-token vocabulary in well under a
    second (the gguf package's GGUFReader takes ~15 s) and keeps each key's value type."""
    import importlib.util
    name = "_edgeq_gguf"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "python" / "edgeq" / "gguf.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
    return sys.modules[name]


def _copy_tokenizer(w: gguf.GGUFWriter, vocab: Path) -> int:
    """Copies every tokenizer.* key of a GGUF file with its value type; returns the vocabulary size."""
    V = gguf.GGUFValueType
    with _edgeq_gguf().open_gguf(vocab) as g:
        for key, value in g.metadata.items():
            if not key.startswith("tokenizer."):
                continue
            vtype, etype = g.metadata_types[key]
            if isinstance(value, np.ndarray):
                value = value.tolist()
            if etype == V.STRING:  # bytes: pieces that are not UTF-8 on their own stay lossless
                value = [v.encode("utf-8", "surrogateescape") for v in value]
            w.add_key_value(key, value, V(vtype), sub_type=None if etype is None else V(etype))
        tokens = g.metadata.get("tokenizer.ggml.tokens")
        if not isinstance(tokens, list) or not tokens:
            raise ValueError(f"{vocab}: no tokenizer.ggml.tokens: not a vocabulary GGUF")
        return len(tokens)


def write_dummy_bitnet(path: "str | os.PathLike[str]", shape: "BitnetShape | str" = "bitnet-2b", *,
                       arch: str = "bitnet", weight_type: str = "TQ2_0", embd_type: str = "F16",
                       vocab: "str | os.PathLike[str] | None" = "default", seed: int = 0,
                       scale_tensors: bool = False, progress: Optional[Callable[[str], None]] = None) -> dict:
    """Writes a dummy BitNet GGUF; returns {path, n_vocab, bytes, seconds, shape}.

    shape: a BitnetShape or a PRESETS name. vocab: a GGUF whose tokenizer.* keys are copied (the
    default: the Llama-3 vocabulary), or None for no tokenizer (then shape.n_vocab tokens; such a
    file runs in edgeq's forward pass but not in llama.cpp). progress: called with each tensor's name.
    """
    t0 = time.perf_counter()
    if isinstance(shape, str):
        if shape not in PRESETS:
            raise ValueError(f"unknown preset {shape!r} (choose from {', '.join(PRESETS)})")
        shape = PRESETS[shape]
    _check(shape, arch, weight_type, embd_type)
    path = Path(path)
    w = gguf.GGUFWriter(str(path), arch)
    try:
        if vocab is not None:
            vocab = default_vocab() if vocab == "default" else Path(vocab)
            if not vocab.is_file():
                raise FileNotFoundError(f"vocabulary file {vocab} not found (set EDGEQ_SHARED_DATA or pass --vocab)")
            n_vocab = _copy_tokenizer(w, vocab)
        else:
            n_vocab = shape.n_vocab
            if n_vocab <= 0:
                raise ValueError("without a vocabulary file, shape.n_vocab must be positive")
        w.add_name(f"dummy {arch} {shape.n_layer}x{shape.n_embd} {weight_type} (random weights, seed {seed})")
        w.add_context_length(shape.context_length)
        w.add_embedding_length(shape.n_embd)
        w.add_block_count(shape.n_layer)
        w.add_feed_forward_length(shape.n_ff)
        w.add_head_count(shape.n_head)
        w.add_head_count_kv(shape.n_head_kv)
        if shape.head_dim * shape.n_head != shape.n_embd:  # llama.cpp's bitnet needs q_dim == n_embd
            w.add_key_length(shape.head_dim)
            w.add_value_length(shape.head_dim)
        w.add_rope_dimension_count(shape.head_dim)
        w.add_rope_freq_base(shape.rope_base)
        w.add_layer_norm_rms_eps(shape.rms_eps)
        w.add_vocab_size(n_vocab)
        w.add_file_type(FILE_TYPES[weight_type])
        w.add_quantization_version(gguf.GGML_QUANT_VERSION)

        tensors = _plan(shape, n_vocab, weight_type, embd_type, seed, scale_tensors)
        for t in tensors:
            # tensor_dtype float32 + raw_dtype: the shape is taken as given (numpy order).
            w.add_tensor_info(t.name, t.shape, np.dtype(np.float32), t.nbytes, raw_dtype=t.ggml_type)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        # Tensor data, streamed: each tensor aligned as the tensor infos' offsets say.
        fout = w.fout[0]
        for t in tensors:
            if progress:
                progress(t.name)
            w.write_padding(fout, fout.tell())
            written = 0
            for chunk in t.data():
                fout.write(memoryview(np.ascontiguousarray(chunk)))
                written += chunk.nbytes
            if written != t.nbytes:
                raise AssertionError(f"{t.name}: wrote {written} bytes, planned {t.nbytes}")
        w.write_padding(fout, fout.tell())
    except BaseException:
        w.close()
        path.unlink(missing_ok=True)
        raise
    w.close()
    return {"path": str(path), "n_vocab": n_vocab, "bytes": path.stat().st_size,
            "seconds": time.perf_counter() - t0, "shape": shape}


# ---- CLI -------------------------------------------------------------------------------------------
def _shape_override(text: str) -> tuple:
    key, sep, value = text.partition("=")
    fields = {f.name: f.type for f in dataclasses.fields(BitnetShape)}
    if not sep or key not in fields:
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE with FIELD one of {', '.join(fields)}, got {text!r}")
    try:
        return key, (float(value) if fields[key] in (float, "float") else int(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{key}: not a number: {value!r}") from None


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Write a BitNet-shaped GGUF with random ternary weights.")
    p.add_argument("output", help="the .gguf file to write")
    p.add_argument("--preset", default="bitnet-2b", choices=sorted(PRESETS))
    p.add_argument("--arch", default="bitnet", choices=ARCHS)
    p.add_argument("--type", dest="weight_type", default="TQ2_0", choices=WEIGHT_TYPES,
                   help="type of the ternary projection matrices")
    p.add_argument("--embd-type", default="F16", help="type of token_embd, the tied output layer: "
                   + " | ".join(EMBD_TYPES))
    p.add_argument("--layers", type=int, help="number of layers (default: the preset's)")
    p.add_argument("--set", dest="overrides", type=_shape_override, action="append", default=[],
                   metavar="FIELD=VALUE", help="override a shape field (n_embd, n_ff, n_head, n_head_kv, "
                   "head_dim, rope_base, context_length, rms_eps, n_vocab)")
    p.add_argument("--vocab", default="default", help="GGUF file whose tokenizer.* keys are copied "
                   "(default: the Llama-3 vocabulary in $EDGEQ_SHARED_DATA/vocab), or 'none'")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale-tensors", action="store_true",
                   help="store unit-scale ternary matrices and each scale in blk.N.<proj>.scale")
    p.add_argument("-q", "--quiet", action="store_true")
    a = p.parse_args(argv)
    shape = PRESETS[a.preset]
    if a.layers is not None:
        shape = shape.with_layers(a.layers)
    if a.overrides:
        shape = dataclasses.replace(shape, **dict(a.overrides))
    vocab = None if a.vocab == "none" else a.vocab

    def progress(name: str) -> None:
        if not a.quiet and sys.stderr.isatty():
            print(f"\r\033[K{name}", end="", file=sys.stderr, flush=True)
    try:
        info = write_dummy_bitnet(a.output, shape, arch=a.arch, weight_type=a.weight_type,
                                  embd_type=a.embd_type.upper(), vocab=vocab, seed=a.seed,
                                  scale_tensors=a.scale_tensors, progress=progress)
    except (ValueError, OSError) as e:
        print(f"\r\033[K" if sys.stderr.isatty() else "", end="", file=sys.stderr)
        print(f"make_dummy_bitnet: error: {e}", file=sys.stderr)
        return 1
    if not a.quiet:
        if sys.stderr.isatty():
            print("\r\033[K", end="", file=sys.stderr)
        s = info["shape"]
        print(f"wrote {info['path']}: {a.arch}, {s.n_layer} layers x {s.n_embd}, {a.weight_type} + "
              f"{a.embd_type.upper()} embedding, {info['n_vocab']} tokens, {info['bytes'] / 1e6:.1f} MB "
              f"in {info['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
