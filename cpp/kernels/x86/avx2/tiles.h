// AVX2 helpers shared by the float, legacy and FP4 matmul kernels, plus the ISA-neutral tile driver.
// Included only by files compiled with AVX2 flags.
#pragma once
#include <immintrin.h>

#include <cstring>

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

// Q5's qh (bit j = bit 4 of element j) -> 32 bytes, byte j = 0x10 if bit j is set. The shuffle
// copies qh byte k to bytes 8k..8k+7 (it works within 128-bit lanes, and every 32-bit word of
// the source is qh), the AND keeps bit (j mod 8) of byte j, the compare widens it to 0xFF.
inline __m256i q5_high_bits(const uint8_t* qh) {
    uint32_t h;
    std::memcpy(&h, qh, 4);
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)h),
                                               _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0202020202020202LL,
                                                                  0x0303030303030303LL));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
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
