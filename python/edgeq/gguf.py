"""GGUF reader: memory-mapped, zero-copy tensors, fast metadata, strict validation.

Layout of a GGUF file (v2 and v3; all little-endian):
    magic "GGUF", u32 version, u64 n_tensors, u64 n_kv,
    n_kv x (string key, u32 value_type, value),
    n_tensors x (string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset),
    padding to `general.alignment` (default 32), then the tensor data; each tensor's offset is
    relative to the start of the data section and aligned.
Strings are u64 length + UTF-8 bytes; arrays are u32 element type + u64 count + elements.

Every structural problem raises GGUFError("<path>: <problem>"), never a crash: the file is
untrusted input (counts and lengths are checked against the bytes that remain before use).
"""
from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

import numpy as np

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 4  # ggml's GGML_MAX_DIMS

# ggml type id -> (name, values per block, bytes per block). File-format facts (ggml.h).
GGML_TYPES: Dict[int, Tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
    36: ("I2_S", 128, 32),
    39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
}
GGML_TYPE_IDS: Dict[str, int] = {name: tid for tid, (name, _, _) in GGML_TYPES.items()}

# Bytes a tensor of the type holds after its blocks, once per tensor.
#   I2_S (36): bitnet.cpp's ternary type (its ggml fork; upstream ggml and the `gguf` package do not
#   know it): 2-bit codes in 128-value blocks of 32 bytes, then ONE f32 scale for the whole tensor
#   and 28 bytes of padding: ggml_nbytes = n / 4 + 32 (ggml.c in bitnet.cpp's llama.cpp fork). Byte
#   layout in cpp/model/i2s.h.
TENSOR_TRAILER_BYTES: Dict[int, int] = {36: 32}

# GGUF metadata value types: id -> (struct format, size) for scalars.
_SCALARS = {
    0: ("<B", 1), 1: ("<b", 1), 2: ("<H", 2), 3: ("<h", 2), 4: ("<I", 4), 5: ("<i", 4),
    6: ("<f", 4), 7: ("<?", 1), 10: ("<Q", 8), 11: ("<q", 8), 12: ("<d", 8),
}
_NUMPY_DTYPES = {
    0: np.uint8, 1: np.int8, 2: np.uint16, 3: np.int16, 4: np.uint32, 5: np.int32,
    6: np.float32, 7: np.bool_, 10: np.uint64, 11: np.int64, 12: np.float64,
}
_STRING, _ARRAY = 8, 9


class GGUFError(ValueError):
    """A GGUF file is malformed or unsupported. The message names the file and the problem."""


def type_name(type_id: int) -> str:
    info = GGML_TYPES.get(type_id)
    return info[0] if info else f"unknown type {type_id}"


def row_bytes(type_id: int, n: int) -> int:
    """Bytes of one row of n values of a GGML type (n must be a multiple of the block)."""
    _, block, size = GGML_TYPES[type_id]
    return (n // block) * size


@dataclass(frozen=True)
class TensorInfo:
    name: str
    type: int
    shape: Tuple[int, ...]  # GGUF order: shape[0] is the row length (fastest-varying)
    offset: int  # absolute offset in the file
    nbytes: int

    @property
    def type_name(self) -> str:
        return type_name(self.type)

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


class _Cursor:
    """Bounds-checked little-endian reader over the mapped header."""

    def __init__(self, raw, path: str):
        self.raw = raw  # the mmap itself: slicing it yields bytes
        self.pos = 0
        self.size = len(raw)
        self.path = path

    def fail(self, problem: str):
        # Names inside the problem come from the file: escape control characters so the
        # message stays one printable line.
        clean = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in problem)
        raise GGUFError(f"{self.path}: {clean}")

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            self.fail(f"truncated file: {what} needs {n} bytes at offset {self.pos}, "
                      f"but the file has {self.size} bytes")

    def scalar(self, fmt: str, size: int, what: str):
        self.need(size, what)
        (v,) = struct.unpack_from(fmt, self.raw, self.pos)
        self.pos += size
        return v

    def u32(self, what: str) -> int:
        return self.scalar("<I", 4, what)

    def u64(self, what: str) -> int:
        return self.scalar("<Q", 8, what)

    def string(self, what: str) -> str:
        n = self.u64(f"length of {what}")
        self.need(n, what)
        raw = self.raw[self.pos:self.pos + n]
        self.pos += n
        # Token pieces of some vocabularies are not valid UTF-8 on their own: keep them
        # lossless (surrogateescape round-trips the bytes).
        return raw.decode("utf-8", errors="surrogateescape")

    def string_array(self, count: int, what: str) -> list:
        """The hot loop of start-up (vocabularies of 128k+ tokens and merges): slice the mapped
        bytes directly, check bounds per string."""
        raw, pos, size, unpack = self.raw, self.pos, self.size, struct.unpack_from
        out = [None] * count
        for i in range(count):
            if pos + 8 > size:
                self.pos = pos
                self.need(8, f"length of {what}[{i}]")
            (n,) = unpack("<Q", raw, pos)
            pos += 8
            if pos + n > size:
                self.pos = pos
                self.need(n, f"{what}[{i}]")
            out[i] = raw[pos:pos + n].decode("utf-8", "surrogateescape")
            pos += n
        self.pos = pos
        return out

    def value(self, vtype: int, what: str) -> Any:
        if vtype in _SCALARS:
            fmt, size = _SCALARS[vtype]
            return self.scalar(fmt, size, what)
        if vtype == _STRING:
            return self.string(what)
        if vtype == _ARRAY:
            etype = self.u32(f"element type of {what}")
            count = self.u64(f"element count of {what}")
            if etype in _SCALARS:
                size = _SCALARS[etype][1]
                self.need(count * size, f"{count} elements of {what}")
                arr = np.frombuffer(self.raw, dtype=_NUMPY_DTYPES[etype], count=count, offset=self.pos).copy()
                self.pos += count * size
                return arr
            if etype == _STRING:
                # Every string takes at least its 8-byte length: reject absurd counts up front.
                self.need(count * 8, f"{count} strings of {what}")
                return self.string_array(count, what)
            if etype == _ARRAY:
                self.need(count * 12, f"{count} nested arrays of {what}")
                return [self.value(_ARRAY, f"{what}[{i}]") for i in range(count)]
            self.fail(f"{what}: unknown array element type {etype}")
        self.fail(f"{what}: unknown metadata value type {vtype}")


class GGUFFile:
    """An open GGUF file. `metadata` maps keys to str / int / float / bool / list / numpy arrays;
    `metadata_types` maps keys to their GGUF value type and, for arrays, the element type (else
    None), so a copy of a key can keep its exact type; `tensors` maps names to TensorInfo;
    `tensor_bytes(name)` is a zero-copy uint8 view."""

    def __init__(self, path: "str | os.PathLike[str]"):
        self.path = os.fspath(path)
        try:
            self._file = open(self.path, "rb")
        except OSError as e:
            raise GGUFError(f"{self.path}: cannot open: {e.strerror}") from None
        try:
            size = os.fstat(self._file.fileno()).st_size
            if size == 0:
                raise GGUFError(f"{self.path}: empty file, not a GGUF file")
            self._mmap = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
            self._parse()
        except BaseException:
            self.close()
            raise

    # ---- parsing ------------------------------------------------------------------------
    def _parse(self) -> None:
        c = _Cursor(self._mmap, self.path)
        c.need(4, "magic")
        magic = c.raw[0:4]
        if magic != GGUF_MAGIC:
            c.fail(f"bad magic {magic!r}: not a GGUF file")
        c.pos = 4
        version = c.u32("version")
        if version in (1,):
            c.fail("GGUF version 1 is not supported (convert it to v3 with llama.cpp's tools)")
        if version not in (2, 3):
            if version & 0xFFFF == 0 and (version >> 16) in (2, 3):
                c.fail("big-endian GGUF files are not supported")
            c.fail(f"unsupported GGUF version {version}")
        self.version = version
        n_tensors = c.u64("tensor count")
        n_kv = c.u64("metadata count")
        # Each KV takes >= 12 bytes (key length + type), each tensor info >= 24 bytes.
        if n_kv * 12 > c.size - c.pos:
            c.fail(f"metadata count {n_kv} is larger than the file can hold")
        if n_tensors * 24 > c.size - c.pos:
            c.fail(f"tensor count {n_tensors} is larger than the file can hold")

        metadata: Dict[str, Any] = {}
        kv_spans: Dict[str, Tuple[int, int]] = {}
        types: Dict[str, Tuple[int, Optional[int]]] = {}
        for i in range(n_kv):
            start = c.pos
            key = c.string(f"key of metadata entry {i}")
            vtype = c.u32(f"type of metadata '{key}'")
            etype = None
            if vtype == _ARRAY and c.pos + 4 <= c.size:  # peek: c.value reads and checks it
                (etype,) = struct.unpack_from("<I", c.raw, c.pos)
            metadata[key] = c.value(vtype, f"metadata '{key}'")
            kv_spans[key] = (start, c.pos)
            types[key] = (vtype, etype)
        self.metadata = metadata
        self.metadata_types = types
        self._kv_spans = kv_spans

        alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
        if not isinstance(alignment, int) or isinstance(alignment, bool) or alignment <= 0 \
                or alignment & (alignment - 1):
            c.fail(f"general.alignment must be a positive power of two, got {alignment!r}")
        self.alignment = alignment

        raw = []
        for i in range(n_tensors):
            name = c.string(f"name of tensor {i}")
            n_dims = c.u32(f"dimension count of tensor '{name}'")
            if n_dims == 0 or n_dims > MAX_DIMS:
                c.fail(f"tensor '{name}' has {n_dims} dimensions (1..{MAX_DIMS} allowed)")
            shape = tuple(c.u64(f"shape of tensor '{name}'") for _ in range(n_dims))
            ttype = c.u32(f"type of tensor '{name}'")
            offset = c.u64(f"offset of tensor '{name}'")
            raw.append((name, shape, ttype, offset))

        data_start = (c.pos + alignment - 1) // alignment * alignment
        self.data_offset = data_start
        tensors: Dict[str, TensorInfo] = {}
        for name, shape, ttype, offset in raw:
            if name in tensors:
                c.fail(f"duplicate tensor name '{name}'")
            if ttype not in GGML_TYPES:
                c.fail(f"tensor '{name}' has unknown type {ttype}")
            tname, block, bsize = GGML_TYPES[ttype]
            if any(d <= 0 for d in shape):
                c.fail(f"tensor '{name}' has a zero or negative dimension {shape}")
            n = 1
            for d in shape:
                n *= d
                if n > 1 << 50:
                    c.fail(f"tensor '{name}' shape {shape} is impossibly large")
            if shape[0] % block:
                c.fail(f"tensor '{name}': row length {shape[0]} is not a multiple of the "
                       f"{tname} block size {block}")
            nbytes = n // block * bsize + TENSOR_TRAILER_BYTES.get(ttype, 0)
            if offset % alignment:
                c.fail(f"tensor '{name}' offset {offset} is not aligned to {alignment}")
            start = data_start + offset
            if start + nbytes > c.size:
                c.fail(f"tensor '{name}' ({tname}, {nbytes} bytes at offset {start}) extends "
                       f"past the end of the file ({c.size} bytes): truncated file?")
            tensors[name] = TensorInfo(name, ttype, shape, start, nbytes)
        self.tensors = tensors

    # ---- access -------------------------------------------------------------------------
    def tensor_bytes(self, name: str) -> np.ndarray:
        """Zero-copy read-only uint8 view of a tensor's bytes (valid while the file is open)."""
        t = self.tensors[name]
        return np.frombuffer(self._mmap, dtype=np.uint8, count=t.nbytes, offset=t.offset)

    def prefetch(self, on_bytes: Optional[Callable[[int], None]] = None,
                 chunk: int = 16 << 20) -> int:
        """Bring every tensor's pages into memory now (the first eval would otherwise wait on
        the disk page by page); on_bytes(n) is called after each chunk, for a progress bar.
        Returns the bytes covered. Pages already cached cost only a page-table walk."""
        page = mmap.PAGESIZE
        spans = sorted((t.offset, t.nbytes) for t in self.tensors.values() if t.nbytes)
        total = 0
        for offset, nbytes in spans:
            end = offset + nbytes
            pos = offset
            while pos < end:
                n = min(chunk, end - pos)
                start = pos - pos % page  # madvise wants a page-aligned start
                if hasattr(self._mmap, "madvise") and hasattr(mmap, "MADV_WILLNEED"):
                    self._mmap.madvise(mmap.MADV_WILLNEED, start, pos + n - start)
                view = np.frombuffer(self._mmap, dtype=np.uint8, count=n, offset=pos)
                int(view[::page].sum())  # one byte per page: faults each page in
                pos += n
                total += n
                if on_bytes is not None:
                    on_bytes(n)
        return total

    def tensor_array(self, name: str) -> np.ndarray:
        """F32 / F16 / integer tensors as numpy arrays in numpy order (shape reversed)."""
        t = self.tensors[name]
        dtypes = {0: np.float32, 1: np.float16, 24: np.int8, 25: np.int16, 26: np.int32,
                  27: np.int64, 28: np.float64}
        if t.type not in dtypes:
            raise GGUFError(f"{self.path}: tensor '{name}' is {t.type_name}, not a plain array type")
        return np.frombuffer(self._mmap, dtype=dtypes[t.type], count=t.n_elements,
                             offset=t.offset).reshape(tuple(reversed(t.shape)))

    def metadata_entry_bytes(self, key: str) -> bytes:
        """The exact encoded bytes of one metadata entry (key, value type, value), for copying
        it into another GGUF file unchanged."""
        start, end = self._kv_spans[key]
        return bytes(self._mmap[start:end])

    def get(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(key, default)

    def require(self, key: str) -> Any:
        if key not in self.metadata:
            raise GGUFError(f"{self.path}: missing metadata key '{key}'")
        return self.metadata[key]

    @property
    def architecture(self) -> Optional[str]:
        return self.metadata.get("general.architecture")

    def __iter__(self) -> Iterator[TensorInfo]:
        return iter(self.tensors.values())

    def close(self) -> None:
        m = getattr(self, "_mmap", None)
        if m is not None:
            try:
                m.close()
            except BufferError:
                pass  # numpy views still alive: the mapping goes when they do
            self._mmap = None
        f = getattr(self, "_file", None)
        if f is not None:
            f.close()
            self._file = None

    def __enter__(self) -> "GGUFFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_gguf(path: "str | os.PathLike[str]") -> GGUFFile:
    return GGUFFile(path)
