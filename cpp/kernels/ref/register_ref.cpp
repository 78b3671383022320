#include "kernels/ref/ref.h"

namespace edgeq {
void register_ref(KernelTable& t) {
    ref::register_float(t);
    ref::register_legacy(t);
    ref::register_kquants(t);
    ref::register_ternary(t);
    ref::register_ternary_lut(t);
    ref::register_ternary_lut_dword(t);
    ref::register_fp4(t);
    ref::register_binary(t);
}
}  // namespace edgeq
