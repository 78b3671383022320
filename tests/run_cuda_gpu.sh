#!/usr/bin/env bash
# For a machine WITH an NVIDIA GPU (not run in CI), from a clean checkout: build the CUDA backend
# for this GPU, run every CUDA test on the device, and print the numbers.
#
#   tests/run_cuda_gpu.sh [out_dir]        # logs, bench JSON and summary.txt in out_dir (default cuda-results)
#
# Needs: the CUDA toolkit (nvcc 12.8+; CUDACXX=/path/to/nvcc), cmake, a C++ compiler, and Python
# with numpy, gguf, pytest, pybind11 (PYTHON=/path/to/python picks the interpreter).
# Optional: EDGEQ_SMOLLM2=/path/to/SmolLM2-135M-Instruct.Q4_1.gguf (a real model: its GPU-vs-CPU
# test and the whole-model benchmark, also on MXFP4 / NVFP4 copies).
# Steps:
#   1. build (EDGEQ_CUDA_ARCHS from nvidia-smi's compute capability; 10.x -> 100a, 12.x -> 120a);
#   2. ctest: the CPU tests and tests/cuda/test_cuda_host (host checks + cuda_matmul on every path
#      vs float64; on sm_120 the W4A4 fp4mma path against host-quantized activations);
#   3. pytest: test_cuda.py (GPU matmuls vs float64 and the CPU kernels), test_cuda_forward.py (the
#      whole forward pass on the GPU vs the float64 oracle and the CPU forward: logits within the
#      stated bounds, same greedy tokens where decisive), the FP4 CPU oracle tests;
#   4. bench/cuda_fp4.py: GEMV / GEMM weight GB/s next to the device-to-device cudaMemcpy GB/s;
#   5. bench/cuda_forward.py (with EDGEQ_SMOLLM2): GPU vs CPU logits, prefill / decode tokens/s,
#      and `edgeq bench --device cuda`.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mkdir -p "${1:-$ROOT/cuda-results}" && cd "${1:-$ROOT/cuda-results}" && pwd)
PY=${PYTHON:-python3}
NVCC=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
[ -x "$NVCC" ] || { echo "nvcc not found: install the CUDA toolkit or set CUDACXX"; exit 1; }
missing=$("$PY" -c "
import importlib.util as u
print(' '.join(m for m in ('numpy', 'gguf', 'pytest', 'pybind11') if u.find_spec(m) is None))")
[ -z "$missing" ] || { echo "$PY lacks: $missing (pip install $missing, or set PYTHON)"; exit 1; }
command -v nvidia-smi > /dev/null && nvidia-smi | tee "$OUT/nvidia-smi.txt"
CC=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
case "$CC" in
    "") ARCHS="80;90;100a;120a" ;;
    100|103|120|121) ARCHS="${CC}a" ;;
    *) ARCHS="$CC" ;;
esac
echo "compute capability: ${CC:-unknown} -> EDGEQ_CUDA_ARCHS=$ARCHS" | tee "$OUT/summary.txt"
BUILD="$ROOT/build-cuda-gpu"
JOBS=$(nproc)
start=$(date +%s)
cmake -S "$ROOT" -B "$BUILD" -DEDGEQ_CUDA=ON -DEDGEQ_CUDA_ARCHS="$ARCHS" -DEDGEQ_BUILD_TESTS=ON \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$NVCC" -DEDGEQ_PYTHON_MODULE_DIR="$BUILD/py/edgeq" \
    -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" > "$OUT/configure.log" 2>&1 \
    || { tail -30 "$OUT/configure.log"; exit 1; }
cmake --build "$BUILD" -j "$JOBS" > "$OUT/build.log" 2>&1 || { tail -50 "$OUT/build.log"; exit 1; }
echo "build: $(( $(date +%s) - start )) s" | tee -a "$OUT/summary.txt"
# The Python package (subpackages included) next to this build's module.
tar -C "$ROOT/python" --exclude='_core*' --exclude=__pycache__ -cf - edgeq | tar -C "$BUILD/py" -xf -
export PYTHONPATH="$BUILD/py"
"$PY" -c "from edgeq import _core; print(_core.cuda_status())" | tee -a "$OUT/summary.txt"

status=0
run() {  # name, command...: log to $OUT/name.log, record PASS / FAIL
    local name=$1; shift
    if "$@" > "$OUT/$name.log" 2>&1; then echo "PASS $name" | tee -a "$OUT/summary.txt"
    else echo "FAIL $name (see $OUT/$name.log)" | tee -a "$OUT/summary.txt"; status=1; fi
}
run ctest bash -c "cd '$BUILD' && ctest -j 4 --output-on-failure"
run pytest_cuda bash -c "cd '$ROOT/tests/python' && '$PY' -m pytest -v -rs test_cuda.py test_cuda_forward.py \
    test_fp4_copy.py test_kernels_oracle_fp4.py test_fp4_model.py"
grep -E "passed|failed|skipped" "$OUT/pytest_cuda.log" | tail -1 | tee -a "$OUT/summary.txt"
run bench_fp4 "$PY" "$ROOT/bench/cuda_fp4.py" --json "$OUT/bench_cuda_fp4.json"
cat "$OUT/bench_fp4.log"
if [ -n "${EDGEQ_SMOLLM2:-}" ] && [ -f "$EDGEQ_SMOLLM2" ]; then
    run bench_forward "$PY" "$ROOT/bench/cuda_forward.py" --fp4 --json "$OUT/bench_cuda_forward.json"
    cat "$OUT/bench_forward.log"
    run edgeq_bench "$PY" -m edgeq bench "$EDGEQ_SMOLLM2" -p 128 -n 64 -r 3 --device cuda
    cat "$OUT/edgeq_bench.log"
else
    echo "SKIP whole-model benchmark: set EDGEQ_SMOLLM2 to a model file" | tee -a "$OUT/summary.txt"
fi
echo "results in $OUT"
exit $status
