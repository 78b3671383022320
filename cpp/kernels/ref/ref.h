// Scalar reference kernels: the specification of every format and op. Plain loops, the math in
// comments; SIMD code elsewhere is tested against these.
#pragma once
#include "kernels/kernels.h"

namespace edgeq::ref {
void register_float(KernelTable& t);    // F32, F16, BF16 weights; f32 activations; dot/axpy
void register_legacy(KernelTable& t);   // Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 weights; Q8_0 / Q8_1 activations
void register_kquants(KernelTable& t);  // Q4_K, Q6_K weights; Q8_K activations
void register_ternary(KernelTable& t);  // TQ2_0, TQ1_0 weights; ACT_I8_TOKEN activations
}  // namespace edgeq::ref
