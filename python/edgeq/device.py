"""The compute device of `run` / `bench` (--device): cpu (default) or cuda.

The CUDA backend is optional (built with EDGEQ_CUDA=ON) and today runs single FP4 matmuls
(_core.cuda_matmul); the whole forward pass runs on the CPU. Asking for cuda says which of the
two is missing, in one line.
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
    raise DeviceError("the CUDA forward pass is not implemented yet: this build runs single FP4 matmuls "
                      "on the GPU (edgeq._core.cuda_matmul); use --device cpu")
