// AVX2 helpers shared by the float, legacy and FP4 matmul kernels, plus the ISA-neutral tile driver.
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

// 16 bytes of nibbles -> 32 bytes: lanes 0..15 the low nibbles, 16..31 the high ones.
inline __m256i unpack_nibbles(const uint8_t* qs) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(v, 4), v);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// 16 int16 pair sums -> 8 int32 -> float
inline __m256 pairs_to_float(__m256i p16) {
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

inline __m256i load32(const int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

}  // namespace edgeq::avx2
