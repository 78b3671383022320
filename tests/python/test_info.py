"""`edgeq info`: the kernel reported for each type is the one the table really holds (checked by
forcing each runnable ISA), and the model summary adds up to the file's tensor bytes."""
import json
import os
import subprocess
import sys

import pytest

from edgeq import _core
from edgeq.gguf import open_gguf


def info(*args, isa=None):
    env = dict(os.environ)
    env.pop("EDGEQ_ISA", None)
    if isa:
        env["EDGEQ_ISA"] = isa
    return subprocess.run([sys.executable, "-m", "edgeq", "info", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("isa", _core.runnable_isas())
def test_kernels_per_isa(isa):
    proc = info("--json", isa=isa)
    assert proc.returncode == 0, proc.stderr
    s = json.loads(proc.stdout)["system"]
    assert s["isa"] == isa and s["isa_forced_by"] == "EDGEQ_ISA"
    order = s["runnable_isas"]
    kernels = {k["type"]: k["isa"] for k in s["kernels"]}
    assert {"F32", "F16", "Q4_0", "Q4_1", "Q8_0", "Q4_K", "Q6_K", "TQ1_0", "TQ2_0"} <= set(kernels)
    for typ, provider in kernels.items():
        # No table uses a kernel of a higher tier than itself; every ISA beyond ref provides
        # its own version of the float and 4-bit kernels.
        assert order.index(provider) <= order.index(isa), (typ, provider)
    if isa != "ref":
        assert kernels["Q4_K"] == isa and kernels["F16"] == isa
    else:
        assert set(kernels.values()) == {"ref"}


def test_model_summary(smollm2):
    proc = info(smollm2, "--json")
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)["model"]
    with open_gguf(smollm2) as g:
        total = sum(t.nbytes for t in g)
        n = len(list(g))
    assert m["architecture"] == "llama" and m["layers"] == 30
    assert sum(e["bytes"] for e in m["tensor_types"].values()) == m["tensor_bytes"] == total
    assert sum(e["tensors"] for e in m["tensor_types"].values()) == n
    assert m["vocabulary"] == {"model": "gpt2", "pre": "smollm", "size": 49152}
    assert "im_start" in m["chat_template"]
    text = info(smollm2)
    assert text.returncode == 0 and "arch:      llama" in text.stdout


def test_missing_model_is_one_line(tmp_path):
    proc = info(tmp_path / "nope.gguf")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1


def test_energy_sources_listed():
    """Every energy source tried is listed with what it reads or why it cannot be used."""
    from edgeq.energy import candidates

    proc = info("--json")
    assert proc.returncode == 0, proc.stderr
    e = json.loads(proc.stdout)["system"]["energy"]
    names = [s["name"] for s in e["sources"]]
    assert names == [c.name for c in candidates()]
    assert all(isinstance(s["detail"], str) and s["detail"] for s in e["sources"])
    ok = [s for s in e["sources"] if s["ok"]]
    assert (e["source"] is None) == (not ok)
    text = info()
    assert text.returncode == 0, text.stderr
    line = [ln for ln in text.stdout.splitlines() if ln.startswith("energy:")]
    assert len(line) == 1
    if not ok:
        assert line[0].startswith("energy:    none readable (RAPL: ")
    else:
        assert ok[0]["detail"] in line[0]
