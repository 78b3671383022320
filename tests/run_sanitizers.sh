#!/usr/bin/env bash
# The C++ tests (kernels, the GGUF reader's malformed-file cases, tokenizer, C API) built with
# AddressSanitizer + UndefinedBehaviorSanitizer (EDGEQ_SANITIZE=ON, -O1 -g) and run: any invalid
# access, leak or undefined behaviour fails the run. Used by tests/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${EDGEQ_SANITIZE_BUILD:-build/sanitize}"
cmake -S . -B "$build" -DEDGEQ_BUILD_TESTS=ON -DEDGEQ_PYTHON=OFF -DEDGEQ_SANITIZE=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" >/dev/null
cmake --build "$build" -j2
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    ctest --test-dir "$build" --output-on-failure
echo "sanitizers: clean"
