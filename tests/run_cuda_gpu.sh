#!/usr/bin/env bash
# For a machine WITH an NVIDIA GPU (not run in CI): build the CUDA backend for this GPU, run every
# CUDA test on the device, the GPU FP4 matmul benchmark, and the CPU-vs-GPU logits comparison.
#
#   tests/run_cuda_gpu.sh [out_dir]        # results (logs, bench JSON) in out_dir (default cuda-results)
#
# Steps: 1. build (EDGEQ_CUDA_ARCHS from nvidia-smi's compute capability, 120 -> 120a so the native
# FP4 MMA is built) 2. tests/cuda/test_cuda_host (host checks + cuda_matmul on every path vs float64)
# 3. pytest test_cuda.py (GPU matmul vs float64 and the CPU kernels; a tiny FP4 model's forward
# with GPU matmuls vs the float64 oracle and vs edgeq's CPU logits) and the FP4 CPU oracle tests
# (on sm_120 step 2 also runs the W4A4 fp4mma path against host-quantized activations)
# 4. bench/cuda_fp4.py: GEMV / GEMM weight GB/s next to the measured device cudaMemcpy GB/s.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/cuda-results}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
NVCC=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
[ -x "$NVCC" ] || { echo "nvcc not found: install the CUDA toolkit or set CUDACXX"; exit 1; }
command -v nvidia-smi > /dev/null && nvidia-smi | tee "$OUT/nvidia-smi.txt"
CC=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
case "$CC" in
    "") ARCHS="80;90;100;120a" ;;
    120|121) ARCHS="${CC}a" ;;
    *) ARCHS="$CC" ;;
esac
echo "compute capability: ${CC:-unknown} -> EDGEQ_CUDA_ARCHS=$ARCHS" | tee "$OUT/summary.txt"
BUILD="$ROOT/build-cuda-gpu"
cmake -S "$ROOT" -B "$BUILD" -DEDGEQ_CUDA=ON -DEDGEQ_CUDA_ARCHS="$ARCHS" -DEDGEQ_BUILD_TESTS=ON \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$NVCC" -DEDGEQ_PYTHON_MODULE_DIR="$BUILD/py/edgeq" \
    -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" > "$OUT/configure.log" 2>&1
cmake --build "$BUILD" -j "$(nproc)" > "$OUT/build.log" 2>&1 || { tail -50 "$OUT/build.log"; exit 1; }
cp "$ROOT"/python/edgeq/*.py "$BUILD/py/edgeq/"
export PYTHONPATH="$BUILD/py"

status=0
run() {  # name, command...: log to $OUT/name.log, record PASS / FAIL
    local name=$1; shift
    if "$@" > "$OUT/$name.log" 2>&1; then echo "PASS $name" | tee -a "$OUT/summary.txt"
    else echo "FAIL $name (see $OUT/$name.log)" | tee -a "$OUT/summary.txt"; status=1; fi
}
run ctest bash -c "cd '$BUILD' && ctest --output-on-failure"
run pytest_cuda bash -c "cd '$ROOT/tests/python' && $PY -m pytest -v test_cuda.py test_kernels_oracle_fp4.py test_fp4_model.py"
run bench bash -c "$PY '$ROOT/bench/cuda_fp4.py' --json '$OUT/bench_cuda_fp4.json'"
cat "$OUT/bench.log"
echo "results in $OUT"
exit $status
