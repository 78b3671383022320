#include "kernels/arm/neon/neon.h"

namespace edgeq {
void register_neon(KernelTable& t) {
    neon::register_float(t);
    neon::register_legacy(t);
    neon::register_kquants(t);
    neon::register_ternary(t);
    neon::register_ternary_lut(t);
    neon::register_binary(t);
}
}  // namespace edgeq
