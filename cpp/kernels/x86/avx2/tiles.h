// AVX2 helpers shared by the float and legacy matmul kernels, plus the ISA-neutral tile driver.
// Included only by files compiled with AVX2 flags.
#pragma once
#include <immintrin.h>

#include "kernels/kernels.h"
#include "kernels/tile_driver.h"

namespace edgeq::avx2 {

using tiles::for_each_tile;
using tiles::TileArgs;

// Sum of the 8 lanes of v.
inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

}  // namespace edgeq::avx2
