// Q8_K activations on AVX2: quantization (bit-identical to ref::quantize_row_q8_K) and the
// packed layout the prompt GEMM reads (kquants_avx2.h).
#include <cstring>

#include "kernels/x86/avx2/kquants_avx2.h"

namespace edgeq::avx2::kq {

// x (n) -> n / 256 block_q8_K. Per block: max = the first x with the largest |x|,
// iscale = -127 / max, q = round_half_even(iscale * x) (|.| <= 127, so the int16 / int8 packs'
// saturation never triggers: it is the reference's min(127, .)), d = 1 / iscale.
void quantize_row_q8_K(const float* x, void* xq, int n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i bias = _mm256_set1_epi8((char)0x80);
    block_q8_K* out = (block_q8_K*)xq;
    for (int i = 0; i < n / QK_K; i++) {
        const float* xb = x + i * QK_K;
        block_q8_K& b = out[i];
        __m256 vmax = _mm256_setzero_ps();
        for (int k = 0; k < QK_K; k += 8) vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign, _mm256_loadu_ps(xb + k)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        if (amax == 0.0f) {
            std::memset(&b, 0, sizeof(b));
            continue;
        }
        // First index whose |x| equals amax: its sign decides the sign of d, as in the reference.
        const __m256 vamax = _mm256_set1_ps(amax);
        int first = 0;
        for (int k = 0; k < QK_K; k += 8) {
            const int hit = _mm256_movemask_ps(
                _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(xb + k)), vamax, _CMP_EQ_OQ));
            if (hit) { first = k + __builtin_ctz(hit); break; }
        }
        const float iscale = -127.0f / xb[first];
        const __m256 vis = _mm256_set1_ps(iscale);
        for (int k = 0; k < QK_K; k += 32) {
            __m256i v[4];
            for (int u = 0; u < 4; u++)
                v[u] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(vis, _mm256_loadu_ps(xb + k + 8 * u)),
                                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            // packs interleave 128-bit halves: dwords come out as values 0-3, 8-11, 16-19, 24-27, 4-7, ...
            const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
            const __m256i q = _mm256_permutevar8x32_epi32(p, order);
            _mm256_storeu_si256((__m256i*)(b.qs + k), q);
            // Sums of 8 bytes: sad of (q + 128) against 0, minus 8 * 128; two of them per bsum.
            const __m256i s8 = _mm256_sad_epu8(_mm256_xor_si256(q, bias), _mm256_setzero_si256());
            alignas(32) uint64_t s[4];
            _mm256_store_si256((__m256i*)s, s8);
            b.bsums[k / 16] = (int16_t)((int)(s[0] + s[1]) - 16 * 128);
            b.bsums[k / 16 + 1] = (int16_t)((int)(s[2] + s[3]) - 16 * 128);
        }
        b.d = 1.0f / iscale;
    }
}

void pack_q8K(const void* Xq, size_t x_row_bytes, int n_tok, int t0, int nb, Q8KPack* out) {
    for (int b = 0; b < nb; b++) {
        Q8KPack& p = out[b];
        for (int t = 0; t < kTileTok; t++) {
            const int tok = t0 + t;
            if (tok < n_tok) {
                const block_q8_K& x = ((const block_q8_K*)((const uint8_t*)Xq + (size_t)tok * x_row_bytes))[b];
                for (int j = 0; j < 8; j++)
                    _mm256_store_si256((__m256i*)p.qs[j][t], _mm256_loadu_si256((const __m256i*)(x.qs + 32 * j)));
                p.d[t] = p.d[kTileTok + t] = x.d;
                for (int j = 0; j < 8; j++)
                    p.bs32[j][t] = p.bs32[j][kTileTok + t] = (float)(x.bsums[2 * j] + x.bsums[2 * j + 1]);
                std::memcpy(p.bs16[t], x.bsums, sizeof(p.bs16[t]));
            } else {
                for (int j = 0; j < 8; j++) _mm256_store_si256((__m256i*)p.qs[j][t], _mm256_setzero_si256());
                p.d[t] = p.d[kTileTok + t] = 0.0f;
                for (int j = 0; j < 8; j++) p.bs32[j][t] = p.bs32[j][kTileTok + t] = 0.0f;
                std::memset(p.bs16[t], 0, sizeof(p.bs16[t]));
            }
        }
    }
}

}  // namespace edgeq::avx2::kq
