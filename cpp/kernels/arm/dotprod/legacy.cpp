// Dotprod matmuls of the legacy block types (Q4_0, Q4_1, Q8_0): kernels/arm/legacy_tiles.h with
// SDOT. Quantizers and dequantizers are the neon tier's.
#include "kernels/arm/dotprod/dotprod.h"
#include "kernels/arm/legacy_tiles.h"

namespace edgeq::dotprod {

void register_legacy(KernelTable& t) { arm::register_legacy_matmuls<Dot>(t); }

}  // namespace edgeq::dotprod
