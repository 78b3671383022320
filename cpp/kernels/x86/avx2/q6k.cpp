// Q6_K weights x Q8_K activations on AVX2: dequantization, the decode GEMV and the prompt GEMM.
// Math and block layout: ref/kquants.cpp. The 6-bit codes q (0..63) go into vpmaddubsw unsigned;
// the -32 offset is folded in exactly through the activations' bsums:
//   sum_s sc[s] sum_k (q - 32) q8 = sum_s sc[s] sum_k q q8 - 32 sum_s sc[s] bsums[s].
#include "kernels/x86/avx2/kquants_avx2.h"

namespace edgeq::avx2::kq {

namespace {

// Codes of half h (values 128 h .. 128 h + 127) as four 32-value chunks u (values 128 h + 32 u ..):
//   low 4 bits from ql[64 h + 32 (u & 1) ..] (low nibble for u < 2, high for u >= 2),
//   high 2 bits from qh[32 h ..] bits 2 u, 2 u + 1.
inline void codes(const block_q6_K& b, int h, __m256i q[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30);
    const __m256i l0 = _mm256_loadu_si256((const __m256i*)(b.ql + 64 * h));
    const __m256i l1 = _mm256_loadu_si256((const __m256i*)(b.ql + 64 * h + 32));
    const __m256i hb = _mm256_loadu_si256((const __m256i*)(b.qh + 32 * h));
    // (hb >> 2u & 3) << 4 as a 16-bit shift then mask 0x30: bits leaking across bytes are masked off.
    q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m2));
    q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m2));
    q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m2));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                           _mm256_and_si256(_mm256_srli_epi16(hb, 2), m2));
}

// Shuffle controls for chunk u of an 8-scale half: int16 element 2u to the low 128 bits, 2u + 1
// to the high 128 bits (a 32-value chunk covers two 16-value sub-blocks).
alignas(32) const uint8_t kPair16[4][32] = {
#define P16(u) {4 * u, 4 * u + 1, 4 * u, 4 * u + 1, 4 * u, 4 * u + 1, 4 * u, 4 * u + 1, 4 * u, 4 * u + 1, 4 * u, \
                4 * u + 1, 4 * u, 4 * u + 1, 4 * u, 4 * u + 1, 4 * u + 2, 4 * u + 3, 4 * u + 2, 4 * u + 3, 4 * u + 2, \
                4 * u + 3, 4 * u + 2, 4 * u + 3, 4 * u + 2, 4 * u + 3, 4 * u + 2, 4 * u + 3, 4 * u + 2, 4 * u + 3, \
                4 * u + 2, 4 * u + 3}
    P16(0), P16(1), P16(2), P16(3)
#undef P16
};

// int16 scale vectors of the 8 chunks: chunk j has sc[2 j] in its low half, sc[2 j + 1] in its high half.
inline void chunk_scales(const block_q6_K& b, __m256i sc[8]) {
    const __m128i s8 = _mm_loadu_si128((const __m128i*)b.scales);
    const __m256i lo = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(s8));                     // sc[0..7]
    const __m256i hi = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(_mm_srli_si128(s8, 8)));  // sc[8..15]
    for (int u = 0; u < 4; u++) {
        const __m256i ctl = _mm256_load_si256((const __m256i*)kPair16[u]);
        sc[u] = _mm256_shuffle_epi8(lo, ctl);
        sc[4 + u] = _mm256_shuffle_epi8(hi, ctl);
    }
}

// -32 * sc[0..15] as int16 (|.| <= 4096): madd with bsums gives the offset term.
inline __m256i neg32_scales(const block_q6_K& b) {
    return _mm256_slli_epi16(_mm256_sub_epi16(_mm256_setzero_si256(),
                                              _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)b.scales))),
                             5);
}

// ---- Dequantization: y = (d * sc[s]) * (q - 32), float32, bit-identical to the reference --------
void dequantize_row_q6_K(const void* w, float* y, int n) {
    const __m256i k32 = _mm256_set1_epi32(32);
    const block_q6_K* blocks = (const block_q6_K*)w;
    for (int i = 0; i < n / QK_K; i++) {
        const block_q6_K& b = blocks[i];
        const float d = fp16(b.d);
        alignas(32) uint8_t q[QK_K];
        for (int h = 0; h < 2; h++) {
            __m256i c[4];
            codes(b, h, c);
            for (int u = 0; u < 4; u++) _mm256_store_si256((__m256i*)(q + 128 * h + 32 * u), c[u]);
        }
        for (int k = 0; k < QK_K; k += 8) {
            const __m256 ds = _mm256_set1_ps(d * (float)b.scales[k / 16]);
            const __m256i v = _mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)(q + k))), k32);
            _mm256_storeu_ps(y + i * QK_K + k, _mm256_mul_ps(ds, _mm256_cvtepi32_ps(v)));
        }
    }
}

// ---- Decode GEMV: y[r] = W row r . x, weights streamed once ------------------------------------
float dot_row(const block_q6_K* w, const block_q8_K* x, int nb) {
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++) {
        __m256i sc[8];
        chunk_scales(w[i], sc);
        __m256i isum = _mm256_madd_epi16(neg32_scales(w[i]), _mm256_loadu_si256((const __m256i*)x[i].bsums));
        for (int h = 0; h < 2; h++) {
            __m256i q[4];
            codes(w[i], h, q);
            for (int u = 0; u < 4; u++) {
                const int j = 4 * h + u;
                const __m256i p = _mm256_maddubs_epi16(q[u], _mm256_loadu_si256((const __m256i*)(x[i].qs + 32 * j)));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, sc[j]));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16(w[i].d) * x[i].d), _mm256_cvtepi32_ps(isum), acc);
    }
    return hsum_ps(acc);
}

// ---- Prompt GEMM: one super-block of two rows, unpacked for the tile loop ------------------------
struct Q6KTraits {
    using Block = block_q6_K;
    struct Tile {
        __m256i q[kTileRows][8];   // [row slot][chunk j of 32]: codes 0..63
        __m256i sc[kTileRows][8];  // [row slot][j]: int16 sc[2 j] (low half), sc[2 j + 1] (high half)
        __m256i neg32[kTileRows];  // [row slot]: -32 sc[0..15]
        __m256 d;                  // lane 4 s + t = d of row slot s
    };

    static void unpack(const block_q6_K* b0, const block_q6_K* b1, Tile& T) {
        const block_q6_K* rows[kTileRows] = {b0, b1};
        for (int s = 0; s < kTileRows; s++) {
            codes(*rows[s], 0, T.q[s]);
            codes(*rows[s], 1, T.q[s] + 4);
            chunk_scales(*rows[s], T.sc[s]);
            T.neg32[s] = neg32_scales(*rows[s]);
        }
        T.d = _mm256_setr_m128(_mm_set1_ps(fp16(b0->d)), _mm_set1_ps(fp16(b1->d)));
    }

    // acc (lane 4 s + t) += (d_s d_t) isum[s][t]
    static __m256 dot(const Tile& T, const Q8KPack& x, __m256 acc) {
        __m256i isum[kTileRows * kTileTok];
        for (int s = 0; s < kTileRows; s++)
            for (int t = 0; t < kTileTok; t++)
                isum[kTileTok * s + t] = _mm256_madd_epi16(T.neg32[s], _mm256_load_si256((const __m256i*)x.bs16[t]));
        tile_isum(T.q, T.sc, x, isum);
        return _mm256_fmadd_ps(_mm256_cvtepi32_ps(reduce8_epi32(isum)), _mm256_mul_ps(T.d, _mm256_load_ps(x.d)), acc);
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

void register_q6_K(KernelTable& t) {
    t.dequantize_row[GGML_Q6_K] = dequantize_row_q6_K;
    t.matmul[GGML_Q6_K] = {ACT_Q8_K, matmul_q6_K};
}

}  // namespace edgeq::avx2::kq
