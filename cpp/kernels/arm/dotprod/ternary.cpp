// Dotprod ternary kernels: TQ2_0 and TQ1_0 weights with ACT_I8_TOKEN activations (the quantizer
// is the neon tier's), bit-exact with cpp/kernels/ref/ternary.cpp. The kernel is the shared ARM
// one (kernels/arm/ternary_tiles.h) with SDOT products (Dot in dotprod.h).
#include "kernels/arm/dotprod/dotprod.h"
#include "kernels/arm/ternary_tiles.h"

namespace edgeq::dotprod {

void register_ternary(KernelTable& t) {
    t.matmul[GGML_TQ2_0] = {ACT_I8_TOKEN, ternary::matmul<arm::TernaryKernel<arm::TQ2, Dot>>};
    t.matmul[GGML_TQ1_0] = {ACT_I8_TOKEN, ternary::matmul<arm::TernaryKernel<arm::TQ1, Dot>>};
}

}  // namespace edgeq::dotprod
