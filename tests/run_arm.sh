#!/usr/bin/env bash
# Cross-builds edgeq's core library and C++ tests for aarch64 and runs them under qemu-user, once
# per emulated CPU model, so that every ARM kernel tier is exercised on this x86 machine:
#   cortex-a53  ARMv8.0, no dot product   -> "neon" (dotprod, i8mm reported as SKIP); selects neon
#   cortex-a76  ARMv8.2 + dotprod         -> "neon" and "dotprod" (i8mm SKIP); selects dotprod
#   max         every feature qemu has    -> "neon", "dotprod" and "i8mm" (sve reported, no SVE
#                                            kernels); selects i8mm
# Each run prints "run_arm: QEMU_CPU=<cpu> selected ISA: <tier>" (test_isa_selected: the table
# kernels() picks) and fails if one of the three models above selects another tier.
# Installs the cross compiler and qemu with apt when they are missing (CI runs as root on a clean
# Debian machine). Exits non-zero on any build or test failure; exits 0 with a SKIP message only
# when the tools cannot be installed.
#
# Environment: EDGEQ_ARM_CPUS (default "cortex-a53 cortex-a76 max"), EDGEQ_ARM_BUILD (build
# directory, default build-arm), EDGEQ_ARM_JOBS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

CPUS=${EDGEQ_ARM_CPUS:-"cortex-a53 cortex-a76 max"}
BUILD=${EDGEQ_ARM_BUILD:-build-arm}
JOBS=${EDGEQ_ARM_JOBS:-2}

have_tools() { command -v aarch64-linux-gnu-g++ >/dev/null && command -v qemu-aarch64 >/dev/null; }

if ! have_tools; then
    echo "run_arm: installing g++-aarch64-linux-gnu and qemu-user with apt"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi
    fi
    if command -v apt-get >/dev/null && { [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; }; then
        export DEBIAN_FRONTEND=noninteractive
        for attempt in 1 2 3; do  # the package lists can be briefly locked or stale
            if $SUDO apt-get update -q -o Acquire::Retries=3 &&
               $SUDO apt-get install -y -q --no-install-recommends -o Acquire::Retries=3 \
                   g++-aarch64-linux-gnu qemu-user; then
                break
            fi
            echo "run_arm: apt attempt $attempt failed"
            sleep $((attempt * 5))
        done
    fi
fi
if ! have_tools; then
    echo "run_arm: SKIP: aarch64 cross compiler or qemu-aarch64 missing and could not be installed"
    exit 0
fi

start=$(date +%s)
cmake -S . -B "$BUILD" -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
      -DEDGEQ_PYTHON=OFF -DEDGEQ_BUILD_TESTS=ON >/dev/null
cmake --build "$BUILD" -j"$JOBS"
built=$(date +%s)
echo "run_arm: cross build took $((built - start)) s"

# The tier each known CPU model must select.
expected_isa() {
    case $1 in cortex-a53) echo neon ;; cortex-a76) echo dotprod ;; max) echo i8mm ;; *) echo "" ;; esac
}

status=0
for cpu in $CPUS; do
    echo "run_arm: ===== QEMU_CPU=$cpu ====="
    t0=$(date +%s)
    selected=$(cd "$BUILD" && env -u EDGEQ_ISA QEMU_CPU=$cpu ctest -R '^test_isa_selected$' -V 2>&1 |
               sed -n 's/^[0-9]*: selected ISA: //p' || true)
    echo "run_arm: QEMU_CPU=$cpu selected ISA: ${selected:-none}"
    want=$(expected_isa "$cpu")
    if [ -n "$want" ] && [ "$selected" != "$want" ]; then
        echo "run_arm: FAILED: QEMU_CPU=$cpu selected '${selected}', expected '$want'"
        status=1
    fi
    # -V prints each test's lines: the CPU features qemu reports and the ISA tables exercised.
    if ! (cd "$BUILD" && QEMU_CPU=$cpu ctest -V --output-on-failure 2>&1 |
            grep -E "^[0-9]+: (cpu features|ISA |SKIP|FAIL|selected ISA|  .* -> |test_[a-z_]+: )|tests passed|tests failed|Failed|Passed|\*\*\*" ;
          exit "${PIPESTATUS[0]}"); then
        echo "run_arm: FAILED under QEMU_CPU=$cpu"
        status=1
    fi
    echo "run_arm: QEMU_CPU=$cpu took $(( $(date +%s) - t0 )) s"
done
echo "run_arm: total $(( $(date +%s) - start )) s"
exit $status
