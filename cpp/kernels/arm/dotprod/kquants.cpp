// Dotprod matmuls of the K-quants (Q4_K, Q6_K with Q8_K): kernels/arm/kquants_tiles.h with SDOT.
// The Q8_K quantizer and the dequantizers are the neon tier's.
#include "kernels/arm/dotprod/dotprod.h"
#include "kernels/arm/kquants_tiles.h"

namespace edgeq::dotprod {

void register_kquants(KernelTable& t) { arm::register_kquant_matmuls<Dot>(t); }

}  // namespace edgeq::dotprod
