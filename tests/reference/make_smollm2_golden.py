"""Write tests/data/smollm2_golden.json: a greedy continuation of a fixed prompt by edgeq's
scalar reference kernels (EDGEQ ISA "ref"), with the top-1/top-2 logit margin at every step.

tests/python/test_golden.py replays it: the ref ISA must reproduce every token; a SIMD ISA sums
in another order (differences up to ~0.1 in logits were measured between ISAs on this model), so
it must reproduce the sequence up to the first step whose recorded margin is below MARGIN_BOUND.

Rerun (only when the forward pass changes on purpose):
    python tests/reference/make_smollm2_golden.py [MODEL.gguf]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from edgeq.model import load_model

PROMPT = "The capital of France is"
N_TOKENS = 48
OUT = Path(__file__).resolve().parents[1] / "data" / "smollm2_golden.json"


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
    from conftest import smollm2_path

    path = Path(sys.argv[1]) if len(sys.argv) > 1 else smollm2_path()
    model = load_model(path, n_ctx=256, n_threads=2, isa="ref")
    tok = model.tokenizer
    prompt_ids = [tok.bos_id] + tok.encode(PROMPT, add_special=False)
    logits = model.eval(np.array(prompt_ids, dtype=np.int32))[-1]
    generated, margins = [], []
    for _ in range(N_TOKENS):
        order = np.argsort(-logits)
        generated.append(int(order[0]))
        margins.append(float(logits[order[0]] - logits[order[1]]))
        logits = model.eval(np.array([order[0]], dtype=np.int32))[-1]
    OUT.write_text(json.dumps({
        "model_file": path.name, "prompt": PROMPT, "prompt_ids": prompt_ids,
        "generated_ids": generated, "margins": [round(m, 4) for m in margins],
        "text": tok.decode(generated),
    }, indent=1, ensure_ascii=False) + "\n")
    print(OUT.read_text())


if __name__ == "__main__":
    main()
