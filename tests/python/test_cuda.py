"""The optional CUDA backend from Python.

Without a usable device (a build without CUDA, or no GPU): the queries answer, every GPU entry
point and `--device cuda` fail with one line 'CUDA not available: <reason>'. With one: the GPU
FP4 matmul on each path against float64 sums of the same numbers (weights from the gguf package's
dequantizer; the fp4mma path's W4A4 is covered by tests/cuda/test_cuda_host.cpp, whose activation
quantizer runs on the host), and against the CPU kernels.
"""
import os

import numpy as np
import pytest
from gguf import GGMLQuantizationType as T

gguf = pytest.importorskip("gguf")

from edgeq import _core  # noqa: E402
from edgeq.cli import main  # noqa: E402
from tiny_llama import write_tiny_llama  # noqa: E402

AVAILABLE = _core.cuda_available()
# EDGEQ_CUDA_FP4_ACT=1 lets "auto" take the W4A4 fp4mma path (4-bit activations): the float bounds
# below are not for it (tests/cuda/test_cuda_host.cpp checks fp4mma against its own quantizer).
W4A4 = os.environ.get("EDGEQ_CUDA_FP4_ACT") == "1"
needs_gpu = pytest.mark.skipif(not AVAILABLE, reason=_core.cuda_status())
needs_no_gpu = pytest.mark.skipif(AVAILABLE, reason="a CUDA device is available")
U = 2.0 ** -24


@needs_no_gpu
def test_unavailable_is_one_clear_line():
    assert _core.cuda_status()
    w = np.zeros(36, np.uint8)
    with pytest.raises(RuntimeError, match=r"^CUDA not available: \S"):
        _core.cuda_matmul(int(T.NVFP4), w, 1, 64, np.zeros((1, 64), np.float32))
    with pytest.raises(RuntimeError, match=r"^CUDA not available: "):
        _core.cuda_benchmark(int(T.NVFP4), w, 1, 64)


@pytest.mark.parametrize("command", ["run", "bench"])
def test_cli_device_cuda(tmp_path, capsys, command):
    """Without a usable device: exit 1 and one line 'CUDA not available: <reason>' (the CLI's
    convention for a runtime failure; argparse usage errors are 2). With one: it runs."""
    path = tmp_path / "tiny.gguf"
    write_tiny_llama(path, T.MXFP4)
    if AVAILABLE and command == "run":  # the tiny model has no tokenizer: run a real one
        path = os.environ.get("EDGEQ_SMOLLM2", "")
        if not os.path.exists(path):
            pytest.skip("run --device cuda needs a model with a tokenizer: set EDGEQ_SMOLLM2")
    argv = ["run", str(path), "-p", "hi", "-n", "1"] if command == "run" else ["bench", str(path), "-p", "8", "-n", "0", "-r", "1"]
    code = main(argv + ["--device", "cuda"])
    out, err = capsys.readouterr()
    if AVAILABLE:
        assert code == 0, err
        if command == "bench":
            assert "CUDA" in out and "cuda" in out
    else:
        assert code == 1
        assert len(err.strip().splitlines()) == 1
        assert "edgeq: error: CUDA not available: " in err


def test_cli_unknown_device_is_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "x.gguf", "-p", "hi", "--device", "tpu"])
    assert e.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@needs_no_gpu
def test_device_cuda_unavailable_everywhere(tmp_path):
    """load_model, edgeq.Model and _core.Model refuse device="cuda" with the one-line reason;
    the device check runs before the file is even opened (a missing file still says CUDA)."""
    import edgeq
    from edgeq.device import DeviceError
    from edgeq.model import load_model

    path = tmp_path / "tiny.gguf"
    write_tiny_llama(path, T.NVFP4, n_ff=128)
    for load in (lambda: load_model(path, device="cuda"), lambda: edgeq.Model(str(path), device="cuda"),
                 lambda: load_model(tmp_path / "missing.gguf", device="cuda")):
        with pytest.raises(DeviceError, match=r"^CUDA not available: \S") as e:
            load()
        assert "\n" not in str(e.value)
    m = load_model(path)  # the CPU model of the same file
    tensors = {t.name: (t.type, t.shape, m.gguf.tensor_bytes(t.name)) for t in m.gguf}
    with pytest.raises(RuntimeError, match=r"^CUDA not available: "):
        _core.Model(m.config, tensors, 16, 1, "", "auto", "cuda")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        _core.Model(m.config, tensors, 16, 1, "", "auto", "tpu")
    with pytest.raises(DeviceError, match="unknown device 'tpu'"):
        load_model(path, device="tpu")
    assert m.device == "cpu" and m.device_info == ""


def quantized(rng, qtype, n_out, n_in):
    w = (rng.standard_normal((n_out, n_in)) * 0.05).astype(np.float32)
    raw = _core.quantize(int(qtype), w)
    wd = gguf.quants.dequantize(raw, qtype).astype(np.float64).reshape(n_out, n_in)
    return raw, wd


@needs_gpu
@pytest.mark.parametrize("qtype", [T.MXFP4, T.NVFP4], ids=lambda t: t.name)
@pytest.mark.parametrize("path", ["gemv", "wmma", "auto"])
@pytest.mark.parametrize("shape", [(1, 64, 1), (131, 1024, 3), (257, 2048, 8), (96, 512, 9), (300, 4096, 77)])
def test_cuda_matmul_vs_float64(qtype, path, shape):
    """gemv: float products summed in float, (n_in + 16) u S; wmma also rounds the activations to
    bf16 (2^-9 relative each): + 2^-8 S. auto picks one of the two (or fp4mma only when
    EDGEQ_CUDA_FP4_ACT=1)."""
    n_out, n_in, n_tok = shape
    if path == "auto" and W4A4:
        pytest.skip("EDGEQ_CUDA_FP4_ACT=1: auto may take the W4A4 path")
    rng = np.random.default_rng(n_out + n_in + n_tok)
    raw, wd = quantized(rng, qtype, n_out, n_in)
    x = rng.standard_normal((n_tok, n_in)).astype(np.float32)
    got = _core.cuda_matmul(int(qtype), raw, n_out, n_in, x, path=path).astype(np.float64)
    want = x.astype(np.float64) @ wd.T
    S = np.abs(x.astype(np.float64)) @ np.abs(wd).T
    bound = ((n_in + 16) * U + 2.0 ** -8) * S
    assert np.all(np.abs(got - want) <= bound)
    if path == "gemv":  # the stricter bound of the float path
        assert np.all(np.abs(got - want) <= (n_in + 16) * U * S)
    cpu = _core.matmul(int(qtype), raw, n_out, n_in, x)  # CPU: 8-bit activations, ~1% apart
    assert np.abs(cpu - got).max() <= 0.05 * np.abs(want).max()


@needs_gpu
def test_cuda_matmul_bad_input():
    raw = np.zeros(36, np.uint8)
    with pytest.raises(ValueError, match="do not match"):
        _core.cuda_matmul(int(T.NVFP4), raw, 2, 64, np.zeros((1, 64), np.float32))
    with pytest.raises(ValueError, match="MXFP4 or NVFP4"):
        _core.cuda_matmul(int(T.Q4_0), raw, 1, 32, np.zeros((1, 32), np.float32))
    with pytest.raises(ValueError, match="unknown CUDA matmul path"):
        _core.cuda_matmul(int(T.NVFP4), raw, 1, 64, np.zeros((1, 64), np.float32), path="tensor")


class GpuMatmulLlama:
    """llama_ref's float64 forward with every FP4 matmul done by _core.cuda_matmul (float32 in,
    float32 out) on the file's own bytes: the GPU kernels on a whole model's shapes."""

    def __init__(self, g, cfg, path):
        from llama_ref import RefLlama

        self.ref = RefLlama(g, cfg)
        self.g, self.path = g, path
        ref_mm = self.ref._mm

        def mm(x, w, name):
            t = g.tensors[name]
            if t.type not in (int(T.MXFP4), int(T.NVFP4)):
                return ref_mm(x, w, name)
            y = _core.cuda_matmul(t.type, np.asarray(g.tensor_bytes(name)), t.shape[1], t.shape[0],
                                  np.ascontiguousarray(x, dtype=np.float32), path=self.path)
            return y.astype(np.float64)
        self.ref._mm = mm

    def forward(self, tokens):
        return self.ref.forward(tokens)


@needs_gpu
@pytest.mark.parametrize("qtype", [T.MXFP4, T.NVFP4], ids=lambda t: t.name)
def test_gpu_matmul_forward_vs_cpu_model(tmp_path, qtype):
    """A tiny FP4 model (per-tensor NVFP4 scales included): the forward pass with GPU matmuls
    against the float64 oracle (gemv: float math, 1e-4 of the logit range; wmma: bf16
    activations, 2e-2) and against edgeq's CPU model (8-bit activations: within 5%, the
    same top token at most positions)."""
    from edgeq.model import load_model
    from llama_ref import RefLlama

    path = tmp_path / "tiny.gguf"
    write_tiny_llama(path, qtype, scales=qtype == T.NVFP4, n_ff=128)
    m = load_model(path, n_threads=2)
    toks = np.random.default_rng(1).integers(0, m.n_vocab, 20)
    want = RefLlama(m.gguf, m.config).forward(toks)
    scale = np.abs(want).max()
    gemv = GpuMatmulLlama(m.gguf, m.config, "gemv").forward(toks)
    assert np.abs(gemv - want).max() <= 1e-4 * scale
    wmma = GpuMatmulLlama(m.gguf, m.config, "wmma").forward(toks)
    assert np.abs(wmma - want).max() <= 2e-2 * scale
    cpu = m.eval(toks, all_logits=True)
    assert np.abs(cpu - gemv).max() <= 0.05 * scale
    assert np.mean(cpu.argmax(-1) == gemv.argmax(-1)) >= 0.9
