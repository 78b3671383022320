// Q4_K weights x Q8_K activations on AVX-512 VNNI: decode GEMV and prompt GEMM (dequantization
// stays AVX2's). Math and layout: ref/kquants.cpp; integer core: kquants_avx512.h.
// One zmm holds the 64 codes of qs[32 v .. 32 v + 31] in value order: low nibbles (sub-block 2 v)
// then high nibbles (sub-block 2 v + 1).
#include "kernels/x86/avx2/q4k_scales.h"
#include "kernels/x86/avx512/kquants_avx512.h"

namespace edgeq::avx512::kq {

namespace {

// Codes of values 64 v .. 64 v + 63.
inline __m512i codes(const block_q4_K& b, int v) {
    const __m256i y = _mm256_loadu_si256((const __m256i*)(b.qs + 32 * v));
    const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(y), _mm256_srli_epi16(y, 4), 1);
    return _mm512_and_si512(z, _mm512_set1_epi8(0x0F));
}

// int16 permutation indices: lanes 0-15 take scale 2 v, lanes 16-31 take scale 2 v + 1.
alignas(64) const int16_t kScaleIdx[4][32] = {
#define I(v) {2 * v, 2 * v, 2 * v, 2 * v, 2 * v, 2 * v, 2 * v, 2 * v, 2 * v, 2 * v, 2 * v, 2 * v, 2 * v, 2 * v, 2 * v, \
              2 * v, 2 * v + 1, 2 * v + 1, 2 * v + 1, 2 * v + 1, 2 * v + 1, 2 * v + 1, 2 * v + 1, 2 * v + 1, 2 * v + 1, \
              2 * v + 1, 2 * v + 1, 2 * v + 1, 2 * v + 1, 2 * v + 1, 2 * v + 1, 2 * v + 1}
    I(0), I(1), I(2), I(3)
#undef I
};
// sc16: int16 sc[0..7] in lanes 0..7.
inline __m512i part_scale(__m512i sc16, int v) {
    return _mm512_permutexvar_epi16(_mm512_load_si512((const void*)kScaleIdx[v]), sc16);
}

// ---- Decode GEMV ---------------------------------------------------------------------------------
float dot_row(const block_q4_K* w, const block_q8_K* x, int nb) {
    __m512 acc = _mm512_setzero_ps();
    __m128 acc_min = _mm_setzero_ps();
    for (int i = 0; i < nb; i++) {
        const __m128i sm = q4_K_scales_mins(w[i]);
        const __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i*)x[i].bsums),
                                          _mm_loadu_si128((const __m128i*)(x[i].bsums + 8)));
        const __m128i pm = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_srli_si128(sm, 8)), bs);
        acc_min = _mm_fmadd_ps(_mm_set1_ps(fp16(w[i].dmin) * x[i].d), _mm_cvtepi32_ps(pm), acc_min);

        const __m512i sc16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(sm));
        __m512i isum = _mm512_setzero_si512();
        for (int v = 0; v < 4; v++) {
            const __m512i p = _mm512_maddubs_epi16(codes(w[i], v), _mm512_loadu_si512((const void*)(x[i].qs + 64 * v)));
            isum = _mm512_dpwssd_epi32(isum, p, part_scale(sc16, v));
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(fp16(w[i].d) * x[i].d), _mm512_cvtepi32_ps(isum), acc);
    }
    const __m128 m2 = _mm_add_ps(acc_min, _mm_movehl_ps(acc_min, acc_min));
    return _mm512_reduce_add_ps(acc) - _mm_cvtss_f32(_mm_add_ss(m2, _mm_movehdup_ps(m2)));
}

// ---- Prompt GEMM ---------------------------------------------------------------------------------
struct Q4KTraits {
    using Block = block_q4_K;
    struct Tile {
        __m512i q[kTileRows][4];   // [row slot][part v]: codes of values 64 v ..
        __m512i sc[kTileRows][4];  // [row slot][v]: int16 sc[2 v] (lanes 0-15), sc[2 v + 1] (16-31)
        __m512 mins[8];            // [j]: lane 4 t + s = m[j] of row slot s
        __m512 d, dmin;            // lane 4 t + s = d, dmin of row slot s
    };

    static void unpack(const block_q4_K* const rows[kTileRows], Tile& T) {
        alignas(64) float m[kTileRows * 8];  // [s][j]
        for (int s = 0; s < kTileRows; s++) {
            const __m128i sm = q4_K_scales_mins(*rows[s]);
            const __m512i sc16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(sm));
            for (int v = 0; v < 4; v++) {
                T.q[s][v] = codes(*rows[s], v);
                T.sc[s][v] = part_scale(sc16, v);
            }
            _mm256_store_ps(m + 8 * s, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(sm, 8))));
        }
        const __m512 m_lo = _mm512_load_ps(m), m_hi = _mm512_load_ps(m + 16);
        for (int j = 0; j < 8; j++)  // lane L -> m[L % 4][j] = element 8 (L % 4) + j of m_lo:m_hi
            T.mins[j] = _mm512_permutex2var_ps(m_lo, _mm512_setr_epi32(j, 8 + j, 16 + j, 24 + j, j, 8 + j, 16 + j, 24 + j,
                                                                        j, 8 + j, 16 + j, 24 + j, j, 8 + j, 16 + j, 24 + j),
                                               m_hi);
        T.d = _mm512_setr4_ps(fp16(rows[0]->d), fp16(rows[1]->d), fp16(rows[2]->d), fp16(rows[3]->d));
        T.dmin = _mm512_setr4_ps(fp16(rows[0]->dmin), fp16(rows[1]->dmin), fp16(rows[2]->dmin), fp16(rows[3]->dmin));
    }

    // acc (lane 4 t + s) += (d_s d_t) isum[s][t] - (dmin_s d_t) imin[s][t]
    static __m512 dot(const Tile& T, const Q8KPack& x, __m512 acc) {
        __m512i isum[16];
        for (int k = 0; k < 16; k++) isum[k] = _mm512_setzero_si512();
        tile_isum(T.q, T.sc, x, isum);
        // imin <= 8 * 63 * 4064 < 2^24: exact in float.
        __m512 imin0 = _mm512_mul_ps(T.mins[0], _mm512_load_ps(x.bs32[0]));
        __m512 imin1 = _mm512_mul_ps(T.mins[1], _mm512_load_ps(x.bs32[1]));
        for (int j = 2; j < 8; j += 2) {
            imin0 = _mm512_fmadd_ps(T.mins[j], _mm512_load_ps(x.bs32[j]), imin0);
            imin1 = _mm512_fmadd_ps(T.mins[j + 1], _mm512_load_ps(x.bs32[j + 1]), imin1);
        }
        const __m512 dx = _mm512_load_ps(x.d);
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(reduce16_epi32(isum)), _mm512_mul_ps(T.d, dx), acc);
        return _mm512_fnmadd_ps(_mm512_add_ps(imin0, imin1), _mm512_mul_ps(T.dmin, dx), acc);
    }
};

void matmul_q4_K(const void* W, size_t w_row_bytes, const void* Xq, size_t x_row_bytes, float* Y, size_t ldy,
                 int n_in, int n_tok, int row0, int row1) {
    if (n_tok > 1) {
        gemm_q8K<Q4KTraits>(W, w_row_bytes, Xq, x_row_bytes, Y, ldy, n_in, n_tok, row0, row1);
        return;
    }
    const int nb = n_in / QK_K;
    for (int r = row0; r < row1; r++)
        Y[r] = dot_row((const block_q4_K*)((const uint8_t*)W + (size_t)r * w_row_bytes), (const block_q8_K*)Xq, nb);
}

}  // namespace

void register_q4_K(KernelTable& t) { t.matmul[GGML_Q4_K] = {ACT_Q8_K, matmul_q4_K}; }

}  // namespace edgeq::avx512::kq
