"""Write tests/data/smollm2_llamacpp_ppl.json: llama.cpp's llama-perplexity on SmolLM2-135M-Instruct
Q4_1 over the first chunks of ../shared/data/britannica-shakespeare.txt (the running [i] values
and the final estimate), so tests/python/test_perplexity.py can hold edgeq's perplexity to an
independent implementation without llama.cpp installed.

    python tests/reference/make_smollm2_llamacpp_ppl.py PATH/TO/llama-perplexity [MODEL.gguf]
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
OUT = TESTS / "data" / "smollm2_llamacpp_ppl.json"
N_CTX = 512
CHUNKS = 4


def main() -> None:
    sys.path.insert(0, str(TESTS / "python"))
    from conftest import shared_data_dir, smollm2_path

    binary = sys.argv[1]
    model = Path(sys.argv[2]) if len(sys.argv) > 2 else smollm2_path()
    text = shared_data_dir() / "britannica-shakespeare.txt"
    cmd = [binary, "-m", str(model), "-f", str(text), "-c", str(N_CTX), "--chunks", str(CHUNKS),
           "-t", "2"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    log = out.stdout + out.stderr
    running = [float(v) for v in re.findall(r"\[\d+\]([0-9.]+),", log)]
    final = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", log)
    version = subprocess.run([binary, "--version"], capture_output=True, text=True)
    version = (version.stdout + version.stderr).strip().splitlines()[0]
    record = {
        "command": " ".join(["llama-perplexity", "-m", model.name, "-f", text.name] + cmd[5:]),
        "llama_cpp_version": version,
        "model": model.name, "text": text.name, "n_ctx": N_CTX, "chunks": CHUNKS,
        "running_ppl": running, "ppl": float(final.group(1)), "ppl_err": float(final.group(2)),
    }
    OUT.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
