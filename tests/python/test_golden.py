"""Golden end-to-end test (llama2.c's test_all.py): SmolLM2-135M-Instruct, greedy, exact token ids.

tests/data/smollm2_golden.json was written by tests/reference/make_smollm2_golden.py with the
scalar reference kernels. The ref ISA must reproduce the greedy continuation token for token
through the CLI-facing generation loop. SIMD ISAs sum floats in another order; on this model
that flips int8 activation roundings and moves logits by up to ~1.9 (measured: avx2 1.85,
avx512 1.20 max |logit diff| vs ref over the golden sequence), but the top-1/top-2 *gap* moves
far less. So SIMD ISAs are checked teacher-forced: fed the golden tokens one at a time (the
decode path), their top-1 must equal the golden token at every step whose recorded margin
exceeds MARGIN_BOUND, and at least half of the steps must be checked.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgeq import _core
from edgeq.generate import generate
from edgeq.model import load_model
from edgeq.sampling import SamplingParams

GOLDEN = json.loads((Path(__file__).resolve().parents[1] / "data" / "smollm2_golden.json").read_text())
MARGIN_BOUND = 0.5


def test_ref_reproduces_golden_greedy(smollm2):
    model = load_model(smollm2, n_ctx=256, n_threads=2, isa="ref")
    assert model.tokenizer.encode(GOLDEN["prompt"], add_special=False) == GOLDEN["prompt_ids"][1:]
    got = []
    text = "".join(generate(model, GOLDEN["prompt_ids"], SamplingParams(temp=0.0),
                            max_tokens=len(GOLDEN["generated_ids"]), generated=got))
    assert got == GOLDEN["generated_ids"], text
    assert text == GOLDEN["text"]


@pytest.mark.parametrize("isa", [i for i in _core.compiled_isas() if i != "ref"])
def test_simd_isa_follows_golden_where_decisive(smollm2, isa):
    if isa not in _core.runnable_isas():
        pytest.skip(f"ISA {isa} is not supported by this CPU")
    model = load_model(smollm2, n_ctx=256, n_threads=2, isa=isa)
    logits = model.eval(np.array(GOLDEN["prompt_ids"], dtype=np.int32))[-1]
    checked, mismatches = 0, []
    for step, (want, margin) in enumerate(zip(GOLDEN["generated_ids"], GOLDEN["margins"])):
        if margin > MARGIN_BOUND:
            checked += 1
            if int(np.argmax(logits)) != want:
                mismatches.append((step, margin))
        logits = model.eval(np.array([want], dtype=np.int32))[-1]
    assert checked >= len(GOLDEN["margins"]) // 2, checked
    assert not mismatches, f"{isa}: top-1 differs from golden at (step, margin) {mismatches}"
