// AVX-512 (F/BW/VL/DQ/VNNI/...) kernels, compiled with only those flags (see CMakeLists.txt).
// The table starts from the AVX2 one (dispatch.cpp), so each family overlays only what it speeds up.
#pragma once
#include "kernels/kernels.h"

namespace edgeq::avx512 {
void register_float(KernelTable& t);    // F32 / F16 / BF16 matmul, dot_f32, axpy_f32
void register_legacy(KernelTable& t);   // Q4_0 / Q4_1 / Q8_0 matmul (VNNI)
void register_interleaved(KernelTable& t);  // their x16 layouts (kernels/interleave.h)
void register_kquants(KernelTable& t);
void register_ternary(KernelTable& t);
void register_ternary_lut(KernelTable& t);  // EDGEQ_TL2, ACT_I8_LUT3
void register_ternary_lut_dword(KernelTable& t);  // EDGEQ_TL2D, ACT_I8_LUT3S; needs AVX512_VBMI (checked by the caller)
void register_binary(KernelTable& t);   // Q1_0 matmul; needs AVX512_BITALG + VPOPCNTDQ (checked by the caller)
}  // namespace edgeq::avx512
