"""The whole forward pass on the GPU (load_model(..., device="cuda"), cpp/backends/gpu_model.h)
against the float64 oracle (llama_ref) and against edgeq's CPU forward, on the same model files.
Skipped without a usable CUDA device (tests/run_cuda_gpu.sh runs them on a GPU machine).

Tolerances, relative to the largest |logit| of the oracle (S):
  * FP4 matrices, decode (1 token per eval: the float GEMV, exact weights): 1e-3 S;
  * FP4 matrices, prefill (more than 8 tokens: the WMMA path rounds activations to bf16, 2^-9
    relative each): 3e-2 S;
  * other types (F16 copies: weights rounded to half, 2^-12 relative; float math): 2e-3 S;
  * GPU vs CPU: the CPU kernels quantize activations to 8 bits, which puts the CPU up to ~6e-2 S
    from the oracle on these tiny models (measured: MXFP4 2.0e-2, NVFP4 with scales 6.3e-2, Q8_0
    2.2e-2), so |GPU - CPU| <= |CPU - oracle| + the GPU's own bound (triangle inequality);
  * greedy tokens: the GPU's choice equals the oracle's wherever the oracle's top-2 margin exceeds
    twice the GPU bound, and the CPU's wherever the CPU's margin exceeds twice the GPU-CPU bound.
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
    "Q4_0-tied": (T.Q4_0, {"tied": True}, 2e-3, 2e-3),
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

    assert_same_choices(decode, want, 2 * decode_tol * S)
    ref_cpu = cpu.eval(toks, all_logits=True)
    cpu_bound = np.abs(ref_cpu - want).max() + decode_tol * S
    assert np.abs(ref_cpu - decode).max() <= cpu_bound
    assert_same_choices(decode, ref_cpu, 2 * cpu_bound)


def assert_same_choices(got, want, margin, min_compared=1):
    """Greedy (argmax) choices of got equal want's at every row whose top-2 margin in want exceeds
    `margin` (there, no error within margin / 2 can flip the choice); returns the rows compared."""
    top2 = np.sort(want, axis=-1)[..., -2:]
    decisive = (top2[..., 1] - top2[..., 0]) > margin
    assert decisive.sum() >= min_compared, "no decisive step to compare"
    assert np.array_equal(np.argmax(got, -1)[decisive], np.argmax(want, -1)[decisive])
    return int(decisive.sum())


def test_gpu_greedy_generation(tmp_path):
    """16 greedy steps on the GPU, each feeding its own choice back (decode: GEMV + the device KV
    cache): every choice equals the float64 oracle's on the same sequence where the oracle is
    decisive at the GPU's bound, and most steps are."""
    path = tiny(tmp_path, "MXFP4")
    gpu = load_model(path, device="cuda")
    ref = RefLlama(gpu.gguf, gpu.config)
    seq = [1, 5, 9, 17]
    logits = [gpu.eval(seq)[0]]
    for _ in range(16):
        seq.append(int(logits[-1].argmax()))
        logits.append(gpu.eval([seq[-1]])[0])
    want = ref.forward(np.array(seq))[3:]  # the oracle's logits after each prefix
    S = np.abs(want).max()
    assert np.abs(np.array(logits) - want).max() <= 1e-3 * S
    assert assert_same_choices(np.array(logits), want, 2e-3 * S) >= 12


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
    with pytest.raises(ValueError, match="context is full"):
        b.eval(list(range(7)))
    assert b.n_past == 10  # a refused eval leaves the cache alone
    with pytest.raises(ValueError, match="out of range"):
        b.eval([0, 80])
    with pytest.raises(IndexError, match="must be in"):
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
