// AVX2 kernels for the FP4 weight types MXFP4 and NVFP4 with Q8_0 activations, and their row
// dequantizers. Dequantization is bit-exact with kernels/ref/fp4.cpp (the same integer value
// times the same scale); matmul block dots are exact int32 sums, only the float sum over blocks
// runs in a different order (8 lanes, then a tree).
//
// Per Q8_0 activation block of 32 (one MXFP4 block, or half of an NVFP4 block):
//   codes -> vpshufb with kvalues_fp4 -> 32 signed int8 w in [-12, 12], in element order;
//   int8 dot by the sign trick: vpmaddubsw(|w|, x * sign(w)) -> 16 int16 pair sums (|.| <=
//   2 * 12 * 127, no saturation), vpmaddwd with ones -> 8 int32 lanes of 4 values each;
//   one FMA with the lane scales: MXFP4 one scale for all 8 lanes; NVFP4 lanes 0..3 hold
//   sub-block 2h, lanes 4..7 sub-block 2h + 1, each with its own UE4M3 scale.
// Scales are decoded through the 256-entry tables of fp4_tables.h. Tiles as in legacy.cpp: each
// weight block is decoded once per tile of R rows x T tokens.
#include <immintrin.h>

#include "kernels/fp4_tables.h"
#include "kernels/x86/avx2/avx2.h"
#include "kernels/x86/avx2/tiles.h"

namespace edgeq::avx2 {
namespace {

using fp4::kScaleTables;

// 16 code bytes (32 nibbles, unpacked as by unpack_nibbles) -> their doubled E2M1 values.
inline __m256i fp4_values(__m256i nibbles) {
    const __m256i kv = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kvalues_fp4)));
    return _mm256_shuffle_epi8(kv, nibbles);
}

// 32 int8 (in a ymm) -> 32 floats y[8g + i] = q[8g + i] * sc[g][i].
inline void store_values(__m256i q8, const __m256 sc[4], float* y) {
    const __m128i lo = _mm256_castsi256_si128(q8), hi = _mm256_extracti128_si256(q8, 1);
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int k = 0; k < 4; k++)
        _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[k])), sc[k]));
}

// ---- Formats: one 32-value slice (Q8_0 block b of the row) of a weight row -------------------
//   values(row, b): 32 signed int8 doubled E2M1 values, element order
//   scales(row, b): 8 float lanes, lane k = the half scale of values 4k .. 4k + 3
struct FmtMXFP4 {
    static __m256i values(const uint8_t* row, int b) {
        return fp4_values(unpack_nibbles(reinterpret_cast<const block_mxfp4*>(row)[b].qs));
    }
    static __m256 scales(const uint8_t* row, int b) {
        return _mm256_broadcast_ss(&kScaleTables.e8m0_half[reinterpret_cast<const block_mxfp4*>(row)[b].e]);
    }
};

struct FmtNVFP4 {
    // Bytes 16h .. 16h + 15 hold sub-blocks 2h, 2h + 1: unpacked, the low nibbles of bytes 0..7
    // are values 0..7, of bytes 8..15 values 16..23, the high nibbles values 8..15 and 24..31:
    // swapping the middle 64-bit quarters restores element order.
    static __m256i values(const uint8_t* row, int b) {
        const block_nvfp4& blk = reinterpret_cast<const block_nvfp4*>(row)[b / 2];
        return fp4_values(_mm256_permute4x64_epi64(unpack_nibbles(blk.qs + 16 * (b % 2)), 0xD8));
    }
    static __m256 scales(const uint8_t* row, int b) {
        const block_nvfp4& blk = reinterpret_cast<const block_nvfp4*>(row)[b / 2];
        const int s = 2 * (b % 2);
        return _mm256_setr_m128(_mm_broadcast_ss(&kScaleTables.ue4m3_half[blk.d[s]]),
                                _mm_broadcast_ss(&kScaleTables.ue4m3_half[blk.d[s + 1]]));
    }
};

// ---- Dequantization --------------------------------------------------------------------------
// value * scale, both exact, one rounding: bit-exact with the reference's kv * d.
template <class F>
void dequantize_row(const void* w, float* y, int n) {
    const uint8_t* row = static_cast<const uint8_t*>(w);
    for (int b = 0; b < n / 32; b++) {
        const __m256 s = F::scales(row, b);
        // lane k of s covers values 4k..4k+3: value group g of 8 (= vector g) uses lanes 2g, 2g+1
        __m256 sc[4];
        for (int g = 0; g < 4; g++)
            sc[g] = _mm256_permutevar8x32_ps(s, _mm256_setr_epi32(2 * g, 2 * g, 2 * g, 2 * g, 2 * g + 1, 2 * g + 1,
                                                                  2 * g + 1, 2 * g + 1));
        store_values(F::values(row, b), sc, y + 32 * b);
    }
}

// ---- Matmul tiles ----------------------------------------------------------------------------
// One R x T tile: acc[r][t] (8 lanes) += float(int32 lanes of the block dot) * (ws * dx).
template <class F>
struct Fp4Tile {
    template <int R, int T>
    static void tile(const TileArgs& a, int r0, int t0) {
        const uint8_t* w[R];
        const block_q8_0* x[T];
        #pragma GCC unroll 8
        for (int r = 0; r < R; r++) w[r] = a.W + (size_t)(r0 + r) * a.w_row_bytes;
        #pragma GCC unroll 8
        for (int t = 0; t < T; t++) x[t] = reinterpret_cast<const block_q8_0*>(a.X + (size_t)(t0 + t) * a.x_row_bytes);
        __m256 acc[R][T];
        #pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            #pragma GCC unroll 8
            for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
        const int nb = a.n_in / 32;
        for (int b = 0; b < nb; b++) {
            __m256i xv[T];
            __m256 dx[T];
            #pragma GCC unroll 8
            for (int t = 0; t < T; t++) xv[t] = load32(x[t][b].qs), dx[t] = _mm256_set1_ps(_cvtsh_ss(x[t][b].d));
            #pragma GCC unroll 8
            for (int r = 0; r < R; r++) {
                const __m256i q = F::values(w[r], b);
                const __m256i aq = _mm256_sign_epi8(q, q);
                const __m256 ws = F::scales(w[r], b);
                #pragma GCC unroll 8
                for (int t = 0; t < T; t++) {
                    const __m256i p16 = _mm256_maddubs_epi16(aq, _mm256_sign_epi8(xv[t], q));
                    acc[r][t] = _mm256_fmadd_ps(pairs_to_float(p16), _mm256_mul_ps(ws, dx[t]), acc[r][t]);
                }
            }
        }
        #pragma GCC unroll 8
        for (int t = 0; t < T; t++)
            #pragma GCC unroll 8
            for (int r = 0; r < R; r++) a.Y[(size_t)(t0 + t) * a.ldy + r0 + r] = hsum(acc[r][t]);
    }
};

// Tile shapes as legacy.cpp: prompt processing 2 rows x 4 tokens, decode 4 rows at once.
constexpr int kRows = 2, kToks = 4, kGemvRows = 4;

// Y (n_tok, n_out) = X (n_tok, n_in) @ W (n_out, n_in)^T for rows [row0, row1).
template <class F>
void matmul_fp4(const void* W, size_t w_row_bytes, const void* X, size_t x_row_bytes, float* Y, size_t ldy, int n_in,
                int n_tok, int row0, int row1) {
    TileArgs a{static_cast<const uint8_t*>(W), w_row_bytes, static_cast<const uint8_t*>(X), x_row_bytes, Y, ldy, n_in};
    using K = Fp4Tile<F>;
    if (n_tok == 1) for_each_tile<K, kGemvRows, 1>(a, 1, row0, row1);
    else for_each_tile<K, kRows, kToks>(a, n_tok, row0, row1);
}

}  // namespace

void register_fp4(KernelTable& t) {
    t.matmul[GGML_MXFP4] = {ACT_Q8_0, &matmul_fp4<FmtMXFP4>};
    t.matmul[GGML_NVFP4] = {ACT_Q8_0, &matmul_fp4<FmtNVFP4>};
    t.dequantize_row[GGML_MXFP4] = &dequantize_row<FmtMXFP4>;
    t.dequantize_row[GGML_NVFP4] = &dequantize_row<FmtNVFP4>;
}

}  // namespace edgeq::avx2
