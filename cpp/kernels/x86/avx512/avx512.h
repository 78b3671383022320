// AVX-512 (F/BW/VL/DQ/VNNI/...) kernels, compiled with only those flags (see CMakeLists.txt).
// The table starts from the AVX2 one (dispatch.cpp), so each family overlays only what it speeds up.
#pragma once
#include "kernels/kernels.h"

namespace edgeq::avx512 {
void register_kquants(KernelTable& t);
}  // namespace edgeq::avx512
