#include "kernels/x86/avx512/avx512.h"

namespace edgeq {
void register_avx512(KernelTable& t) {
    avx512::register_float(t);
    avx512::register_legacy(t);
    avx512::register_kquants(t);
    avx512::register_ternary(t);
    avx512::register_ternary_lut(t);
}
}  // namespace edgeq
