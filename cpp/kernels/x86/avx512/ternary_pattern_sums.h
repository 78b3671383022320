// The 14 pattern sums of ternary triples (kernels/ternary_lut.h: v(i) = pattern(i) . (q0, q1, q2))
// as int16 lanes, two triples per 512-bit vector: shared by the TL2 and TL2D activation-table
// builders. Internal linkage on purpose: the TL2D file is compiled with AVX-512 VBMI on top of
// the avx512 tier's flags, and its copies must never stand in for the tier's own.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/ternary_lut.h"

namespace edgeq::avx512 {
namespace {

constexpr int16_t c16(int i, int k) { return (int16_t)(i % 16 < tl::kPatterns ? tl::pattern_coef(i % 16, k) : 0); }
template <int k>
inline __m512i coef() {  // coefficient k of the 16 patterns, twice
    return _mm512_set_epi16(c16(31, k), c16(30, k), c16(29, k), c16(28, k), c16(27, k), c16(26, k), c16(25, k),
                            c16(24, k), c16(23, k), c16(22, k), c16(21, k), c16(20, k), c16(19, k), c16(18, k),
                            c16(17, k), c16(16, k), c16(15, k), c16(14, k), c16(13, k), c16(12, k), c16(11, k),
                            c16(10, k), c16(9, k), c16(8, k), c16(7, k), c16(6, k), c16(5, k), c16(4, k), c16(3, k),
                            c16(2, k), c16(1, k), c16(0, k));
}

// Word w0 of q16 in the lower 256 bits, w1 in the upper (word index 8 reads zero).
constexpr int16_t word_sel(int w) { return w < 8 ? (int16_t)(((2 * w + 1) << 8) | (2 * w)) : (int16_t)0x8080; }
inline __m512i words(__m512i q16, int w0, int w1) {
    const __m512i sel = _mm512_inserti64x4(_mm512_set1_epi16(word_sel(w0)), _mm256_set1_epi16(word_sel(w1)), 1);
    return _mm512_shuffle_epi8(q16, sel);
}

// Pattern sums of two triples (words a0 b0 c0 and a1 b1 c1 of q16): lanes 0..15 the first
// triple's v(0..15), lanes 16..31 the second's (v = 0 for i >= 14).
template <int a0, int b0, int c0, int a1, int b1, int c1>
inline __m512i pattern_sums2(__m512i q16) {
    return _mm512_add_epi16(_mm512_add_epi16(_mm512_mullo_epi16(words(q16, a0, a1), coef<0>()),
                                             _mm512_mullo_epi16(words(q16, b0, b1), coef<1>())),
                            _mm512_mullo_epi16(words(q16, c0, c1), coef<2>()));
}

// n int8 activations at p (n = 4 or 8) -> int16 words 0..n-1 of every 128-bit lane.
inline __m512i load_i16(const int8_t* p, int n) {
    int64_t v = 0;
    std::memcpy(&v, p, n);
    return _mm512_broadcast_i32x4(_mm_cvtepi8_epi16(_mm_cvtsi64_si128(v)));
}

}  // namespace
}  // namespace edgeq::avx512
