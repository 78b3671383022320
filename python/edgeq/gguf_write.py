"""Streaming GGUF v3 writer: the header (metadata, tensor infos) first, then each tensor's bytes
in order, so a model is written without ever holding all its tensors in memory.

    w = GGUFStreamWriter(f, alignment=32)
    w.write_header(metadata_entries, [TensorSpec("a.weight", (64, 8), 0, 2048), ...])
    w.write_tensor_data(b"...")   # once or several times per tensor, in the order of the specs
    w.end_tensor()                # after each tensor: checks its size, pads to the alignment

The layout is the one gguf.py reads (see its docstring). Metadata entries are passed already
encoded (key, value type, value) so that entries copied from another file keep their exact types;
`encode_u32_entry` encodes a new uint32 entry.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO, List, Sequence, Tuple

from .gguf import GGML_TYPES, GGUF_MAGIC

GGUF_VERSION = 3
_U32 = 4  # GGUF metadata value type of uint32


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: Tuple[int, ...]  # GGUF order: shape[0] is the row length
    type: int               # ggml type id
    nbytes: int


def _string(text: str) -> bytes:
    raw = text.encode("utf-8", errors="surrogateescape")  # names read by gguf.py round-trip
    return struct.pack("<Q", len(raw)) + raw


def encode_u32_entry(key: str, value: int) -> bytes:
    return _string(key) + struct.pack("<II", _U32, value)


def tensor_nbytes(type_id: int, shape: Sequence[int]) -> int:
    _, block, size = GGML_TYPES[type_id]
    if shape[0] % block:
        raise ValueError(f"row length {shape[0]} is not a multiple of the "
                         f"{GGML_TYPES[type_id][0]} block size {block}")
    n = 1
    for d in shape:
        n *= d
    return n // block * size


class GGUFStreamWriter:
    def __init__(self, f: BinaryIO, alignment: int = 32):
        if alignment <= 0 or alignment & (alignment - 1):
            raise ValueError(f"alignment must be a positive power of two, got {alignment}")
        self.f = f
        self.alignment = alignment
        self._specs: List[TensorSpec] = []
        self._next = 0        # index of the tensor being written
        self._written = 0     # bytes of it written so far
        self.bytes_written = 0

    def _put(self, data) -> None:
        self.f.write(data)
        self.bytes_written += len(data) if isinstance(data, (bytes, bytearray)) else memoryview(data).nbytes

    def _pad(self) -> None:
        rem = self.bytes_written % self.alignment
        if rem:
            self._put(b"\0" * (self.alignment - rem))

    def write_header(self, metadata_entries: Sequence[bytes], tensors: Sequence[TensorSpec]) -> None:
        """metadata_entries: encoded entries (one bytes object each); tensors: the tensors that
        will follow, in order. Offsets are assigned here: each tensor starts aligned."""
        self._put(GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(tensors), len(metadata_entries)))
        for entry in metadata_entries:
            self._put(entry)
        offset = 0
        for t in tensors:
            if t.nbytes != tensor_nbytes(t.type, t.shape):
                raise ValueError(f"tensor '{t.name}': {t.nbytes} bytes do not match its shape "
                                 f"{t.shape} and type {GGML_TYPES[t.type][0]}")
            self._put(_string(t.name) + struct.pack("<I", len(t.shape)) +
                      struct.pack(f"<{len(t.shape)}Q", *t.shape) + struct.pack("<IQ", t.type, offset))
            offset += (t.nbytes + self.alignment - 1) // self.alignment * self.alignment
        self._pad()
        self._specs = list(tensors)

    def write_tensor_data(self, data) -> None:
        """Part (or all) of the current tensor's bytes (bytes or a C-contiguous array)."""
        if self._next >= len(self._specs):
            raise ValueError("more tensor data than the header announced")
        n = memoryview(data).nbytes
        if self._written + n > self._specs[self._next].nbytes:
            raise ValueError(f"tensor '{self._specs[self._next].name}': more bytes than its "
                             f"{self._specs[self._next].nbytes}")
        self._put(data)
        self._written += n

    def end_tensor(self) -> None:
        spec = self._specs[self._next]
        if self._written != spec.nbytes:
            raise ValueError(f"tensor '{spec.name}': wrote {self._written} of {spec.nbytes} bytes")
        self._pad()
        self._next += 1
        self._written = 0

    def finish(self) -> None:
        if self._next != len(self._specs):
            raise ValueError(f"wrote {self._next} of {len(self._specs)} tensors")
        self.f.flush()
