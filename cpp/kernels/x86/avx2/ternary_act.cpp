// AVX2 ACT_I8_TOKEN quantization (bitnet.cpp's quantize_row_i8_s; layout in kernels.h), byte for
// byte the reference's: max|x| is exact in any order, the scale is the same scalar double
// expression, x * s is one float multiply, cvtps rounds half to even (the default MXCSR mode, as
// nearbyint) and the two saturating packs clamp to [-128, 127].
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/x86/avx2/avx2.h"

namespace edgeq::avx2 {

void quantize_row_i8_token(const float* x, void* xq, int n) {
    uint8_t* out = (uint8_t*)xq;
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 vmax = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask));
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, vmax);
    float amax = 0.0f;
    for (float v : lanes) amax = std::max(amax, v);
    const float s = (float)(127.0 / std::max(1e-5, (double)amax));

    const __m256 vs = _mm256_set1_ps(s);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);  // undo the packs' 128-bit interleave
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    for (int b = 0; b < n / QK_K; b++) {
        __m256i sum = _mm256_setzero_si256();
        for (int i = b * QK_K; i < (b + 1) * QK_K; i += 32) {
            const __m256i a0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
            const __m256i a1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8), vs));
            const __m256i a2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 16), vs));
            const __m256i a3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 24), vs));
            const __m256i q = _mm256_permutevar8x32_epi32(
                _mm256_packs_epi16(_mm256_packs_epi32(a0, a1), _mm256_packs_epi32(a2, a3)), order);
            _mm256_storeu_si256((__m256i*)(out + i), q);
            sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q), ones16));
        }
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
        const int32_t bsum = _mm_cvtsi128_si32(s4);
        std::memcpy(out + i8_token_bsum_offset(n) + 4 * b, &bsum, 4);
    }
    std::memcpy(out + i8_token_scale_offset(n), &s, 4);
    const size_t used = i8_token_bsum_offset(n) + 4 * (size_t)(n / QK_K);
    std::memset(out + used, 0, act_row_bytes(ACT_I8_TOKEN, n) - used);
}

}  // namespace edgeq::avx2
