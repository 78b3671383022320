"""The C API (libedgeq, cpp/include/edgeq/edgeq.h) against the Python implementation on SmolLM2:

* the C example (cpp/examples/generate.c), greedy, must generate exactly the tokens and text of
  the Python generation loop (edgeq.generate with temp 0) for the same prompt;
* the C++ tokenizer, called through the C API with ctypes, must give the Python tokenizer's ids
  for mixed text (code, digits, emoji, CJK, whitespace runs, special-token text), and
  detokenize must give the Python decode back;
* a broken file gives the example a one-line error and exit status 1.

The library and the example come from a CMake build with EDGEQ_BUILD_CAPI (the default outside
wheels): $EDGEQ_CAPI_BUILD_DIR, else build/tests (tests/run.sh) or build (the developer build).
"""
from __future__ import annotations

import ctypes
import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO_ROOT
from edgeq import _core, gguf
from edgeq.generate import generate
from edgeq.model import load_model
from edgeq.sampling import SamplingParams

EXAMPLE = "edgeq_generate"
LIBRARY = "libedgeq.so"


def capi_build_dir() -> Path:
    env = os.environ.get("EDGEQ_CAPI_BUILD_DIR")
    if env:
        d = Path(env)
        if not ((d / EXAMPLE).is_file() and (d / LIBRARY).is_file()):
            pytest.fail(f"EDGEQ_CAPI_BUILD_DIR={env} has no {EXAMPLE} and {LIBRARY}")
        return d
    for d in (REPO_ROOT / "build" / "tests", REPO_ROOT / "build"):
        if (d / EXAMPLE).is_file() and (d / LIBRARY).is_file():
            return d
    pytest.skip(f"no C API build ({EXAMPLE}, {LIBRARY}) in build/tests or build: build with CMake "
                "or set EDGEQ_CAPI_BUILD_DIR")


PROMPT = "Write a Python function that checks whether a number is prime."
N_TOKENS = 40


def test_example_greedy_matches_python(smollm2):
    r = subprocess.run([str(capi_build_dir() / EXAMPLE), str(smollm2), "-p", PROMPT, "-n", str(N_TOKENS),
                        "--ids"], capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    lines = r.stderr.decode().splitlines()
    ids = {k: [int(t) for t in v.split()] for k, _, v in (line.partition(": ") for line in lines)
           if k in ("prompt ids", "generated ids")}
    summary = lines[-1]
    assert "tok/s" in summary and "generated: " in summary, lines

    model = load_model(smollm2)
    try:
        prompt = model.tokenizer.encode(PROMPT)
        generated: list = []
        text = "".join(generate(model, prompt, SamplingParams(temp=0), max_tokens=N_TOKENS,
                                generated=generated))
        stop_ids = model.tokenizer.stop_ids
    finally:
        model.close()
    if generated and generated[-1] in stop_ids:
        generated.pop()  # Python records the end token; the C callback never sees it
    assert ids["prompt ids"] == prompt
    assert ids["generated ids"] == generated and len(generated) > 10
    assert r.stdout.decode() == text + "\n"
    print(f"C example: {summary}")


# ---- the tokenizer through the C API ----------------------------------------------------------

def _load_library(path: Path):
    lib = ctypes.CDLL(str(path))
    lib.edgeq_last_error.restype = ctypes.c_char_p
    lib.edgeq_model_load.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.edgeq_model_free.argtypes = [ctypes.c_void_p]
    lib.edgeq_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int,
                                   ctypes.c_int, ctypes.POINTER(ctypes.c_int32), ctypes.c_size_t,
                                   ctypes.POINTER(ctypes.c_size_t)]
    lib.edgeq_detokenize.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int32), ctypes.c_size_t,
                                     ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t,
                                     ctypes.POINTER(ctypes.c_size_t)]
    return lib


MIXED_TEXTS = [
    "def add(a, b):\n    return a + b  # sum\n\n\nprint(add(2, 40))\n",
    "Digits 1234567890, 3.14159 and 1,000,000; x=42; v2.0.1",
    "Emoji 🚀 (rocket) 😶‍🌫️ (face in clouds) ✅ and flags 🇫🇷🇯🇵",
    "中文分词测试：你好，世界！ 日本語のテキスト、カタカナ。 한국어 문장입니다.",
    "  leading spaces\t\ttabs\n\n\n   trailing   \r\n\r\n end  ",
    "I'm sure they've said it's y'all's TURN'S 'quoted' WE'LL 'd",
    "nbsp\u00a0x\u3000y\u2028z\x0b\x0c\u0085w   \u2003 q\u200b\ufeff end\t \n",
    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "Ünïcödé Ελληνικά русский العربية हिन्दी ١٢٣ ½ ⅷ",
    "",
    " ",
]


def test_tokenization_matches_python(smollm2):
    lib = _load_library(capi_build_dir() / LIBRARY)
    handle = ctypes.c_void_p()
    status = lib.edgeq_model_load(str(smollm2).encode(), None, ctypes.byref(handle))
    assert status == 0, lib.edgeq_last_error().decode()
    model = load_model(smollm2)
    tok = model.tokenizer
    compared = 0
    try:
        for text in MIXED_TEXTS:
            raw = text.encode("utf-8")
            for add_special in (0, 1):
                for parse_special in (0, 1):
                    buf = (ctypes.c_int32 * 1024)()
                    n = ctypes.c_size_t()
                    assert lib.edgeq_tokenize(handle, raw, len(raw), add_special, parse_special, buf,
                                              1024, ctypes.byref(n)) == 0
                    got = list(buf[:n.value])
                    want = tok.encode(text, add_special=bool(add_special),
                                      parse_special=bool(parse_special))
                    assert got == want, (text, add_special, parse_special)
                    for skip in (0, 1):
                        out = ctypes.create_string_buffer(8192)
                        nb = ctypes.c_size_t()
                        assert lib.edgeq_detokenize(handle, buf, n.value, skip, out, 8192,
                                                    ctypes.byref(nb)) == 0
                        assert out.raw[:nb.value].decode("utf-8", "replace") == \
                            tok.decode(want, skip_special=bool(skip))
                    compared += 1
    finally:
        lib.edgeq_model_free(handle)
        model.close()
    assert compared == 4 * len(MIXED_TEXTS)


def test_example_broken_file_one_line_error(tmp_path):
    p = tmp_path / "broken.gguf"
    p.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x01" * 5)
    r = subprocess.run([str(capi_build_dir() / EXAMPLE), str(p)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(p) in lines[0] and "truncated" in lines[0], r.stderr


def test_tables_shared_with_cpp():
    """The GGML type table of the C++ reader equals gguf.py's; the architecture table the Python
    loader uses is the C++ one."""
    assert _core.ggml_types() == gguf.GGML_TYPES
    from edgeq.model import ARCH_FLAGS
    assert set(ARCH_FLAGS) == {"llama", "bitnet", "bitnet-b1.58", "bitnet-25"}
    assert ARCH_FLAGS["bitnet-b1.58"] == {"rope_style": "neox", "ffn_act": "relu2", "sub_norms": True,
                                          "matmul_scales": True}
    assert ARCH_FLAGS["llama"]["rope_style"] == "normal" and not ARCH_FLAGS["llama"]["sub_norms"]
