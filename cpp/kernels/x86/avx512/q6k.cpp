// Q6_K weights x Q8_K activations on AVX-512 VNNI: decode GEMV and prompt GEMM (dequantization
// stays AVX2's). Math and layout: ref/kquants.cpp; the -32 offset enters through bsums as in
// avx2/q6k.cpp; integer core: kquants_avx512.h.
#include "kernels/x86/avx512/kquants_avx512.h"

namespace edgeq::avx512::kq {

namespace {

// Codes of values 64 v .. 64 v + 63 (half h = v / 2 of the block). Low 4 bits: ql[64 h ..] as one
// zmm, low nibbles for even v, high for odd v. High 2 bits: qh[32 h ..] in both 256-bit halves,
// shifted per half so that bits (2 u, 2 u + 1) land on bits 4-5 for the 32-value chunk u.
inline __m512i codes(const block_q6_K& b, int v) {
    const int h = v / 2;
    const __m512i l = _mm512_loadu_si512((const void*)(b.ql + 64 * h));
    const __m512i hb = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i*)(b.qh + 32 * h)));
    const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(0x30);
    const __m512i two = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);  // [0 | 2]
    if (v % 2 == 0)  // chunks u = 0, 1: (qh << 4), (qh << 2)
        return _mm512_or_si512(_mm512_and_si512(l, m4),
                               _mm512_and_si512(_mm512_sllv_epi16(hb, _mm512_sub_epi16(_mm512_set1_epi16(4), two)), m2));
    // chunks u = 2, 3: qh, (qh >> 2)
    return _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                           _mm512_and_si512(_mm512_srlv_epi16(hb, two), m2));
}

// int16 permutation indices: lane i of part v takes scale 4 v + i / 8 (sub-blocks of 16 values).
alignas(64) const int16_t kScaleIdx[4][32] = {
#define I(v) {4 * v, 4 * v, 4 * v, 4 * v, 4 * v, 4 * v, 4 * v, 4 * v, 4 * v + 1, 4 * v + 1, 4 * v + 1, 4 * v + 1, \
              4 * v + 1, 4 * v + 1, 4 * v + 1, 4 * v + 1, 4 * v + 2, 4 * v + 2, 4 * v + 2, 4 * v + 2, 4 * v + 2,     \
              4 * v + 2, 4 * v + 2, 4 * v + 2, 4 * v + 3, 4 * v + 3, 4 * v + 3, 4 * v + 3, 4 * v + 3, 4 * v + 3,     \
              4 * v + 3, 4 * v + 3}
    I(0), I(1), I(2), I(3)
#undef I
};

inline __m256i scales16(const block_q6_K& b) { return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)b.scales)); }
inline __m512i part_scale(__m256i sc16, int v) {
    return _mm512_permutexvar_epi16(_mm512_load_si512((const void*)kScaleIdx[v]), _mm512_castsi256_si512(sc16));
}
// -32 * sc[0..15] (|.| <= 4096).
inline __m256i neg32(__m256i sc16) { return _mm256_slli_epi16(_mm256_sub_epi16(_mm256_setzero_si256(), sc16), 5); }

// ---- Decode GEMV ---------------------------------------------------------------------------------
float dot_row(const block_q6_K* w, const block_q8_K* x, int nb) {
    __m512 acc = _mm512_setzero_ps();
    for (int i = 0; i < nb; i++) {
        const __m256i sc16 = scales16(w[i]);
        __m512i isum =
            _mm512_zextsi256_si512(_mm256_madd_epi16(neg32(sc16), _mm256_loadu_si256((const __m256i*)x[i].bsums)));
        for (int v = 0; v < 4; v++) {
            const __m512i p = _mm512_maddubs_epi16(codes(w[i], v), _mm512_loadu_si512((const void*)(x[i].qs + 64 * v)));
            isum = _mm512_dpwssd_epi32(isum, p, part_scale(sc16, v));
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(fp16(w[i].d) * x[i].d), _mm512_cvtepi32_ps(isum), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

// ---- Prompt GEMM ---------------------------------------------------------------------------------
struct Q6KTraits {
    using Block = block_q6_K;
    struct Tile {
        __m512i q[kTileRows][4];    // [row slot][part v]: codes of values 64 v ..
        __m512i sc[kTileRows][4];   // [row slot][v]: int16 scale of each lane's sub-block
        __m256i neg32[kTileRows];   // [row slot]: -32 sc[0..15]
        __m512 d;                   // lane 4 t + s = d of row slot s
    };

    static void unpack(const block_q6_K* const rows[kTileRows], Tile& T) {
        for (int s = 0; s < kTileRows; s++) {
            const __m256i sc16 = scales16(*rows[s]);
            for (int v = 0; v < 4; v++) {
                T.q[s][v] = codes(*rows[s], v);
                T.sc[s][v] = part_scale(sc16, v);
            }
            T.neg32[s] = neg32(sc16);
        }
        T.d = _mm512_setr4_ps(fp16(rows[0]->d), fp16(rows[1]->d), fp16(rows[2]->d), fp16(rows[3]->d));
    }

    // acc (lane 4 t + s) += (d_s d_t) isum[s][t]
    static __m512 dot(const Tile& T, const Q8KPack& x, __m512 acc) {
        __m512i isum[16];
        for (int s = 0; s < kTileRows; s++)
            for (int t = 0; t < kTileTok; t++)
                isum[4 * s + t] = _mm512_zextsi256_si512(
                    _mm256_madd_epi16(T.neg32[s], _mm256_load_si256((const __m256i*)x.bs16[t])));
        tile_isum(T.q, T.sc, x, isum);
        return _mm512_fmadd_ps(_mm512_cvtepi32_ps(reduce16_epi32(isum)), _mm512_mul_ps(T.d, _mm512_load_ps(x.d)), acc);
    }
};

void matmul_q6_K(const void* W, size_t w_row_bytes, const void* Xq, size_t x_row_bytes, float* Y, size_t ldy,
                 int n_in, int n_tok, int row0, int row1) {
    if (n_tok > 1) {
        gemm_q8K<Q6KTraits>(W, w_row_bytes, Xq, x_row_bytes, Y, ldy, n_in, n_tok, row0, row1);
        return;
    }
    const int nb = n_in / QK_K;
    for (int r = row0; r < row1; r++)
        Y[r] = dot_row((const block_q6_K*)((const uint8_t*)W + (size_t)r * w_row_bytes), (const block_q8_K*)Xq, nb);
}

}  // namespace

void register_q6_K(KernelTable& t) { t.matmul[GGML_Q6_K] = {ACT_Q8_K, matmul_q6_K}; }

}  // namespace edgeq::avx512::kq
