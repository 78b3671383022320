#include "kernels/arm/i8mm/i8mm.h"

namespace edgeq {
void register_i8mm(KernelTable& t) {
    i8mm::register_legacy(t);
    i8mm::register_ternary(t);
}
}  // namespace edgeq
