"""The compute device of `run` / `bench` / `load_model` (--device): cpu (default) or cuda.

The CUDA backend is optional (built with EDGEQ_CUDA=ON): with it, device="cuda" runs the whole
forward pass on the GPU (MXFP4 / NVFP4 matrices in their 4-bit form, other types as F16 copies;
see cpp/backends/gpu_model.h). Without it, or without a usable GPU, asking for cuda fails with
one line 'CUDA not available: <reason>'.
"""
from __future__ import annotations

from . import _core

DEVICES = ("cpu", "cuda")


class DeviceError(RuntimeError):
    """The requested device cannot run the model. The message is one line."""


def cuda_unavailable_reason() -> "str | None":
    """None if CUDA is usable, else 'CUDA not available: <reason>'."""
    if _core.cuda_available():
        return None
    status = _core.cuda_status()
    prefix = "CUDA not available: "
    return status if status.startswith(prefix) else prefix + status


def check_device(name: str) -> None:
    """Raise DeviceError unless the forward pass can run on `name`."""
    if name == "cpu":
        return
    if name != "cuda":
        raise DeviceError(f"unknown device {name!r} (choose from {', '.join(DEVICES)})")
    reason = cuda_unavailable_reason()
    if reason:
        raise DeviceError(reason)
