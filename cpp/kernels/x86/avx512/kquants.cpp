// AVX-512 VNNI K-quant kernels: Q4_K (q4k.cpp) and Q6_K (q6k.cpp) matmuls. Q8_K quantization and
// dequantization are inherited from the AVX2 table (memory-bound, nothing to gain).
#include "kernels/x86/avx512/kquants_avx512.h"

namespace edgeq::avx512 {

void register_kquants(KernelTable& t) {
    kq::register_q4_K(t);
    kq::register_q6_K(t);
}

}  // namespace edgeq::avx512
