"""edgeq: a CPU-first runtime for low-bit language models."""
from . import _core  # noqa: F401

__version__ = "0.1.0"
