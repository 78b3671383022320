"""The whole forward pass on the GPU (load_model(..., device="cuda"), cpp/backends/gpu_model.h)
against the float64 oracle (llama_ref) and against edgeq's CPU forward, on the same model files.
Skipped without a usable CUDA device (tests/run_cuda_gpu.sh runs them on a GPU machine).

Tolerances, relative to the largest |logit| of the oracle (S):
  * FP4 matrices, decode (1 token per eval: the float GEMV, exact weights): 1e-3 S;
  * FP4 matrices, prefill (more than 8 tokens: the WMMA path rounds activations to bf16, 2^-9
    relative each): 3e-2 S;
  * other types (F16 copies: weights rounded to half, 2^-12 relative; float math): 2e-3 S;
  * GPU vs CPU (the CPU kernels quantize activations to 8 bits, ~1% apart): 5e-2 S, and the same
    greedy token at every step whose top-2 margin on the CPU exceeds twice that bound.
"""
import os

import numpy as np
import pytest
from gguf import GGMLQuantizationType as T

from edgeq import _core
from edgeq.model import load_model
from llama_ref import RefLlama
from tiny_llama import write_tiny_llama

AVAILABLE = _core.cuda_available()
W4A4 = os.environ.get("EDGEQ_CUDA_FP4_ACT") == "1"
pytestmark = [pytest.mark.skipif(not AVAILABLE, reason=_core.cuda_status()),
              pytest.mark.skipif(W4A4, reason="EDGEQ_CUDA_FP4_ACT=1: 4-bit activations, other bounds")]

# (weight type, file options, decode bound, prefill bound)
CASES = {
    "MXFP4": (T.MXFP4, {}, 1e-3, 3e-2),
    "NVFP4-scales": (T.NVFP4, {"scales": True}, 1e-3, 3e-2),
    "Q8_0": (T.Q8_0, {}, 2e-3, 2e-3),
    "Q4_K-tied": (T.Q4_K, {"tied": True, "n_embd": 256, "n_ff": 256}, 2e-3, 2e-3),
    "F16": (T.F16, {}, 2e-3, 2e-3),
}


def tiny(tmp_path, name):
    qtype, opts, _, _ = CASES[name]
    path = tmp_path / f"{name}.gguf"
    write_tiny_llama(path, qtype, n_ff=opts.pop("n_ff", 128), **opts)
    return path


@pytest.mark.parametrize("name", list(CASES))
def test_gpu_forward_vs_float64_and_cpu(tmp_path, name):
    _, _, decode_tol, prefill_tol = CASES[name]
    path = tiny(tmp_path, name)
    cpu = load_model(path, n_threads=2)
    gpu = load_model(path, device="cuda")
    assert gpu.device == "cuda" and gpu.isa == "cuda" and "on the device" in gpu.device_info
    toks = np.random.default_rng(3).integers(0, cpu.n_vocab, 24)
    want = RefLlama(cpu.gguf, cpu.config).forward(toks)
    S = np.abs(want).max()

    prefill = gpu.eval(toks, all_logits=True)  # 24 tokens: the GEMM paths
    assert prefill.shape == want.shape and prefill.dtype == np.float32
    assert np.abs(prefill - want).max() <= prefill_tol * S
    gpu.reset()
    decode = np.concatenate([gpu.eval([t]) for t in toks])  # one token at a time: GEMV + cache
    assert gpu.n_past == len(toks)
    assert np.abs(decode - want).max() <= decode_tol * S

    ref_cpu = cpu.eval(toks, all_logits=True)
    assert np.abs(ref_cpu - decode).max() <= 5e-2 * S
    # Teacher-forced greedy: wherever the CPU's choice is decisive, the GPU makes the same one.
    top2 = np.sort(ref_cpu, axis=-1)[:, -2:]
    decisive = (top2[:, 1] - top2[:, 0]) > 2 * 5e-2 * S
    assert decisive.sum() >= len(toks) // 4, "too few decisive steps to compare"
    assert np.array_equal(ref_cpu.argmax(-1)[decisive], decode.argmax(-1)[decisive])


def test_gpu_greedy_generation_matches_cpu(tmp_path):
    """16 greedy steps, each model feeding its own choice back: identical while every CPU step is
    decisive (the first undecided step ends the comparison)."""
    path = tiny(tmp_path, "MXFP4")
    cpu, gpu = load_model(path, n_threads=2), load_model(path, device="cuda")
    prompt = [1, 5, 9, 17]
    lc, lg = cpu.eval(prompt)[0], gpu.eval(prompt)[0]
    S = np.abs(lc).max()
    compared = 0
    for _ in range(16):
        top2 = np.sort(lc)[-2:]
        if top2[1] - top2[0] <= 2 * 5e-2 * S:
            break
        assert int(lg.argmax()) == int(lc.argmax())
        t = int(lc.argmax())
        lc, lg = cpu.eval([t])[0], gpu.eval([t])[0]
        compared += 1
    assert compared >= 2


def test_gpu_cache_truncate_and_limits(tmp_path):
    path = tiny(tmp_path, "NVFP4-scales")
    toks = list(np.random.default_rng(5).integers(0, 80, 10))
    a = load_model(path, n_ctx=16, device="cuda")
    a.eval(toks[:5])
    want = a.eval(toks[5:10], all_logits=True)
    b = load_model(path, n_ctx=16, device="cuda")
    b.eval(toks[:10])
    b.truncate(5)  # rewinding keeps the first five positions: the same kernels give the same bits
    assert np.array_equal(b.eval(toks[5:10], all_logits=True), want)
    with pytest.raises(Exception, match="context is full"):
        b.eval(list(range(7)))
    assert b.n_past == 10  # a refused eval leaves the cache alone
    with pytest.raises(ValueError, match="out of range"):
        b.eval([0, 80])
    with pytest.raises(ValueError, match="must be in"):
        b.truncate(11)


SMOL = os.environ.get("EDGEQ_SMOLLM2")


@pytest.mark.skipif(not SMOL or not os.path.exists(SMOL), reason="EDGEQ_SMOLLM2 not set")
@pytest.mark.parametrize("qtype", [None, "MXFP4", "NVFP4"])
def test_gpu_smollm2_vs_cpu(tmp_path, qtype):
    """The real model (Q4_1 file: F16 copies on the GPU; or its MXFP4 / NVFP4 copy, edgeq.fp4_copy:
    the FP4 kernels): every position's logits within 5e-2 of their range of the CPU's, and the same
    greedy token wherever the CPU's choice is decisive."""
    from edgeq.fp4_copy import write_fp4_copy

    path = SMOL
    if qtype:
        path = str(tmp_path / f"smol-{qtype}.gguf")
        assert write_fp4_copy(SMOL, path, qtype) > 200
    cpu, gpu = load_model(path), load_model(path, device="cuda")
    toks = cpu.tokenizer.encode("The capital of France is Paris. The capital of Germany is", add_special=True,
                                parse_special=False)
    lc, lg = cpu.eval(toks, all_logits=True), gpu.eval(toks, all_logits=True)
    S = np.abs(lc).max()
    assert np.abs(lc - lg).max() <= 5e-2 * S
    top2 = np.sort(lc, axis=-1)[:, -2:]
    decisive = (top2[:, 1] - top2[:, 0]) > 2 * 5e-2 * S
    assert np.array_equal(lc.argmax(-1)[decisive], lg.argmax(-1)[decisive])
