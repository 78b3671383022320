// AVX2 + FMA + F16C kernels (compiled with only those flags; see CMakeLists.txt).
#pragma once
#include "kernels/kernels.h"

namespace edgeq::avx2 {
void register_float(KernelTable& t);
void register_legacy(KernelTable& t);
void register_interleaved(KernelTable& t);  // x16 layouts of Q4_0 / Q4_1 / Q5_0 / Q8_0 (kernels/interleave.h)
void register_kquants(KernelTable& t);
void register_ternary(KernelTable& t);
void register_ternary_lut(KernelTable& t);  // EDGEQ_TL2, ACT_I8_LUT3
void register_fp4(KernelTable& t);
void register_binary(KernelTable& t);  // Q1_0 matmul, ACT_Q8_PLANES quantizer
}  // namespace edgeq::avx2
