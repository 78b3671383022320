"""`edgeq bench`: the table and the JSON / JSONL / CSV records have every column and field,
the numbers are numeric and consistent with the tensor table, and bad flags are one-line usage
errors. Runs on a tiny random model (milliseconds per test). No test asserts a timing."""
import csv
import io
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from gguf import GGMLQuantizationType as T

from edgeq import _core
from edgeq.bench import CSV_FIELDS, MD_COLUMNS, model_info
from edgeq.gguf import open_gguf, row_bytes
from tiny_llama import write_tiny_llama

REPO = Path(__file__).resolve().parents[2]
QUICK = ["-p", "8,16", "-n", "4", "-r", "2", "-t", "1"]
# llama-bench's field names, which compare_llamacpp.py and other tools read, plus edgeq's own.
JSON_FIELDS = ["model_filename", "model_type", "model_size", "model_n_params", "n_threads",
               "n_prompt", "n_gen", "test_time", "avg_ns", "stddev_ns", "avg_ts", "stddev_ts",
               "samples_ns", "samples_ts", "cpu_info", "isa", "weight_gbps", "governor"]
NUMBERS = ["model_size", "model_n_params", "n_threads", "n_prompt", "n_gen", "avg_ns",
           "stddev_ns", "avg_ts", "stddev_ts"]


def edgeq(*args, timeout=120):
    # The installed package runs, as a user's would: no PYTHONPATH pointing into the source tree
    # (a clean checkout's python/edgeq has no compiled _core).
    env = dict(os.environ)
    env.pop("EDGEQ_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "edgeq", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "tiny-q8.gguf"
    write_tiny_llama(path, T.Q8_0, tied=True)
    return path


def _records(tiny, fmt, *extra):
    proc = edgeq("bench", tiny, *QUICK, "-o", fmt, *extra)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_json_fields(tiny):
    records = json.loads(_records(tiny, "json"))
    assert [(r["n_prompt"], r["n_gen"]) for r in records] == [(8, 0), (16, 0), (0, 4)]
    with open_gguf(tiny) as g:
        size = sum(t.nbytes for t in g)
        params = sum(t.n_elements for t in g)
    for r in records:
        missing = [k for k in JSON_FIELDS if k not in r]
        assert not missing, missing
        for k in NUMBERS:
            assert _number(r[k]), (k, r[k])
        assert r["model_size"] == size and r["model_n_params"] == params
        assert r["n_threads"] == 1 and r["isa"] == _core.isa()
        assert r["cpu_info"] == _core.cpu_model_name()
        assert r["model_type"] == "llama 67K Q8_0"
        assert len(r["samples_ns"]) == len(r["samples_ts"]) == 2
        assert all(_number(x) and x > 0 for x in r["samples_ns"] + r["samples_ts"])
        n = r["n_prompt"] or r["n_gen"]
        for ns, ts in zip(r["samples_ns"], r["samples_ts"]):
            assert ts == pytest.approx(n * 1e9 / ns, rel=1e-5)
        assert r["avg_ts"] == pytest.approx(sum(r["samples_ts"]) / 2, rel=1e-5)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["test_time"])
        assert r["governor"] is None or isinstance(r["governor"], str)
        if r["n_gen"]:  # GB/s = bytes per token x tokens/s
            assert r["weight_gbps"] == pytest.approx(
                r["weight_bytes_per_token"] * r["avg_ts"] / 1e9, rel=1e-3)
        else:
            assert r["weight_gbps"] is None


def test_jsonl_and_csv_agree_on_fields(tiny):
    lines = _records(tiny, "jsonl").splitlines()
    assert len(lines) == 3
    for line in lines:
        r = json.loads(line)
        assert all(k in r for k in JSON_FIELDS)
    rows = list(csv.DictReader(io.StringIO(_records(tiny, "csv"))))
    assert len(rows) == 3
    for row in rows:
        assert list(row) == CSV_FIELDS
        for k in NUMBERS:
            assert math.isfinite(float(row[k])), (k, row[k])
    assert rows[2]["weight_gbps"] and not rows[0]["weight_gbps"]


def test_markdown_table(tiny):
    out = _records(tiny, "md", "--isa", "all").splitlines()
    header = [l for l in out if l.startswith("|")]
    for prefix in ("CPU: ", "ISA: ", "features: ", "governor: ", "command: edgeq bench "):
        assert any(l.startswith(prefix) for l in out), prefix
    cells = [[c.strip() for c in l.strip("|").split("|")] for l in header]
    assert cells[0] == [name for name, _, _ in MD_COLUMNS]
    assert all(set(c) <= set("-:") for c in cells[1])
    rows = cells[2:]
    isas = list(_core.runnable_isas())
    assert len(rows) == 3 * len(isas)
    assert [r[4] for r in rows] == [isa for isa in isas for _ in range(3)]
    for r in rows:
        model, size, params, backend, isa, threads, test, ts, gbps = r
        assert model == "tiny-q8.gguf (llama 67K Q8_0)"
        assert re.fullmatch(r"[\d.]+ MiB", size) and re.fullmatch(r"[\d.]+ M", params)
        assert backend == "CPU" and threads == "1"
        assert test in ("pp8", "pp16", "tg4")
        mean, sd = re.fullmatch(r"([\d.]+) ± ([\d.]+)", ts).groups()
        assert float(mean) > 0 and float(sd) >= 0
        if test.startswith("tg"):
            assert float(gbps) > 0
        else:
            assert gbps == "-"


def test_weight_bytes_per_token(tmp_path):
    """Tied output: every weight byte is read per token. Untied: all of output.weight, but only
    one row of token_embd."""
    tied, untied = tmp_path / "tied.gguf", tmp_path / "untied.gguf"
    write_tiny_llama(tied, T.Q8_0, tied=True)
    write_tiny_llama(untied, T.Q8_0, tied=False)
    with open_gguf(tied) as g:
        info = model_info(g)
        assert info.bytes_per_token == info.size == sum(t.nbytes for t in g)
    with open_gguf(untied) as g:
        info = model_info(g)
        embd = g.tensors["token_embd.weight"]
        assert info.bytes_per_token == info.size - embd.nbytes + row_bytes(embd.type,
                                                                           embd.shape[0])
        assert info.weight_type == "Q8_0"


@pytest.mark.parametrize("args,fragment", [
    (["-p", "x"], "-p/--n-prompt: invalid integer"),
    (["-p", "8,-1"], "-p/--n-prompt: must be >= 0"),
    (["-n", "1.5"], "-n/--n-gen: invalid integer"),
    (["-r", "0"], "-r/--repetitions: must be >= 1"),
    (["-t", "0"], "-t/--threads: must be >= 1"),
    (["--isa", "avx9"], "--isa: 'avx9' is not an ISA edgeq knows"),
    (["-o", "xml"], "-o/--output: invalid choice"),
    (["-p", "0", "-n", "0"], "nothing to measure"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_flags_exit_2_with_one_line(tiny, args, fragment):
    proc = edgeq("bench", tiny, *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    # argparse reports unknown options from the top-level parser ("edgeq: error: ...").
    assert len(lines) == 1 and re.match(r"edgeq( bench)?: error: ", lines[0]), proc.stderr
    assert fragment in lines[0]
    assert proc.stdout == ""


def test_missing_model_is_one_line_error_before_output(tmp_path):
    proc = edgeq("bench", tmp_path / "nope.gguf", "-p", "8", "-n", "0", "-r", "1")
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [f"edgeq: error: {tmp_path / 'nope.gguf'}: no such file"]
    assert proc.stdout == ""


def test_real_model_quick(smollm2):
    """SmolLM2 end to end with tiny sizes: sizes as llama-bench reports them for this file."""
    records = json.loads(edgeq("bench", smollm2, "-p", "8", "-n", "4", "-r", "1", "-t", "1",
                               "-o", "json").stdout)
    assert [r["model_type"] for r in records] == ["llama 135M Q4_1"] * 2
    # llama-bench prints model_size 96576768 and model_n_params 134515008 for this file.
    assert {(r["model_size"], r["model_n_params"]) for r in records} == {(96576768, 134515008)}


FAKE_LLAMA_BENCH = """#!{python}
import json, sys
a = sys.argv[1:]
get = lambda flag: a[a.index(flag) + 1]
print(json.dumps([{{"build_commit": "fake", "model_filename": get("-m"),
                    "n_prompt": int(get("-p")), "n_gen": int(get("-n")),
                    "n_threads": int(get("-t")), "avg_ts": 100.0, "stddev_ts": 1.0}}]))
"""


def test_compare_llamacpp_pairs_tests(tiny, tmp_path):
    """The comparison script pairs each edgeq record with llama-bench's (a stand-in here that
    reports 100 t/s) and writes the ratio; with no llama-bench it runs edgeq alone."""
    fake = tmp_path / "llama-bench"
    fake.write_text(FAKE_LLAMA_BENCH.format(python=sys.executable))
    fake.chmod(0o755)
    out = tmp_path / "cmp.json"
    env = dict(os.environ)  # the script itself picks the checkout's edgeq only when it is built
    script = str(REPO / "bench" / "compare_llamacpp.py")
    proc = subprocess.run([sys.executable, script, str(tiny), "-p", "8", "-n", "4", "-r", "1",
                           "-t", "1", "--llama-bench", str(fake), "--json-out", str(out)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.read_text())["rows"]
    assert [r["test"] for r in rows] == ["pp8", "tg4"]
    for r in rows:
        assert r["llamacpp_ts"] == 100.0
        assert r["ratio"] == pytest.approx(r["edgeq_ts"] / 100.0)
    assert "| edgeq / llama.cpp |" in proc.stdout

    env.pop("LLAMA_BENCH", None)
    proc = subprocess.run([sys.executable, script, str(tiny), "-p", "8", "-n", "0", "-r", "1",
                           "--llama-bench", str(tmp_path / "missing")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "running edgeq only" in proc.stderr
    assert proc.stdout.splitlines()[-1].endswith("| - | - |")
