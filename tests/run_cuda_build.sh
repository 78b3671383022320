#!/usr/bin/env bash
# CI check of the optional CUDA backend, no GPU needed: configure a separate build directory with
# EDGEQ_CUDA=ON, compile it, run its host-side tests (tests/cuda: decoders, GPU layout, path
# choice, activation quantizer; device tests print SKIP without a GPU) and the Python CUDA tests
# (tests/python/test_cuda.py: the 'CUDA not available: <reason>' errors). The default build
# (EDGEQ_CUDA=OFF, build/, python/edgeq/_core*.so) is not touched.
#
#   tests/run_cuda_build.sh                       # every shipped arch: 80, 90, 100a, 120a
#   EDGEQ_CUDA_ARCHS=80 tests/run_cuda_build.sh   # one arch, for a quick iteration
#
# Skips (exit 0) with a message when nvcc is absent. Env: CUDACXX / NVCC (compiler),
# EDGEQ_CUDA_BUILD_DIR (default build-cuda), EDGEQ_CUDA_ARCHS, JOBS (default 2), PYTHON.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NVCC=${CUDACXX:-${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}}
if [ ! -x "$NVCC" ]; then
    echo "SKIP CUDA build: nvcc not found (install the CUDA toolkit, or set CUDACXX=/path/to/nvcc)"
    exit 0
fi
BUILD=${EDGEQ_CUDA_BUILD_DIR:-$ROOT/build-cuda}
ARCHS=${EDGEQ_CUDA_ARCHS:-80;90;100a;120a}
JOBS=${JOBS:-2}
PY=${PYTHON:-python3}
start=$(date +%s)

cmake -S "$ROOT" -B "$BUILD" -DEDGEQ_CUDA=ON -DEDGEQ_CUDA_ARCHS="$ARCHS" -DEDGEQ_BUILD_TESTS=ON \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$NVCC" -DEDGEQ_PYTHON_MODULE_DIR="$BUILD/py/edgeq" \
    -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" > "$BUILD.configure.log" 2>&1 \
    || { cat "$BUILD.configure.log"; exit 1; }
# Only what the CUDA checks need (the CPU kernel tests run in the default build).
cmake --build "$BUILD" -j "$JOBS" --target test_cuda_host _core
built=$(date +%s)
"$BUILD/test_cuda_host"

# The Python package (subpackages included) next to this build's module; python/edgeq's own
# _core is the CPU build's and stays out.
tar -C "$ROOT/python" --exclude='_core*' --exclude=__pycache__ -cf - edgeq | tar -C "$BUILD/py" -xf -
(cd "$ROOT/tests/python" && PYTHONPATH="$BUILD/py" "$PY" -m pytest -q test_cuda.py test_cuda_forward.py)

end=$(date +%s)
echo "CUDA build (archs $ARCHS, -j$JOBS): configure + compile $((built - start)) s, tests $((end - built)) s"
