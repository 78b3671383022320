"""The `edgeq` command line as a user runs it (subprocesses): errors are one line with the
right exit status, `tokenize` matches llama.cpp's ids, and `run` works end to end when the real
model is available."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

STATS_LINE = re.compile(r"^prompt: \d+ tokens, [\d.]+ tok/s \| generated: \d+ tokens, "
                        r"([\d.]+|-) tok/s$")


def edgeq(*args, cache=None, stdin=None, timeout=300):
    env = dict(os.environ)
    if cache is not None:
        env["EDGEQ_CACHE"] = str(cache)
    env.pop("EDGEQ_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "edgeq", *map(str, args)], env=env,
                          input=stdin, capture_output=True, text=True, timeout=timeout)


def _one_line_error(proc, code):
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("edgeq") and "error: " in lines[0]
    return lines[0]


@pytest.mark.parametrize("args,fragment", [
    (["run", "-n", "-2"], "-n/--n-predict: must be >= -1"),
    (["run", "-n", "ten"], "invalid integer"),
    (["run", "-c", "0"], "-c/--ctx-size: must be >= 1"),
    (["run", "-t", "0"], "-t/--threads: must be >= 1"),
    (["run", "--top-p", "1.5"], "--top-p: must be in [0, 1]"),
    (["run", "--top-p", "-0.1"], "--top-p"),
    (["run", "--min-p", "nan"], "--min-p: must be finite"),
    (["run", "--repeat-penalty", "0"], "--repeat-penalty: must be > 0"),
    (["run", "-s", "-7"], "-s/--seed"),
    (["run", "-p", "x", "-f", "y"], "not allowed with"),
    (["run", "--bogus"], "unrecognized arguments"),
    (["tokenize", "m.gguf"], "one of the arguments -p/--prompt -f/--file is required"),
    (["tokenize"], "required"),
    (["frobnicate"], "invalid choice"),
    ([], "a command is required"),
])
def test_usage_errors_exit_2_with_one_line(args, fragment, tmp_path):
    line = _one_line_error(edgeq(*args, cache=tmp_path), 2)
    assert fragment in line


def test_runtime_errors_exit_1_with_one_line(tmp_path):
    line = _one_line_error(edgeq("run", "-f", tmp_path / "nope.txt", cache=tmp_path), 1)
    assert "nope.txt" in line and "No such file" in line
    line = _one_line_error(edgeq("run", "llama-9000", "-p", "hi", cache=tmp_path), 1)
    assert "unknown model 'llama-9000'" in line and "smollm2-135m" in line
    line = _one_line_error(edgeq("run", tmp_path / "x.gguf", "-p", "hi", cache=tmp_path), 1)
    assert "x.gguf: no such file" in line
    line = _one_line_error(edgeq("pull", "nothing", cache=tmp_path), 1)
    assert "known models: smollm2-135m" in line
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok \xff\xfe")
    line = _one_line_error(edgeq("tokenize", "m.gguf", "-f", bad, cache=tmp_path), 1)
    assert "not valid UTF-8 (byte 0xff at offset 3)" in line


def test_not_a_gguf_file_is_one_line(tmp_path):
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"this is not a model")
    line = _one_line_error(edgeq("tokenize", junk, "-p", "hi", cache=tmp_path), 1)
    assert "junk.gguf" in line


def _vocab_cases(vocab: Path):
    inputs = vocab.with_name(vocab.name + ".inp").read_text(encoding="utf-8")
    outputs = vocab.with_name(vocab.name + ".out").read_text(encoding="utf-8")
    texts = inputs.split("\n__ggml_vocab_test__\n")[:-1]
    ids = [[int(x) for x in line.split()] for line in outputs.split("\n")[:-1]]
    assert len(texts) == len(ids) > 0
    return list(zip(texts, ids))


def test_tokenize_ids_match_llama_cpp(tmp_path, shared_data):
    vocab = shared_data / "vocab" / "ggml-vocab-gpt-2.gguf"
    cases = _vocab_cases(vocab)
    # an emoji, a run of newlines and the long mixed-script case, each as a file (exact bytes)
    chosen = [next(c for c in cases if "🦙" in c[0]), next(c for c in cases if c[0] == "\n\n\n"),
              cases[-1]]
    for i, (text, want) in enumerate(chosen):
        f = tmp_path / f"case{i}.txt"
        f.write_bytes(text.encode("utf-8"))
        proc = edgeq("tokenize", vocab, "-f", f, "--ids", "--no-bos", cache=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == want, repr(text)
    proc = edgeq("tokenize", vocab, "-p", " Hello, world!", cache=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [" 18435 -> ' Hello'", "    11 -> ','",
                                        "   995 -> ' world'", "     0 -> '!'"]


def test_run_end_to_end_greedy(tmp_path, smollm2):
    model = smollm2
    args = ("run", model, "-p", "The capital of France is", "-n", "8", "--temp", "0")
    proc = edgeq(*args, cache=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip(), "no text generated"
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and STATS_LINE.match(lines[0]), proc.stderr
    assert re.search(r"generated: [1-8] tokens", lines[0])
    again = edgeq(*args, cache=tmp_path)
    assert again.stdout == proc.stdout  # greedy is deterministic

    chat = edgeq("run", model, "--chat", "-p", "What is 2+2?", "-n", "8", "--temp", "0",
                 "--stop", "\n", cache=tmp_path)
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.strip() and "\n" not in chat.stdout
    assert "<|im" not in chat.stdout

    # interactive mode from a pipe: two turns, history kept, /exit ends it
    inter = edgeq("run", model, "-n", "6", "--temp", "0", "-c", "512",
                  stdin="My name is Ada.\nWhat is my name?\n/exit\n", cache=tmp_path)
    assert inter.returncode == 0, inter.stderr
    assert inter.stdout.count("\n") >= 2
