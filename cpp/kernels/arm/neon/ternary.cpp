// NEON ternary kernels: TQ2_0 and TQ1_0 weights with ACT_I8_TOKEN activations (quantizer in
// ternary_act.cpp), bit-exact with cpp/kernels/ref/ternary.cpp. The kernel is the shared ARM one
// (kernels/arm/ternary_tiles.h) with SMLAL int16 products (Dot in neon.h).
#include "kernels/arm/neon/neon.h"
#include "kernels/arm/ternary_tiles.h"

namespace edgeq::neon {

void quantize_row_i8_token(const float* x, void* xq, int n);  // ternary_act.cpp

void register_ternary(KernelTable& t) {
    t.quantize_act[ACT_I8_TOKEN] = quantize_row_i8_token;
    t.matmul[GGML_TQ2_0] = {ACT_I8_TOKEN, ternary::matmul<arm::TernaryKernel<arm::TQ2, Dot>>};
    t.matmul[GGML_TQ1_0] = {ACT_I8_TOKEN, ternary::matmul<arm::TernaryKernel<arm::TQ1, Dot>>};
}

}  // namespace edgeq::neon
