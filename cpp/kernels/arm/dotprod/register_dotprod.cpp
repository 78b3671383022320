#include "kernels/arm/dotprod/dotprod.h"

namespace edgeq {
void register_dotprod(KernelTable& t) {
    dotprod::register_legacy(t);
    dotprod::register_kquants(t);
    dotprod::register_ternary(t);
}
}  // namespace edgeq
