#include "kernels/x86/avx2/avx2.h"

namespace edgeq {
void register_avx2(KernelTable& t) {
    avx2::register_float(t);
    avx2::register_legacy(t);
    avx2::register_interleaved(t);
    avx2::register_kquants(t);
    avx2::register_ternary(t);
    avx2::register_ternary_lut(t);
    avx2::register_fp4(t);
    avx2::register_binary(t);
}
}  // namespace edgeq
