// AVX-512 ACT_I8_TOKEN quantization (bitnet.cpp's quantize_row_i8_s; layout in kernels.h), byte
// for byte the reference's: max|x| is exact in any order, the scale is the same scalar double
// expression, x * s is one float multiply, cvtps rounds half to even (the default MXCSR mode, as
// nearbyint) and vpmovsdb saturates to [-128, 127].
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/x86/avx512/avx512.h"

// GCC 12 reports the _mm512_undefined_* inside its own AVX-512 headers as uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace edgeq::avx512 {

void quantize_row_i8_token(const float* x, void* xq, int n) {
    uint8_t* out = (uint8_t*)xq;
    __m512 vmax = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
    const float amax = _mm512_reduce_max_ps(vmax);
    const float s = (float)(127.0 / std::max(1e-5, (double)amax));

    const __m512 vs = _mm512_set1_ps(s);
    const __m512i lo = _mm512_set1_epi32(-128), hi = _mm512_set1_epi32(127);
    for (int b = 0; b < n / QK_K; b++) {
        __m512i sum = _mm512_setzero_si512();
        for (int i = b * QK_K; i < (b + 1) * QK_K; i += 16) {
            const __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i), vs));
            _mm_storeu_si128((__m128i*)(out + i), _mm512_cvtsepi32_epi8(q));
            sum = _mm512_add_epi32(sum, _mm512_min_epi32(_mm512_max_epi32(q, lo), hi));  // the stored value
        }
        const int32_t bsum = _mm512_reduce_add_epi32(sum);
        std::memcpy(out + i8_token_bsum_offset(n) + 4 * b, &bsum, 4);
    }
    std::memcpy(out + i8_token_scale_offset(n), &s, 4);
    const size_t used = i8_token_bsum_offset(n) + 4 * (size_t)(n / QK_K);
    std::memset(out + used, 0, act_row_bytes(ACT_I8_TOKEN, n) - used);
}

}  // namespace edgeq::avx512
