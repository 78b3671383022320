// AVX-512 VNNI ternary kernels: TQ2_0 and TQ1_0 weights with ACT_I8_TOKEN activations (quantizer in
// ternary_act.cpp). Bit-exact with cpp/kernels/ref/ternary.cpp: one lane per weight row keeps the
// reference's float order (the loop nest and the decoded layout are in kernels/ternary_driver.h).
//
// Tile: 16 weight rows (lanes) x groups of 8 tokens. Per block, T[k] (k < 64) holds, per row lane,
// the codes c in {0..3} of values 4k .. 4k+3; vpdpbusd(T[k], the token's 4 int8 activations
// broadcast) adds sum c q of those 4 values to the row's int32 lane, exactly. Then
// sum c q - bsum = sum (c - 1) q = isum.
#include <immintrin.h>

#include <cstring>

#include "kernels/ternary_driver.h"
#include "kernels/x86/avx512/avx512.h"

// GCC 12 reports the _mm512_undefined_* inside its own AVX-512 headers as uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace edgeq::avx512 {
namespace {

using ternary::tq1_0_k;
using ternary::tq2_0_k;

// in[r] = 16 int32 of row r -> out[c], lane r = in[r][c].
inline void transpose16x16(const __m512i in[16], __m512i out[16]) {
    __m512i t[16], u[16];
    for (int i = 0; i < 8; i++) {  // per 128-bit lane: r0 c0, r1 c0, r0 c1, r1 c1 (rows 2i, 2i+1)
        t[2 * i] = _mm512_unpacklo_epi32(in[2 * i], in[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(in[2 * i], in[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {  // u[4i + e], 128-bit lane q: column 4q + e of rows 4i .. 4i+3
        u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int e = 0; e < 4; e++) {  // 4 x 4 transpose of 128-bit lanes: out[4q + e] lane i = u[4i + e] lane q
        const __m512i v0 = _mm512_shuffle_i32x4(u[e], u[4 + e], _MM_SHUFFLE(1, 0, 1, 0));
        const __m512i v1 = _mm512_shuffle_i32x4(u[e], u[4 + e], _MM_SHUFFLE(3, 2, 3, 2));
        const __m512i v2 = _mm512_shuffle_i32x4(u[8 + e], u[12 + e], _MM_SHUFFLE(1, 0, 1, 0));
        const __m512i v3 = _mm512_shuffle_i32x4(u[8 + e], u[12 + e], _MM_SHUFFLE(3, 2, 3, 2));
        out[e] = _mm512_shuffle_i32x4(v0, v2, _MM_SHUFFLE(2, 0, 2, 0));
        out[4 + e] = _mm512_shuffle_i32x4(v0, v2, _MM_SHUFFLE(3, 1, 3, 1));
        out[8 + e] = _mm512_shuffle_i32x4(v1, v3, _MM_SHUFFLE(2, 0, 2, 0));
        out[12 + e] = _mm512_shuffle_i32x4(v1, v3, _MM_SHUFFLE(3, 1, 3, 1));
    }
}

inline int32_t load_i32(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// v = byte * 3^n (mod 256) -> its top base-3 digit (v * 3) >> 8 = [v >= 86] + [v >= 171].
inline __m512i top_digit(__m512i v) {
    const __m512i one = _mm512_set1_epi8(1);
    const __m512i d = _mm512_maskz_mov_epi8(_mm512_cmpge_epu8_mask(v, _mm512_set1_epi8((char)86)), one);
    return _mm512_mask_add_epi8(d, _mm512_cmpge_epu8_mask(v, _mm512_set1_epi8((char)171)), d, one);
}
// v * 3 (mod 256) per byte: the next digit moves to the top.
inline __m512i times3(__m512i v) { return _mm512_add_epi8(v, _mm512_add_epi8(v, v)); }

struct Tile {
    __m512i T[64];  // lane r: codes of values 4k .. 4k+3 of row r
    __m512 d;       // lane r: fp16 d of row r's block
};

// Shared by both formats. F (the format) provides decode_each(rows, b, fn), which calls
// fn(k, v, j) for k = 0..63 in some order with v = T[k] << 2j (j > 0 lets TQ2_0 skip a shift;
// the dot products scale back exactly), and scale_offset (byte offset of d in a block).
template <class F>
struct Kernel {
    static constexpr int kLanes = 16;
    static constexpr int kGroup = 8;
    using Tile = avx512::Tile;

    // fp16 block scales of the 16 rows -> float lanes.
    static __m512 scales(const uint8_t* const rows[16], int b) {
        alignas(32) uint16_t h[16];
        for (int r = 0; r < 16; r++) std::memcpy(&h[r], rows[r] + (size_t)b * sizeof(typename F::Block) + F::kScaleOffset, 2);
        return _mm512_cvtph_ps(_mm256_load_si256((const __m256i*)h));
    }

    static void decode(const uint8_t* const rows[16], int b, Tile& tile) {
        F::decode_each(rows, b, [&](int k, __m512i v, int j) { tile.T[k] = j ? _mm512_srli_epi32(v, 2 * j) : v; });
        tile.d = scales(rows, b);
    }

    // facc[r] = fma(d_r, isum_r, facc[r]) for the one token of X, this block.
    static void dot1(const uint8_t* const rows[16], int b, const uint8_t* X, int n_in, float* facc) {
        const uint8_t* x = X + (size_t)b * QK_K;
        constexpr int C = F::kChains;  // independent accumulators per scale, for latency
        __m512i acc[4][C];
        for (auto& a : acc)
            for (auto& v : a) v = _mm512_setzero_si512();
        F::decode_each(rows, b, [&](int k, __m512i v, int j) {
            acc[j][k % C] = _mm512_dpbusd_epi32(acc[j][k % C], v, _mm512_set1_epi32(load_i32(x + 4 * k)));
        });
        __m512i isum = _mm512_set1_epi32(-load_i32(X + i8_token_bsum_offset(n_in) + 4 * b));
        for (int j = 0; j < 4; j++) {
            __m512i a = acc[j][0];
            for (int c = 1; c < C; c++) a = _mm512_add_epi32(a, acc[j][c]);
            isum = _mm512_add_epi32(isum, _mm512_srai_epi32(a, 2 * j));  // exact: a is a multiple of 4^j
        }
        _mm512_storeu_ps(facc, _mm512_fmadd_ps(scales(rows, b), _mm512_cvtepi32_ps(isum), _mm512_loadu_ps(facc)));
    }

    // facc[16 t + r] = fma(d_r, isum(r, t), facc[16 t + r]) for tokens t < G of this block.
    template <int G>
    static void group(const Tile& tile, const uint8_t* X, size_t x_row_bytes, int n_in, int b, float* facc) {
        const uint8_t* x[G];
        for (int t = 0; t < G; t++) x[t] = X + (size_t)t * x_row_bytes + (size_t)b * QK_K;
        __m512i acc[G];
        for (int t = 0; t < G; t++) acc[t] = _mm512_setzero_si512();
        for (int k = 0; k < 64; k++) {
            const __m512i c = tile.T[k];
            for (int t = 0; t < G; t++)
                acc[t] = _mm512_dpbusd_epi32(acc[t], c, _mm512_set1_epi32(load_i32(x[t] + 4 * k)));
        }
        for (int t = 0; t < G; t++) {
            const int32_t bsum = load_i32(X + (size_t)t * x_row_bytes + i8_token_bsum_offset(n_in) + 4 * b);
            const __m512i isum = _mm512_sub_epi32(acc[t], _mm512_set1_epi32(bsum));
            const __m512 f = _mm512_fmadd_ps(tile.d, _mm512_cvtepi32_ps(isum), _mm512_loadu_ps(facc + 16 * t));
            _mm512_storeu_ps(facc + 16 * t, f);
        }
    }

    // y[r] = facc[r] / s for the first n_valid rows.
    static void finish(const float* facc, float s, float* y, int n_valid) {
        const __m512 v = _mm512_div_ps(_mm512_loadu_ps(facc), _mm512_set1_ps(s));
        _mm512_mask_storeu_ps(y, (__mmask16)((1u << n_valid) - 1), v);
    }
};

struct TQ2 {
    using Block = block_tq2_0;
    static constexpr size_t kScaleOffset = offsetof(Block, d);
    static constexpr int kChains = 2;
    // qs (16 dwords per row) transposed; bit pair l of every byte, left in place (j = l).
    template <class Fn>
    static void decode_each(const uint8_t* const rows[16], int b, Fn&& fn) {
        const size_t off = (size_t)b * sizeof(Block);
        __m512i in[16], cols[16];
        for (int r = 0; r < 16; r++) in[r] = _mm512_loadu_si512(rows[r] + off);
        transpose16x16(in, cols);
#pragma GCC unroll 16
        for (int c = 0; c < 16; c++)
#pragma GCC unroll 4
            for (int l = 0; l < 4; l++)
                fn(tq2_0_k(c, l), _mm512_and_si512(cols[c], _mm512_set1_epi8((char)(3 << (2 * l)))), l);
    }
};

struct TQ1 {
    using Block = block_tq1_0;
    static constexpr size_t kScaleOffset = offsetof(Block, d);
    static constexpr int kChains = 4;
    // qs and qh (13 dwords per row; the masked load never touches the bytes after them)
    // transposed; base-3 digit n of every byte.
    template <class Fn>
    static void decode_each(const uint8_t* const rows[16], int b, Fn&& fn) {
        const size_t off = (size_t)b * sizeof(Block);
        __m512i in[16], cols[16];
        for (int r = 0; r < 16; r++) in[r] = _mm512_maskz_loadu_epi32(0x1fff, rows[r] + off);
        transpose16x16(in, cols);
#pragma GCC unroll 13
        for (int c = 0; c < 13; c++) {
            __m512i v = cols[c];
#pragma GCC unroll 5
            for (int n = 0; n < 5; n++) {
                if (c == 12 && n == 4) break;  // qh bytes hold 4 digits
                fn(tq1_0_k(c, n), top_digit(v), 0);
                v = times3(v);
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

}  // namespace edgeq::avx512
