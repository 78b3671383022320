"""Load a GGUF model into the C++ forward pass.

    model = load_model("SmolLM2-135M-Instruct.Q4_1.gguf")
    logits = model.eval([1, 2, 3])          # (1, n_vocab): the last token's logits
    logits = model.eval(ids, all_logits=True)  # (len(ids), n_vocab)

The weights are never copied: the C++ model reads the memory-mapped tensor bytes of the
GGUFFile, which the Model keeps open. Shapes, types and the presence of every tensor are
validated in C++ (one place); errors are re-raised here with the file name.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional, Sequence

import numpy as np

from . import _core
from .device import DeviceError, check_device
from .gguf import GGUFError, GGUFFile, open_gguf

# Architectures this forward pass runs: how each differs from llama, as _core.Model config flags
# (rope_style, ffn_act, sub_norms, matmul_scales). The table lives in C++ (cpp/gguf/model_config.cpp,
# shared with the C API), e.g. {"bitnet-b1.58": {"rope_style": "neox", "ffn_act": "relu2", ...}}.
ARCH_FLAGS: Dict[str, Dict[str, Any]] = _core.arch_flags()

DEFAULT_MAX_CTX = 4096

# How ternary (TQ2_0 / TQ1_0) matrices are kept: "native" (the TQ kernels), "tl" (converted at load
# to edgeq's lookup-table layout, the fast decode path: TL2D on CPUs with AVX-512 VBMI, 1.73 bits
# per weight, else TL2, 1.69; an error if a matrix cannot convert losslessly), "tl2" / "tl2d"
# (that layout), "auto" (tl when every ternary matrix converts, as BitNet models do, else native).
# The logits are the same bit for bit either way. A model reports "tl" (TL2) or "tl2d".
TERNARY_LAYOUTS = ("auto", "native", "tl", "tl2", "tl2d")

# bitnet.cpp's fork numbers its own formats I2_S 36, I8_S 37, TL1 38, TL2 39: in its architectures'
# files, type 39 is TL2, not ggml's MXFP4 (design.md); its bytes must never be read as MXFP4.
_BITNET_CPP_ARCHS = ("bitnet-b1.58", "bitnet-25")
_MXFP4_OR_TL2 = 39


def physical_cores() -> int:
    """Physical cores among the CPUs this process may run on (hyper-threads share a core's
    execution units, so a second thread per core does not speed up the matmuls)."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return max(1, (os.cpu_count() or 2) // 2)
    cores = set()
    for cpu in cpus:
        base = f"/sys/devices/system/cpu/cpu{cpu}/topology/"
        try:
            with open(base + "core_id") as f:
                core = f.read().strip()
            with open(base + "physical_package_id") as f:
                pkg = f.read().strip()
            cores.add((pkg, core))
        except OSError:
            cores.add(("cpu", str(cpu)))
    return max(1, len(cores))


def _meta_int(g: GGUFFile, key: str, default: Optional[int] = None) -> int:
    v = g.metadata.get(key, default)
    if v is None:
        raise GGUFError(f"{g.path}: missing metadata key '{key}'")
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v <= 0:
        raise GGUFError(f"{g.path}: metadata '{key}' must be a positive integer, got {v!r}")
    return int(v)


def _meta_float(g: GGUFFile, key: str, default: float) -> float:
    v = g.metadata.get(key, default)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise GGUFError(f"{g.path}: metadata '{key}' must be a number, got {v!r}")
    return float(v)


def read_config(g: GGUFFile) -> Dict[str, Any]:
    """The _core.Model config dict from a GGUF file's `<arch>.*` metadata."""
    arch = g.architecture
    if arch not in ARCH_FLAGS:
        supported = ", ".join(sorted(ARCH_FLAGS))
        raise GGUFError(f"{g.path}: unsupported architecture {arch!r} (supported: {supported})")
    n_expert = g.metadata.get(f"{arch}.expert_count", 0)
    if n_expert:
        raise GGUFError(f"{g.path}: mixture-of-experts models ({arch} with {n_expert} experts) are not supported")
    scaling = g.metadata.get(f"{arch}.rope.scaling.type")
    linear_identity = scaling == "linear" and _meta_float(g, f"{arch}.rope.scaling.factor", 1.0) == 1.0
    if scaling not in (None, "none") and not linear_identity:  # llama.cpp writes linear x1 for BitNet
        raise GGUFError(f"{g.path}: RoPE scaling type {scaling!r} is not supported")
    if arch in _BITNET_CPP_ARCHS:
        for t in g:
            if t.type == _MXFP4_OR_TL2:
                raise GGUFError(f"{g.path}: tensor '{t.name}' has type 39, which bitnet.cpp's {arch} files use "
                                "for its TL2 format (not MXFP4): unsupported")
    if "token_embd.weight" not in g.tensors:
        raise GGUFError(f"{g.path}: missing tensor 'token_embd.weight'")
    embd = g.tensors["token_embd.weight"]
    if len(embd.shape) != 2:
        raise GGUFError(f"{g.path}: tensor 'token_embd.weight' must be 2-D, got shape {embd.shape}")
    n_embd = _meta_int(g, f"{arch}.embedding_length")
    n_head = _meta_int(g, f"{arch}.attention.head_count")
    cfg: Dict[str, Any] = {
        "arch": arch,
        "n_layer": _meta_int(g, f"{arch}.block_count"),
        "n_embd": n_embd,
        "n_ff": _meta_int(g, f"{arch}.feed_forward_length"),
        "n_head": n_head,
        "n_head_kv": _meta_int(g, f"{arch}.attention.head_count_kv", n_head),
        "n_vocab": int(embd.shape[1]),
        "rope_base": _meta_float(g, f"{arch}.rope.freq_base", 10000.0),
        "rms_eps": _meta_float(g, f"{arch}.attention.layer_norm_rms_epsilon", 1e-5),
        **ARCH_FLAGS[arch],
    }
    if f"{arch}.attention.key_length" in g.metadata:
        head_dim = _meta_int(g, f"{arch}.attention.key_length")
        if _meta_int(g, f"{arch}.attention.value_length", head_dim) != head_dim:
            raise GGUFError(f"{g.path}: key_length != value_length is not supported")
        cfg["head_dim"] = head_dim
    if f"{arch}.rope.dimension_count" in g.metadata:
        cfg["rope_dim"] = _meta_int(g, f"{arch}.rope.dimension_count")
    return cfg


class Model:
    """A loaded model: the open GGUF file, its config, and the C++ model with its KV cache."""

    def __init__(self, gguf: GGUFFile, n_ctx: Optional[int] = None, n_threads: Optional[int] = None,
                 isa: str = "", ternary_layout: str = "auto", device: str = "cpu"):
        self.gguf = gguf
        self.path = gguf.path
        self.config = read_config(gguf)
        self.context_length = _meta_int(gguf, f"{self.arch}.context_length", DEFAULT_MAX_CTX)
        if n_ctx is None:
            n_ctx = min(self.context_length, DEFAULT_MAX_CTX)
        if not isinstance(n_ctx, (int, np.integer)) or n_ctx <= 0:
            raise ValueError(f"n_ctx must be a positive integer, got {n_ctx!r}")
        if n_threads is None:
            n_threads = physical_cores()
        if not isinstance(n_threads, (int, np.integer)) or n_threads <= 0:
            raise ValueError(f"n_threads must be a positive integer, got {n_threads!r}")
        if ternary_layout not in TERNARY_LAYOUTS:
            raise ValueError(f"ternary_layout must be one of {', '.join(TERNARY_LAYOUTS)}, got {ternary_layout!r}")
        check_device(device)  # DeviceError (one line) before the weights are read
        tensors = {t.name: (t.type, t.shape, gguf.tensor_bytes(t.name)) for t in gguf}
        try:
            self._core = _core.Model(self.config, tensors, int(n_ctx), int(n_threads), isa, ternary_layout,
                                     device)
        except ValueError as e:
            raise GGUFError(f"{self.path}: {e}") from None
        except RuntimeError as e:  # the GPU: out of memory, a CUDA error
            if device != "cuda":
                raise
            raise DeviceError(f"{self.path}: {e}") from None
        self._tokenizer = None

    # ---- properties ------------------------------------------------------------------------
    @property
    def arch(self) -> str:
        return self.config["arch"]

    @property
    def metadata(self) -> Dict[str, Any]:
        return self.gguf.metadata

    @property
    def n_ctx(self) -> int:
        return self._core.n_ctx

    @property
    def n_vocab(self) -> int:
        return self._core.n_vocab

    @property
    def n_past(self) -> int:
        return self._core.n_past

    @property
    def n_threads(self) -> int:
        return self._core.n_threads

    @property
    def isa(self) -> str:
        """The CPU kernel table ("avx2", ...), or "cuda" when the forward pass runs on the GPU."""
        return self._core.isa

    @property
    def device(self) -> str:
        """"cpu" or "cuda"."""
        return self._core.device

    @property
    def device_info(self) -> str:
        """On the GPU: the device and what the model holds there, one line; "" on the CPU."""
        return self._core.device_info

    @property
    def ternary_layout(self) -> str:
        """How the ternary matrices were loaded: "tl", "native", or "none" (the model has none)."""
        return self._core.ternary_layout

    @property
    def ternary_note(self) -> str:
        """Why ternary_layout="auto" kept the ternary matrices native (the first one that cannot
        convert losslessly), else ""."""
        return self._core.ternary_note

    @property
    def tokenizer(self):
        """The model's tokenizer, built from the GGUF metadata on first use."""
        if self._tokenizer is None:
            try:
                from .tokenizer import Tokenizer
            except ImportError as e:
                raise RuntimeError(f"the tokenizer module is not available: {e}") from None
            self._tokenizer = Tokenizer.from_metadata(self.metadata)
        return self._tokenizer

    # ---- evaluation --------------------------------------------------------------------------
    def eval(self, tokens: "Sequence[int] | np.ndarray", all_logits: bool = False) -> np.ndarray:
        """Run tokens at positions n_past.. and append them to the KV cache. Returns float32
        logits: (len(tokens), n_vocab) if all_logits, else (1, n_vocab) for the last token."""
        arr = np.asarray(tokens)
        if arr.ndim != 1:
            raise ValueError(f"tokens must be a 1-D sequence of token ids, got shape {arr.shape}")
        if arr.size == 0:
            raise ValueError("eval needs at least one token")
        if arr.dtype.kind not in "iu":
            raise TypeError(f"token ids must be integers, got {arr.dtype}")
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= self.n_vocab:
            bad = lo if lo < 0 else hi
            raise ValueError(f"token id {bad} is out of range [0, {self.n_vocab})")
        return self._core.eval(arr.astype(np.int32, copy=False), bool(all_logits))

    def truncate(self, n: int) -> None:
        """Rewind the KV cache to its first n positions (to reuse a shared prefix)."""
        self._core.truncate(int(n))

    def reset(self) -> None:
        self._core.reset()

    def close(self) -> None:
        """Free the C++ model (weights views, KV cache, threads) and unmap the file."""
        self._core = None
        self.gguf.close()

    def __repr__(self) -> str:
        c = self.config
        return (f"Model({os.path.basename(self.path)!r}, arch={self.arch}, n_layer={c['n_layer']}, "
                f"n_embd={c['n_embd']}, n_vocab={self.n_vocab}, n_ctx={self.n_ctx}, "
                f"n_threads={self.n_threads}, isa={self.isa}, ternary_layout={self.ternary_layout}, "
                f"device={self.device})")


def load_model(path: "str | os.PathLike[str]", n_ctx: Optional[int] = None,
               n_threads: Optional[int] = None, isa: str = "",
               progress: Optional[str] = "off", ternary_layout: str = "auto",
               device: str = "cpu") -> Model:
    """Open a GGUF file and build its model. Errors name the file (GGUFError, a ValueError).
    isa picks a kernel table other than the dispatched one ("ref", "avx2", ...): for tests.
    progress: "off" (default), "bar", "json" or None (a bar when stderr is a terminal): read
    the weights into memory first, showing progress once that takes more than half a second.
    ternary_layout: "auto" | "native" | "tl" | "tl2" | "tl2d", see TERNARY_LAYOUTS.
    device: "cpu" or "cuda" (the whole forward pass on the GPU; DeviceError, one line, when this
    build or machine cannot: see device.py)."""
    check_device(device)  # before opening the file: the device error is the one to report
    g = open_gguf(path)
    try:
        if progress != "off":
            from .progress import Progress

            total = sum(t.nbytes for t in g)
            with Progress(f"loading {os.path.basename(g.path)}", total, mode=progress,
                          delay=0.5) as bar:
                if bar.mode != "off":
                    g.prefetch(bar.advance)
        return Model(g, n_ctx=n_ctx, n_threads=n_threads, isa=isa, ternary_layout=ternary_layout,
                     device=device)
    except BaseException:
        g.close()
        raise
