"""llama-perplexity's log-probability file (`--kl-divergence-base FILE`), read and written
byte-compatibly, so a base computed by llama.cpp can score an edgeq model and the reverse.

Layout (little-endian), as tools/perplexity/perplexity.cpp writes it:
    b"_logits_" | int32 n_ctx | int32 n_vocab | int32 n_chunk | int32 tokens[n_chunk * n_ctx]
    then for each chunk, for each of the n_ctx - 1 - n_ctx // 2 scored positions, one record of
    nv = 2 * ((n_vocab + 1) // 2) + 4 uint16:
        float32 scale | float32 min_log_prob | uint16 q[n_vocab] | padding to nv
    with log p[i] ~ scale * q[i] + min_log_prob (q = 0: at or below the floor, which is at most
    16 below the top logit).
"""
from __future__ import annotations

import os
import struct
from typing import BinaryIO, Tuple

import numpy as np

MAGIC = b"_logits_"


class LogProbFileError(ValueError):
    """The file is not a log-probability file this model can be compared with."""


def record_words(n_vocab: int) -> int:
    """uint16 words per scored position."""
    return 2 * ((n_vocab + 1) // 2) + 4


def log_softmax_terms(logits: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(max logit (float32), log sum exp(logit - max) (float64)) per row of (n, n_vocab) float32
    logits, with llama.cpp's precision: float exponentials summed in double."""
    mx = logits.max(axis=1)
    sum_exp = np.exp(logits - mx[:, None]).sum(axis=1, dtype=np.float64)
    return mx, np.log(sum_exp)


def encode_records(logits: np.ndarray) -> np.ndarray:
    """(n, n_vocab) float32 logits -> (n, nv) uint16 records (llama.cpp's log_softmax writer)."""
    n, n_vocab = logits.shape
    mx, lse = log_softmax_terms(logits)
    lse = lse.astype(np.float32)  # llama.cpp keeps it in a float here
    mn = np.maximum(logits.min(axis=1), mx - np.float32(16))
    min_log_prob = (mn - mx - lse).astype(np.float32)
    scale = ((mx - mn) / np.float32(65535)).astype(np.float32)
    out = np.zeros((n, record_words(n_vocab)), np.uint16)
    head = out[:, :4].view(np.float32)  # (n, 2): scale, min_log_prob
    head[:, 0] = scale
    head[:, 1] = min_log_prob
    safe = np.where(scale > 0, scale, np.float32(1))
    inv = (np.float32(1) / safe).astype(np.float32)[:, None]
    q = np.rint(inv * (logits - mn[:, None]))  # float32; rint = round half to even, as nearest_int
    q = np.where((logits > mn[:, None]) & (scale[:, None] > 0), q, 0)
    out[:, 4:4 + n_vocab] = q.astype(np.uint16)
    return out


def decode_records(records: np.ndarray, n_vocab: int) -> np.ndarray:
    """(n, nv) uint16 records -> (n, n_vocab) float32 log-probabilities."""
    head = np.ascontiguousarray(records[:, :4]).view(np.float32)
    q = records[:, 4:4 + n_vocab].astype(np.float32)
    return (head[:, :1] * q + head[:, 1:2]).astype(np.float32)


class LogProbWriter:
    """Writes the header, then one chunk of scored positions at a time."""

    def __init__(self, path: "str | os.PathLike[str]", n_ctx: int, n_vocab: int,
                 tokens: np.ndarray):
        n_chunk = len(tokens) // n_ctx
        self._f: BinaryIO = open(path, "wb")
        self._f.write(MAGIC + struct.pack("<iii", n_ctx, n_vocab, n_chunk))
        self._f.write(np.asarray(tokens[:n_chunk * n_ctx], dtype="<i4").tobytes())

    def write_chunk(self, scored_logits: np.ndarray) -> None:
        self._f.write(encode_records(scored_logits).astype("<u2").tobytes())

    def close(self) -> None:
        self._f.close()


class LogProbReader:
    """A base file: header and tokens at open, then the records of one chunk at a time."""

    def __init__(self, path: "str | os.PathLike[str]"):
        self.path = str(path)
        try:
            self._f: BinaryIO = open(path, "rb")
        except OSError as e:
            raise LogProbFileError(f"{path}: {e.strerror or e}") from None
        head = self._f.read(20)
        if len(head) < 20 or head[:8] != MAGIC:
            self._f.close()
            raise LogProbFileError(f"{path}: not a log-probability file (no '_logits_' header)")
        self.n_ctx, self.n_vocab, self.n_chunk = struct.unpack("<iii", head[8:])
        if self.n_ctx < 4 or self.n_vocab < 1 or self.n_chunk < 1:
            self._f.close()
            raise LogProbFileError(f"{path}: bad header (n_ctx {self.n_ctx}, n_vocab "
                                   f"{self.n_vocab}, n_chunk {self.n_chunk})")
        self.n_scored = self.n_ctx - 1 - self.n_ctx // 2
        need = (20 + 4 * self.n_ctx * self.n_chunk
                + 2 * self.n_chunk * self.n_scored * record_words(self.n_vocab))
        size = os.fstat(self._f.fileno()).st_size
        if size < need:
            self._f.close()
            raise LogProbFileError(f"{path}: truncated ({size} bytes, the header promises {need})")
        raw = self._f.read(4 * self.n_ctx * self.n_chunk)
        self.tokens = np.frombuffer(raw, dtype="<i4").astype(np.int32)

    def read_chunk(self) -> np.ndarray:
        """The next chunk's (n_scored, n_vocab) float32 base log-probabilities."""
        nv = record_words(self.n_vocab)
        raw = self._f.read(2 * self.n_scored * nv)
        if len(raw) != 2 * self.n_scored * nv:
            raise LogProbFileError(f"{self.path}: truncated inside a chunk")
        return decode_records(np.frombuffer(raw, dtype="<u2").reshape(self.n_scored, nv),
                              self.n_vocab)

    def close(self) -> None:
        self._f.close()
