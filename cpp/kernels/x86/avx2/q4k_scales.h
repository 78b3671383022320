// Q4_K's 12 packed scale bytes -> sc[0..7], m[0..7] as 16 bytes, for the AVX2 and AVX-512 files
// (both compile with -mavx2; `static` so that each ISA's object file keeps its own copy).
//   j < 4:  sc = s[j] & 63,                               m = s[j + 4] & 63
//   j >= 4: sc = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4,  m = (s[j + 4] >> 4) | (s[j] >> 6) << 4
// Word-parallel with w[k] = bytes 4k .. 4k + 3:
//   sc[0..3] = w0 & 0x3f..,  sc[4..7] = (w2 & 0x0f..) | ((w0 >> 2) & 0x30..)
//   m[0..3]  = w1 & 0x3f..,  m[4..7]  = ((w2 >> 4) & 0x0f..) | ((w1 >> 2) & 0x30..)
// ((w >> 2) & 0x30.. moves bits 6-7 of each byte to bits 4-5 of the same byte.)
#pragma once
#include <immintrin.h>

#include "edgeq/quant_types.h"

namespace edgeq {

// Reads 16 bytes from b.scales (the 12 scale bytes and 4 bytes of qs, inside the block).
static inline __m128i q4_K_scales_mins(const block_q4_K& b) {
    const __m128i w = _mm_loadu_si128((const __m128i*)b.scales);             // [w0, w1, w2, -]
    const __m128i a = _mm_shuffle_epi32(w, _MM_SHUFFLE(2, 1, 2, 0));         // [w0, w2, w1, w2]
    const __m128i hi2 = _mm_srli_epi32(_mm_shuffle_epi32(w, _MM_SHUFFLE(1, 1, 0, 0)), 2);  // [w0, w0, w1, w1] >> 2
    const __m128i low = _mm_and_si128(_mm_srlv_epi32(a, _mm_setr_epi32(0, 0, 0, 4)),
                                      _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    return _mm_or_si128(low, _mm_and_si128(hi2, _mm_setr_epi32(0, 0x30303030, 0, 0x30303030)));
}

}  // namespace edgeq
