// AVX-512 (F/BW/VL/DQ + VNNI) kernels, compiled with only the AVX-512 flags (see CMakeLists.txt).
// dispatch.cpp overlays these onto the AVX2 table, so a family registers only what it speeds up.
#pragma once
#include "kernels/kernels.h"

namespace edgeq::avx512 {
void register_float(KernelTable& t);   // F32 / F16 / BF16 matmul, dot_f32, axpy_f32
void register_legacy(KernelTable& t);  // Q4_0 / Q4_1 / Q8_0 matmul (VNNI)
}  // namespace edgeq::avx512
