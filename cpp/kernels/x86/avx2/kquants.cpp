// AVX2 K-quant kernels: Q4_K (q4k.cpp) and Q6_K (q6k.cpp) weights with Q8_K activations (q8k.cpp).
#include "kernels/x86/avx2/kquants_avx2.h"

namespace edgeq::avx2 {

void register_kquants(KernelTable& t) {
    t.quantize_act[ACT_Q8_K] = kq::quantize_row_q8_K;
    kq::register_q4_K(t);
    kq::register_q6_K(t);
}

}  // namespace edgeq::avx2
