# Cross build for aarch64 Linux on an x86-64 Debian host (tests/run_arm.sh uses it):
#   apt-get install g++-aarch64-linux-gnu qemu-user
#   cmake -S . -B build-arm -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DEDGEQ_PYTHON=OFF -DEDGEQ_BUILD_TESTS=ON
# ctest then runs every test binary under qemu-aarch64 (CMAKE_CROSSCOMPILING_EMULATOR); the
# emulated CPU model comes from the QEMU_CPU environment variable (e.g. cortex-a53, cortex-a76, max).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(EDGEQ_CROSS_PREFIX aarch64-linux-gnu-)
set(CMAKE_C_COMPILER ${EDGEQ_CROSS_PREFIX}gcc)
set(CMAKE_CXX_COMPILER ${EDGEQ_CROSS_PREFIX}g++)

# The target's libraries and headers (Debian's cross packages install them here).
set(EDGEQ_CROSS_SYSROOT /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH ${EDGEQ_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# -L: where qemu-user finds the aarch64 dynamic loader and libc / libstdc++.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;${EDGEQ_CROSS_SYSROOT})
