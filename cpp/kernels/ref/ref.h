// Scalar reference kernels: the specification of every format and op. Plain loops, the math in
// comments; SIMD code elsewhere is tested against these.
#pragma once
#include "kernels/kernels.h"

namespace edgeq::ref {
void register_float(KernelTable& t);    // F32, F16, BF16 weights; f32 activations; dot/axpy
void register_legacy(KernelTable& t);   // Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 weights; Q8_0 / Q8_1 activations
void register_kquants(KernelTable& t);  // Q4_K, Q6_K weights; Q8_K activations
void register_ternary(KernelTable& t);  // TQ2_0, TQ1_0 weights; ACT_I8_TOKEN activations
void register_ternary_lut(KernelTable& t);  // EDGEQ_TL2 weights; ACT_I8_LUT3 activations
void register_ternary_lut_dword(KernelTable& t);  // EDGEQ_TL2D weights; ACT_I8_LUT3S activations
// ACT_I8_TOKEN quantization (also the first part of ACT_I8_LUT3).
void quantize_row_i8_token(const float* x, void* xq, int n);
void register_fp4(KernelTable& t);      // MXFP4, NVFP4 weights; Q8_0 activations; their quantizers
void register_binary(KernelTable& t);   // Q1_0 weights; ACT_Q8_PLANES activations
}  // namespace edgeq::ref
