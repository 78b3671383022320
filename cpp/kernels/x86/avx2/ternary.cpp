// AVX2 ternary kernels: TQ2_0 and TQ1_0 weights with ACT_I8_TOKEN activations (quantizer in
// ternary_act.cpp). Bit-exact with cpp/kernels/ref/ternary.cpp: one lane per weight row keeps the
// reference's float order (the loop nest and the decoded layout are in kernels/ternary_driver.h).
//
// Tile: 8 weight rows (lanes) x groups of 4 tokens. Per block, T[k] (k < 64) holds, per row lane,
// the codes c in {0..3} of values 4k .. 4k+3; maddubs(T[k], the token's 4 int8 activations
// broadcast) gives per row two int16 pair sums, accumulated in int16 over 32 k (|sum| <=
// 32 * 2 * 3 * 128 = 24576 < 2^15) and widened to int32. sum c q - bsum = sum (c - 1) q = isum.
#include <immintrin.h>

#include <cstring>

#include "kernels/ternary_driver.h"
#include "kernels/x86/avx2/avx2.h"

namespace edgeq::avx2 {
namespace {

using ternary::tq1_0_k;
using ternary::tq2_0_k;

// in[r] = 8 int32 of row r -> out[c], lane r = in[r][c].
inline void transpose8x8(const __m256i in[8], __m256i out[8]) {
    __m256i t[8], u[8];
    for (int i = 0; i < 4; i++) {  // t[2i] lanes: r0 c0, r1 c0, r0 c1, r1 c1 (rows 2i, 2i+1; per 128-bit half)
        t[2 * i] = _mm256_unpacklo_epi32(in[2 * i], in[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(in[2 * i], in[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {  // u[4i + e], half q: column 4q + e of rows 4i .. 4i+3
        u[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int e = 0; e < 4; e++) {
        out[e] = _mm256_permute2x128_si256(u[e], u[4 + e], 0x20);
        out[4 + e] = _mm256_permute2x128_si256(u[e], u[4 + e], 0x31);
    }
}

inline int32_t load_i32(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// Base-3 digit n of every byte v (p = 3^n): ((uint8_t)(v * p) * 3) >> 8. Per 16-bit lane, the low
// byte times p << 8 leaves (v_lo p mod 256) << 8, the high byte (hi = v & 0xff00) times p leaves
// (v_hi p mod 256) << 8; mulhi by 3 takes the top digit of each.
inline __m256i base3_digit(__m256i v, __m256i hi, int p) {
    const __m256i lo_p = _mm256_mullo_epi16(v, _mm256_set1_epi16((int16_t)(p << 8)));
    const __m256i hi_p = _mm256_mullo_epi16(hi, _mm256_set1_epi16((int16_t)p));
    const __m256i three = _mm256_set1_epi16(3);
    const __m256i d_lo = _mm256_mulhi_epu16(lo_p, three), d_hi = _mm256_mulhi_epu16(hi_p, three);
    return _mm256_or_si256(d_lo, _mm256_slli_epi16(d_hi, 8));
}

struct Tile {
    __m256i T[64];  // lane r: codes of values 4k .. 4k+3 of row r
    __m256 d;       // lane r: fp16 d of row r's block
};

// Shared by both formats. F (the format) provides decode_each(rows, b, fn), which calls fn(k, T[k])
// for k = 0..63 in some order, and kScaleOffset (byte offset of d in a block).
template <class F>
struct Kernel {
    static constexpr int kLanes = 8;
    static constexpr int kGroup = 4;
    using Tile = avx2::Tile;

    // fp16 block scales of the 8 rows -> float lanes.
    static __m256 scales(const uint8_t* const rows[8], int b) {
        alignas(16) uint16_t h[8];
        for (int r = 0; r < 8; r++) std::memcpy(&h[r], rows[r] + (size_t)b * sizeof(typename F::Block) + F::kScaleOffset, 2);
        return _mm256_cvtph_ps(_mm_load_si128((const __m128i*)h));
    }

    static void decode(const uint8_t* const rows[8], int b, Tile& tile) {
        F::decode_each(rows, b, [&](int k, __m256i v) { tile.T[k] = v; });
        tile.d = scales(rows, b);
    }

    // facc[r] = fma(d_r, isum_r, facc[r]) for the one token of X, this block. Four int16 chains
    // of 16 k each: |sum| <= 16 * 2 * 3 * 128 = 12288.
    static void dot1(const uint8_t* const rows[8], int b, const uint8_t* X, int n_in, float* facc) {
        const uint8_t* x = X + (size_t)b * QK_K;
        __m256i acc[4];
        for (auto& a : acc) a = _mm256_setzero_si256();
        F::decode_each(rows, b, [&](int k, __m256i v) {
            acc[k % 4] = _mm256_add_epi16(acc[k % 4], _mm256_maddubs_epi16(v, _mm256_set1_epi32(load_i32(x + 4 * k))));
        });
        const __m256i ones = _mm256_set1_epi16(1);
        const __m256i s01 = _mm256_add_epi32(_mm256_madd_epi16(acc[0], ones), _mm256_madd_epi16(acc[1], ones));
        const __m256i s23 = _mm256_add_epi32(_mm256_madd_epi16(acc[2], ones), _mm256_madd_epi16(acc[3], ones));
        const __m256i isum = _mm256_sub_epi32(_mm256_add_epi32(s01, s23),
                                              _mm256_set1_epi32(load_i32(X + i8_token_bsum_offset(n_in) + 4 * b)));
        _mm256_storeu_ps(facc, _mm256_fmadd_ps(scales(rows, b), _mm256_cvtepi32_ps(isum), _mm256_loadu_ps(facc)));
    }

    // facc[8 t + r] = fma(d_r, isum(r, t), facc[8 t + r]) for tokens t < G of this block.
    template <int G>
    static void group(const Tile& tile, const uint8_t* X, size_t x_row_bytes, int n_in, int b, float* facc) {
        const uint8_t* x[G];
        for (int t = 0; t < G; t++) x[t] = X + (size_t)t * x_row_bytes + (size_t)b * QK_K;
        const __m256i ones = _mm256_set1_epi16(1);
        __m256i acc32[G];
        for (int t = 0; t < G; t++) acc32[t] = _mm256_setzero_si256();
        for (int k0 = 0; k0 < 64; k0 += 32) {
            __m256i acc16[G];
            for (int t = 0; t < G; t++) acc16[t] = _mm256_setzero_si256();
            for (int k = k0; k < k0 + 32; k++) {
                const __m256i c = tile.T[k];
                for (int t = 0; t < G; t++)
                    acc16[t] = _mm256_add_epi16(
                        acc16[t], _mm256_maddubs_epi16(c, _mm256_set1_epi32(load_i32(x[t] + 4 * k))));
            }
            for (int t = 0; t < G; t++) acc32[t] = _mm256_add_epi32(acc32[t], _mm256_madd_epi16(acc16[t], ones));
        }
        for (int t = 0; t < G; t++) {
            const int32_t bsum = load_i32(X + (size_t)t * x_row_bytes + i8_token_bsum_offset(n_in) + 4 * b);
            const __m256i isum = _mm256_sub_epi32(acc32[t], _mm256_set1_epi32(bsum));
            const __m256 f = _mm256_fmadd_ps(tile.d, _mm256_cvtepi32_ps(isum), _mm256_loadu_ps(facc + 8 * t));
            _mm256_storeu_ps(facc + 8 * t, f);
        }
    }

    // y[r] = facc[r] / s for the first n_valid rows.
    static void finish(const float* facc, float s, float* y, int n_valid) {
        const __m256 v = _mm256_div_ps(_mm256_loadu_ps(facc), _mm256_set1_ps(s));
        if (n_valid == 8) {
            _mm256_storeu_ps(y, v);
        } else {
            const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n_valid), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            _mm256_maskstore_ps(y, mask, v);
        }
    }
};

struct TQ2 {
    using Block = block_tq2_0;
    static constexpr size_t kScaleOffset = offsetof(Block, d);
    // qs (16 dwords per row) transposed, then bit pair l of every byte -> T[tq2_0_k(c, l)].
    template <class Fn>
    static void decode_each(const uint8_t* const rows[8], int b, Fn&& fn) {
        const size_t off = (size_t)b * sizeof(Block);
        __m256i in[8], cols[16];
        for (int h = 0; h < 2; h++) {
            for (int r = 0; r < 8; r++) in[r] = _mm256_loadu_si256((const __m256i*)(rows[r] + off + 32 * h));
            transpose8x8(in, cols + 8 * h);
        }
        const __m256i m3 = _mm256_set1_epi8(3);
#pragma GCC unroll 16
        for (int c = 0; c < 16; c++)
#pragma GCC unroll 4
            for (int l = 0; l < 4; l++) fn(tq2_0_k(c, l), _mm256_and_si256(_mm256_srli_epi32(cols[c], 2 * l), m3));
    }
};

struct TQ1 {
    using Block = block_tq1_0;
    static constexpr size_t kScaleOffset = offsetof(Block, d);
    // qs and qh (13 dwords per row; a masked load never touches the bytes after them) transposed,
    // then base-3 digit n of every byte -> T[tq1_0_k(c, n)].
    template <class Fn>
    static void decode_each(const uint8_t* const rows[8], int b, Fn&& fn) {
        const size_t off = (size_t)b * sizeof(Block);
        const __m256i first5 = _mm256_setr_epi32(-1, -1, -1, -1, -1, 0, 0, 0);
        __m256i in[8], cols[16];
        for (int r = 0; r < 8; r++) in[r] = _mm256_loadu_si256((const __m256i*)(rows[r] + off));
        transpose8x8(in, cols);
        for (int r = 0; r < 8; r++) in[r] = _mm256_maskload_epi32((const int*)(rows[r] + off + 32), first5);
        transpose8x8(in, cols + 8);
        constexpr int pow3[5] = {1, 3, 9, 27, 81};
        const __m256i hi_mask = _mm256_set1_epi16((int16_t)0xff00);
#pragma GCC unroll 13
        for (int c = 0; c < 13; c++) {
            const __m256i hi = _mm256_and_si256(cols[c], hi_mask);
#pragma GCC unroll 5
            for (int n = 0; n < 5; n++) {
                if (c == 12 && n == 4) break;  // qh bytes hold 4 digits
                fn(tq1_0_k(c, n), base3_digit(cols[c], hi, pow3[n]));
            }
        }
    }
};

}  // namespace

void quantize_row_i8_token(const float* x, void* xq, int n);  // ternary_act.cpp

void register_ternary(KernelTable& t) {
    t.quantize_act[ACT_I8_TOKEN] = quantize_row_i8_token;
    t.matmul[GGML_TQ2_0] = {ACT_I8_TOKEN, ternary::matmul<Kernel<TQ2>>};
    t.matmul[GGML_TQ1_0] = {ACT_I8_TOKEN, ternary::matmul<Kernel<TQ1>>};
}

}  // namespace edgeq::avx2
