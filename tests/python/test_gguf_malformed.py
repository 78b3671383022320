"""Malformed and hostile GGUF files: the reader must raise GGUFError naming the file and the
problem, for truncation at every header byte and many data offsets, corrupted header fields and
absurd counts; the CLI must print one line and exit 1. Never a crash or a hang.

The files are built byte by byte here (not with gguf.GGUFWriter) so each field can be corrupted
on purpose; the valid file is cross-checked with the `gguf` package's reader.
"""
from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgeq.gguf import GGUFError, open_gguf


def _str(s: str) -> bytes:
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def build_gguf(*, magic=b"GGUF", version=3, n_tensors=None, n_kv=None, alignment=32,
               tensor_type=0, tensor_dims=(64, 3), tensor_offset=0, n_dims=None,
               string_len=None, array_count=None, value_type=None) -> bytes:
    """A small valid GGUF (one F32 tensor, a few KVs incl. a string array) unless a keyword
    corrupts one field."""
    kvs = [
        ("general.architecture", 8, _str("llama")),
        ("general.alignment", 4, struct.pack("<I", alignment)),
        ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 3 if array_count is None else array_count)
         + _str("a") + _str("b") + _str("c")),
        ("general.name", 8 if value_type is None else value_type,
         (struct.pack("<Q", string_len) + b"tiny") if string_len is not None else _str("tiny")),
    ]
    header = magic + struct.pack("<I", version)
    header += struct.pack("<QQ", 1 if n_tensors is None else n_tensors, len(kvs) if n_kv is None else n_kv)
    for key, vtype, payload in kvs:
        header += _str(key) + struct.pack("<I", vtype) + payload
    dims = tensor_dims
    header += _str("t0") + struct.pack("<I", len(dims) if n_dims is None else n_dims)
    header += b"".join(struct.pack("<Q", d) for d in dims)
    header += struct.pack("<IQ", tensor_type, tensor_offset)
    pad = (-len(header)) % (alignment if alignment and alignment & (alignment - 1) == 0 else 32)
    data = np.arange(192, dtype=np.float32).tobytes()  # the data of the valid (64, 3) tensor
    return header + b"\0" * pad + data


def _write(tmp_path: Path, name: str, blob: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(blob)
    return p


def _expect_error(path: Path, *fragments: str) -> str:
    with pytest.raises(GGUFError) as exc:
        open_gguf(path)
    msg = str(exc.value)
    assert str(path) in msg, msg
    assert "\n" not in msg, msg
    for f in fragments:
        assert f in msg, msg
    return msg


@pytest.mark.parametrize("version", [2, 3])
def test_valid_file_reads_and_matches_gguf_package(tmp_path, version):
    p = _write(tmp_path, "ok.gguf", build_gguf(version=version))
    f = open_gguf(p)
    assert f.version == version and f.architecture == "llama"
    assert f.metadata["tokenizer.ggml.tokens"] == ["a", "b", "c"]
    t = f.tensors["t0"]
    assert t.shape == (64, 3) and t.type == 0
    np.testing.assert_array_equal(f.tensor_array("t0").ravel(), np.arange(192, dtype=np.float32))
    from gguf import GGUFReader  # the independent reader agrees on the bytes we produce
    r = GGUFReader(p)
    np.testing.assert_array_equal(np.asarray(r.tensors[0].data).ravel(), np.arange(192, dtype=np.float32))
    f.close()


def test_truncated_at_every_header_byte_and_in_data(tmp_path):
    blob = build_gguf()
    data_start = len(blob) - 192 * 4
    cuts = list(range(0, data_start + 1)) + list(range(data_start + 1, len(blob), 37))
    checked = 0
    for cut in cuts:
        p = _write(tmp_path, "trunc.gguf", blob[:cut])
        msg = _expect_error(p)
        assert any(w in msg for w in ("truncated", "empty file", "bad magic", "past the end",
                                      "larger than the file")), msg
        checked += 1
    assert checked == len(cuts) > 200


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(magic=b"GGML"), "bad magic"),
    (dict(version=1), "version 1"),
    (dict(version=7), "unsupported GGUF version 7"),
    (dict(version=3 << 16), "big-endian"),
    (dict(n_tensors=1 << 60), "tensor count"),
    (dict(n_kv=1 << 60), "metadata count"),
    (dict(n_kv=10), "truncated"),
    (dict(string_len=1 << 62), "truncated"),
    (dict(array_count=1 << 61), "larger|truncated"),
    (dict(value_type=99), "unknown metadata value type 99"),
    (dict(tensor_type=99), "unknown type 99"),
    (dict(n_dims=0, tensor_dims=()), "0 dimensions"),
    (dict(n_dims=5, tensor_dims=(1, 1, 1, 1, 1)), "5 dimensions"),
    (dict(tensor_dims=(64, 0)), "zero or negative dimension"),
    (dict(tensor_dims=(1 << 40, 1 << 20)), "impossibly large"),
    (dict(tensor_dims=(1 << 20, 1 << 20)), "past the end"),
    (dict(tensor_type=2, tensor_dims=(48, 4)), "not a multiple"),
    (dict(tensor_offset=8), "not aligned"),
    (dict(tensor_offset=1 << 20), "past the end"),
    (dict(alignment=0), "power of two"),
    (dict(alignment=24), "power of two"),
])
def test_corrupted_fields(tmp_path, kwargs, fragment):
    p = _write(tmp_path, "bad.gguf", build_gguf(**kwargs))
    msg = _expect_error(p)
    assert any(f in msg for f in fragment.split("|")), msg


def test_random_byte_corruption_never_crashes(tmp_path):
    """Flip random header bytes: the reader either accepts the file or raises GGUFError."""
    blob = bytearray(build_gguf())
    header_len = len(blob) - 192 * 4
    rng = np.random.default_rng(0)
    outcomes = {"ok": 0, "error": 0}
    for _ in range(300):
        b = bytearray(blob)
        for pos in rng.integers(0, header_len, size=3):
            b[pos] = int(rng.integers(0, 256))
        p = _write(tmp_path, "fuzz.gguf", bytes(b))
        try:
            open_gguf(p).close()
            outcomes["ok"] += 1
        except GGUFError as e:
            assert "\n" not in str(e)
            outcomes["error"] += 1
    assert outcomes["error"] > 50, outcomes


def test_missing_and_empty_files(tmp_path):
    _expect_error(tmp_path / "nope.gguf", "cannot open")
    _expect_error(_write(tmp_path, "empty.gguf", b""), "empty file")


@pytest.mark.parametrize("cmd", ["tokenize", "run"])
def test_cli_reports_one_line_and_exit_1(tmp_path, cmd):
    p = _write(tmp_path, "broken.gguf", build_gguf()[:100])
    args = [sys.executable, "-m", "edgeq", cmd, str(p), "-p", "hi"]
    if cmd == "run":
        args += ["-n", "1"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(p) in lines[0] and "truncated" in lines[0], r.stderr
