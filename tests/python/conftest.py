"""Shared fixtures: where the test data and the real model live."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path:
    """The shared test data: $EDGEQ_SHARED_DATA, else ../shared/data next to the repository."""
    env = os.environ.get("EDGEQ_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path() -> "Path | None":
    """SmolLM2-135M-Instruct Q4_1: $EDGEQ_SMOLLM2, else the edgeq model cache (where
    `edgeq pull smollm2-135m` puts it); None if absent."""
    env = os.environ.get("EDGEQ_SMOLLM2")
    candidates = [Path(env)] if env else []
    try:
        from edgeq.pull import cache_dir
        candidates.append(cache_dir() / SMOLLM2_FILE)
    except ImportError:  # no model cache helper in this build
        pass
    candidates.append(Path.home() / ".cache" / "edgeq" / "models" / SMOLLM2_FILE)
    return next((p for p in candidates if p.is_file()), None)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.fail(f"shared test data not found at {path} (set EDGEQ_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def smollm2() -> Path:
    path = smollm2_path()
    if path is None:
        message = ("SmolLM2-135M-Instruct.Q4_1.gguf not found: run `python -m edgeq pull "
                   "smollm2-135m` (or set EDGEQ_SMOLLM2)")
        if os.environ.get("EDGEQ_ALLOW_MISSING_MODEL") == "1":
            pytest.skip(message)
        pytest.fail(message)  # the real-model comparisons are the point of the suite
    return path


def dummy_bitnet():
    """The dummy BitNet generator module, models/make_dummy_bitnet.py (a script, not a package)."""
    import importlib.util
    import sys
    name = "make_dummy_bitnet"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "models" / "make_dummy_bitnet.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look the module up here
        spec.loader.exec_module(module)
    return sys.modules[name]
