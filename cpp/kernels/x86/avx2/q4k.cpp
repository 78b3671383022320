// Q4_K weights x Q8_K activations on AVX2: dequantization, the decode GEMV and the prompt GEMM.
// Math and block layout: ref/kquants.cpp. Integer part: vpmaddubsw (4-bit code u8 x q8 s8 -> s16
// pairs, |.| <= 2 * 15 * 127) then vpmaddwd with the sub-block scale (-> s32), summed exactly over
// the super-block; the mins enter through the activations' bsums; scaling is float.
#include "kernels/x86/avx2/kquants_avx2.h"
#include "kernels/x86/avx2/q4k_scales.h"

namespace edgeq::avx2::kq {

namespace {

// Shuffle controls that broadcast int16 element k of each 128-bit half to the whole half.
alignas(32) const uint8_t kBroadcast16[8][32] = {
#define B16(k) {2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, \
                2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, \
                2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1}
    B16(0), B16(1), B16(2), B16(3), B16(4), B16(5), B16(6), B16(7)
#undef B16
};
inline __m256i broadcast16(__m256i v, int k) {
    return _mm256_shuffle_epi8(v, _mm256_load_si256((const __m256i*)kBroadcast16[k]));
}

// The 4-bit codes of sub-blocks 2c (low nibbles) and 2c + 1 (high nibbles), c = 0..3.
inline void codes(const block_q4_K& b, int c, __m256i& lo, __m256i& hi) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i v = _mm256_loadu_si256((const __m256i*)(b.qs + 32 * c));
    lo = _mm256_and_si256(v, m4);
    hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
}

// ---- Dequantization: y = (d * sc) * q - (dmin * m), float32, bit-identical to the reference ----
void dequantize_row_q4_K(const void* w, float* y, int n) {
    const block_q4_K* blocks = (const block_q4_K*)w;
    for (int i = 0; i < n / QK_K; i++) {
        const block_q4_K& b = blocks[i];
        alignas(16) uint8_t sm[16];
        _mm_store_si128((__m128i*)sm, q4_K_scales_mins(b));
        const float d = fp16(b.d), dmin = fp16(b.dmin);
        for (int c = 0; c < 4; c++) {
            alignas(32) uint8_t q[2][32];
            __m256i lo, hi;
            codes(b, c, lo, hi);
            _mm256_store_si256((__m256i*)q[0], lo);
            _mm256_store_si256((__m256i*)q[1], hi);
            for (int h = 0; h < 2; h++) {
                const int j = 2 * c + h;
                const __m256 d1 = _mm256_set1_ps(d * (float)sm[j]), m1 = _mm256_set1_ps(dmin * (float)sm[8 + j]);
                for (int u = 0; u < 4; u++) {
                    const __m128i q8 = _mm_loadl_epi64((const __m128i*)(q[h] + 8 * u));
                    const __m256 prod = opaque(_mm256_mul_ps(d1, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q8))));
                    _mm256_storeu_ps(y + i * QK_K + 32 * j + 8 * u, _mm256_sub_ps(prod, m1));
                }
            }
        }
    }
}

// ---- Decode GEMV: y[r] = W row r . x, weights streamed once ------------------------------------
float dot_row(const block_q4_K* w, const block_q8_K* x, int nb) {
    __m256 acc = _mm256_setzero_ps();
    __m128 acc_min = _mm_setzero_ps();
    for (int i = 0; i < nb; i++) {
        const __m128i sm = q4_K_scales_mins(w[i]);
        // mins: sum_j m[j] * (bsums[2 j] + bsums[2 j + 1]) as 4 int32 partial sums.
        const __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i*)x[i].bsums),
                                          _mm_loadu_si128((const __m128i*)(x[i].bsums + 8)));
        const __m128i pm = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_srli_si128(sm, 8)), bs);
        acc_min = _mm_fmadd_ps(_mm_set1_ps(fp16(w[i].dmin) * x[i].d), _mm_cvtepi32_ps(pm), acc_min);

        const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));  // int16 sc[0..7] per half
        __m256i isum = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i lo, hi;
            codes(w[i], c, lo, hi);
            const __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i*)(x[i].qs + 64 * c)));
            const __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i*)(x[i].qs + 64 * c + 32)));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(plo, broadcast16(sc, 2 * c)));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(phi, broadcast16(sc, 2 * c + 1)));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16(w[i].d) * x[i].d), _mm256_cvtepi32_ps(isum), acc);
    }
    return hsum_ps(acc) - hsum_ps(acc_min);
}

// ---- Prompt GEMM: one super-block of two rows, unpacked for the tile loop ------------------------
struct Q4KTraits {
    using Block = block_q4_K;
    struct Tile {
        __m256i q[kTileRows][8];   // [row slot][sub-block j]: 32 codes 0..15
        __m256i sc[kTileRows][8];  // [row slot][j]: int16 scale sc[j] in every lane
        __m256 mins[8];            // [j]: lane 4 s + t = m[j] of row slot s (float, exact)
        __m256 d, dmin;            // lane 4 s + t = d, dmin of row slot s
    };

    static void unpack(const block_q4_K* b0, const block_q4_K* b1, Tile& T) {
        const block_q4_K* rows[kTileRows] = {b0, b1};
        __m256 m[kTileRows];
        for (int s = 0; s < kTileRows; s++) {
            const __m128i sm = q4_K_scales_mins(*rows[s]);
            const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
            for (int j = 0; j < 8; j++) T.sc[s][j] = broadcast16(sc, j);
            for (int c = 0; c < 4; c++) codes(*rows[s], c, T.q[s][2 * c], T.q[s][2 * c + 1]);
            m[s] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(sm, 8)));
        }
        spread_slots(m[0], m[1], T.mins);
        T.d = _mm256_setr_m128(_mm_set1_ps(fp16(b0->d)), _mm_set1_ps(fp16(b1->d)));
        T.dmin = _mm256_setr_m128(_mm_set1_ps(fp16(b0->dmin)), _mm_set1_ps(fp16(b1->dmin)));
    }

    // acc (lane 4 s + t) += (d_s d_t) isum[s][t] - (dmin_s d_t) imin[s][t]
    static __m256 dot(const Tile& T, const Q8KPack& x, __m256 acc) {
        __m256i isum[kTileRows * kTileTok];
        for (int k = 0; k < kTileRows * kTileTok; k++) isum[k] = _mm256_setzero_si256();
        tile_isum(T.q, T.sc, x, isum);
        // imin <= 8 * 63 * 4064 < 2^24: exact in float.
        __m256 imin0 = _mm256_mul_ps(T.mins[0], _mm256_load_ps(x.bs32[0]));
        __m256 imin1 = _mm256_mul_ps(T.mins[1], _mm256_load_ps(x.bs32[1]));
        for (int j = 2; j < 8; j += 2) {
            imin0 = _mm256_fmadd_ps(T.mins[j], _mm256_load_ps(x.bs32[j]), imin0);
            imin1 = _mm256_fmadd_ps(T.mins[j + 1], _mm256_load_ps(x.bs32[j + 1]), imin1);
        }
        const __m256 dx = _mm256_load_ps(x.d);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(reduce8_epi32(isum)), _mm256_mul_ps(T.d, dx), acc);
        return _mm256_fnmadd_ps(_mm256_add_ps(imin0, imin1), _mm256_mul_ps(T.dmin, dx), acc);
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

void register_q4_K(KernelTable& t) {
    t.dequantize_row[GGML_Q4_K] = dequantize_row_q4_K;
    t.matmul[GGML_Q4_K] = {ACT_Q8_K, matmul_q4_K};
}

}  // namespace edgeq::avx2::kq
