// AVX-512 VNNI matmul for the legacy block types: Q4_0 / Q5_0 / Q8_0 weights with Q8_0
// activations, Q4_1 / Q5_1 weights with Q8_1 activations. Activation quantization and dequantization stay AVX2's
// (already bit-exact with the reference); this file only speeds up the matmuls.
//
// One zmm holds TWO 32-blocks (64 bytes). vpdpbusd multiplies unsigned weight bytes by signed
// activation bytes and adds groups of 4 into 16 int32 lanes (lanes 0..7 block b, 8..15 block
// b+1), exactly (no int16 saturation as with vpmaddubsw). Unsigned weight operands:
//   Q4_1: q in [0, 15];  Q4_0: q . x - 8 sum(x);  Q8_0: (w + 128) . x - 128 sum(x);
//   Q5_1: q in [0, 31];  Q5_0: q . x - 16 sum(x).
// The offset term starts the accumulator (init = -K * sum of each 4-group of x), so every block
// dot is an exact int32 sum as in the reference; then acc += float(lanes) * (dw * dx) with the
// scale vector [dw_b dx_b x 8 | dw_b+1 dx_b+1 x 8]. An odd last block runs with a zero upper half.
#include <immintrin.h>

#include <cstring>
// GCC 12 reports the _mm512_undefined_* inside its own AVX-512 headers as uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <vector>

#include "kernels/tile_driver.h"
#include "kernels/x86/avx512/avx512.h"

namespace edgeq::avx512 {
namespace {

using tiles::for_each_tile;
using tiles::TileArgs;

inline float half(ggml_half h) { return _cvtsh_ss(h); }

// Lanes 0..7 <- lane i of v, lanes 8..15 <- lane j.
inline __m512 spread2(__m512 v, int i, int j) {
    return _mm512_permutexvar_ps(_mm512_setr_epi32(i, i, i, i, i, i, i, i, j, j, j, j, j, j, j, j), v);
}

// Two blocks' 32 bytes (second zero when kSingle) -> one zmm.
template <bool kSingle>
inline __m512i load_pair(const void* p0, const void* p1) {
    const __m256i a = _mm256_loadu_si256(static_cast<const __m256i*>(p0));
    if constexpr (kSingle) return _mm512_zextsi256_si512(a);
    else return _mm512_inserti64x4(_mm512_castsi256_si512(a), _mm256_loadu_si256(static_cast<const __m256i*>(p1)), 1);
}

// Two blocks' 16 nibble bytes -> 64 bytes in element order: 128-bit lanes
// [lo(b), hi(b), lo(b+1), hi(b+1)].
template <bool kSingle>
inline __m512i nibbles_pair(const uint8_t* qs0, const uint8_t* qs1) {
    const __m256i a = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs0)));
    __m512i v;
    if constexpr (kSingle) v = _mm512_zextsi256_si512(a);
    else v = _mm512_inserti64x4(_mm512_castsi256_si512(a),
                                _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs1))), 1);
    v = _mm512_mask_srli_epi16(v, 0xFF00FF00u, v, 4);  // words of 128-bit lanes 1 and 3
    return _mm512_and_si512(v, _mm512_set1_epi8(0x0F));
}

// Two Q5 blocks -> 64 bytes in element order, q = nibble | (bit j of qh) << 4: the two qh words
// form a 64-bit byte mask matching nibbles_pair's element order.
template <bool kSingle, class Block>
inline __m512i q5_pair(const Block& b0, const Block& b1) {
    uint32_t h0, h1 = 0;
    std::memcpy(&h0, b0.qh, 4);
    if constexpr (!kSingle) std::memcpy(&h1, b1.qh, 4);
    const __mmask64 high = (__mmask64)h0 | (__mmask64)h1 << 32;
    return _mm512_or_si512(nibbles_pair<kSingle>(b0.qs, b1.qs), _mm512_maskz_mov_epi8(high, _mm512_set1_epi8(0x10)));
}

// 16-bit word at byte offset 0 of blocks b and b+1 of rows 0..R-1 -> words 2r, 2r+1.
template <bool kSingle, int R, class WB>
inline __m128i gather_d(const WB* const (&w)[R], int b) {
    static_assert(R <= 4, "8 halves at most");
    uint64_t lo = 0, hi = 0;
    for (int r = 0; r < R; r++) {
        uint16_t d0, d1 = 0;
        std::memcpy(&d0, &w[r][b], 2);
        if (!kSingle) std::memcpy(&d1, &w[r][b + 1], 2);
        const uint64_t pair = (uint64_t)d0 | (uint64_t)d1 << 16;
        if (r < 2) lo |= pair << (32 * r);
        else hi |= pair << (32 * (r - 2));
    }
    return _mm_set_epi64x((long long)hi, (long long)lo);
}

// Q4_1's adjacent (d, m) of blocks b, b+1 of rows 0..R-1 -> 32-bit slots 2r, 2r+1.
template <bool kSingle, int R, class WB>
inline __m256i gather_dm(const WB* const (&w)[R], int b) {
    static_assert(R <= 4, "16 halves at most");
    uint64_t q[4] = {0, 0, 0, 0};
    for (int r = 0; r < R; r++) {
        uint32_t v0, v1 = 0;
        std::memcpy(&v0, &w[r][b], 4);
        if (!kSingle) std::memcpy(&v1, &w[r][b + 1], 4);
        q[r] = (uint64_t)v0 | (uint64_t)v1 << 32;
    }
    return _mm256_set_epi64x((long long)q[3], (long long)q[2], (long long)q[1], (long long)q[0]);
}

struct FmtQ4_0 {
    using WB = block_q4_0;
    using XB = block_q8_0;
    static constexpr bool kHasMin = false;
    static constexpr int kOffset = 8;
    template <bool kSingle, int R>
    static __m512 scales(const WB* const (&w)[R], int b) {  // lanes 2r, 2r+1: d of b, b+1
        return _mm512_castps256_ps512(_mm256_cvtph_ps(gather_d<kSingle, R>(w, b)));
    }
    static __m512 dw(__m512 s, int r) { return spread2(s, 2 * r, 2 * r + 1); }
    template <bool kSingle>
    static __m512i prep(const WB* w, int b) { return nibbles_pair<kSingle>(w[b].qs, w[b + !kSingle].qs); }
};

struct FmtQ8_0 {
    using WB = block_q8_0;
    using XB = block_q8_0;
    static constexpr bool kHasMin = false;
    static constexpr int kOffset = 128;
    template <bool kSingle, int R>
    static __m512 scales(const WB* const (&w)[R], int b) {
        return _mm512_castps256_ps512(_mm256_cvtph_ps(gather_d<kSingle, R>(w, b)));
    }
    static __m512 dw(__m512 s, int r) { return spread2(s, 2 * r, 2 * r + 1); }
    template <bool kSingle>
    static __m512i prep(const WB* w, int b) {  // w + 128 as unsigned bytes
        return _mm512_xor_si512(load_pair<kSingle>(w[b].qs, w[b + !kSingle].qs), _mm512_set1_epi8((char)0x80));
    }
};

struct FmtQ4_1 {
    using WB = block_q4_1;
    using XB = block_q8_1;
    static constexpr bool kHasMin = true;
    static constexpr int kOffset = 0;
    template <bool kSingle, int R>
    static __m512 scales(const WB* const (&w)[R], int b) {  // lanes 4r..4r+3: d_b, m_b, d_b+1, m_b+1
        return _mm512_cvtph_ps(gather_dm<kSingle, R>(w, b));
    }
    static __m512 dw(__m512 s, int r) { return spread2(s, 4 * r, 4 * r + 2); }
    // lanes 2r, 2r+1 <- m_b, m_b+1 of row r
    static __m512 mins(__m512 s) {
        return _mm512_permutexvar_ps(_mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 0, 0, 0, 0, 0, 0, 0, 0), s);
    }
    template <bool kSingle>
    static __m512i prep(const WB* w, int b) { return nibbles_pair<kSingle>(w[b].qs, w[b + !kSingle].qs); }
};

struct FmtQ5_0 : FmtQ4_0 {
    using WB = block_q5_0;
    static constexpr int kOffset = 16;
    template <bool kSingle, int R>
    static __m512 scales(const WB* const (&w)[R], int b) {
        return _mm512_castps256_ps512(_mm256_cvtph_ps(gather_d<kSingle, R>(w, b)));
    }
    template <bool kSingle>
    static __m512i prep(const WB* w, int b) { return q5_pair<kSingle>(w[b], w[b + !kSingle]); }
};

struct FmtQ5_1 : FmtQ4_1 {
    using WB = block_q5_1;
    template <bool kSingle, int R>
    static __m512 scales(const WB* const (&w)[R], int b) { return _mm512_cvtph_ps(gather_dm<kSingle, R>(w, b)); }
    template <bool kSingle>
    static __m512i prep(const WB* w, int b) { return q5_pair<kSingle>(w[b], w[b + !kSingle]); }
};

// One R x T tile (R <= 4): per pair of blocks, each row's weight operand and scales are made
// once and used for T tokens; acc[r][t] has 16 lanes. Q4_1's m * s terms go to macc[t], lanes
// 2r and 2r+1 (blocks b and b+1), added after the horizontal sums.
template <class F>
struct QuantTile {
    using WB = typename F::WB;
    using XB = typename F::XB;

    template <bool kSingle, int R, int T>
    __attribute__((always_inline)) static inline void step(const WB* const (&w)[R], const XB* const (&x)[T],
                                                           const float* const (&xd)[T], const float* const (&xs)[T],
                                                           int b, __m512 (&acc)[R][T], __m512 (&macc)[T]) {
        __m512i xv[T], init[T];
        __m512 dx[T];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            xv[t] = load_pair<kSingle>(x[t][b].qs, x[t][b + !kSingle].qs);
            init[t] = F::kOffset == 0 ? _mm512_setzero_si512()
                                      : _mm512_sub_epi32(_mm512_setzero_si512(),
                                                         _mm512_dpbusd_epi32(_mm512_setzero_si512(),
                                                                             _mm512_set1_epi8((char)F::kOffset), xv[t]));
            const __m128 d2 = kSingle ? _mm_load_ss(xd[t] + b) : _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(xd[t] + b)));
            dx[t] = spread2(_mm512_castps128_ps512(d2), 0, 1);
        }
        const __m512 s = F::template scales<kSingle, R>(w, b);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const __m512i q = F::template prep<kSingle>(w[r], b);
            const __m512 dw = F::dw(s, r);
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                const __m512 sumi = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(init[t], q, xv[t]));
                acc[r][t] = _mm512_fmadd_ps(sumi, _mm512_mul_ps(dw, dx[t]), acc[r][t]);
            }
        }
        if constexpr (F::kHasMin) {
            const __m512 m = F::mins(s);
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                const __m128 s2 = kSingle ? _mm_load_ss(xs[t] + b) : _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(xs[t] + b)));
                const __m512 sv = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1),
                                                        _mm512_castps128_ps512(s2));
                macc[t] = _mm512_fmadd_ps(m, sv, macc[t]);
            }
        }
    }

    template <int R, int T>
    static void tile(const TileArgs& a, int r0, int t0) {
        const WB* w[R];
        const XB* x[T];
        const float* xd[T];
        const float* xs[T];
        const int nb = a.n_in / 32;
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) w[r] = reinterpret_cast<const WB*>(a.W + (size_t)(r0 + r) * a.w_row_bytes);
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            x[t] = reinterpret_cast<const XB*>(a.X + (size_t)(t0 + t) * a.x_row_bytes);
            xd[t] = a.xd + (size_t)(t0 + t) * nb;
            xs[t] = F::kHasMin ? a.xs + (size_t)(t0 + t) * nb : nullptr;
        }
        __m512 acc[R][T], macc[T];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            macc[t] = _mm512_setzero_ps();
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) acc[r][t] = _mm512_setzero_ps();
        }
        int b = 0;
        for (; b + 2 <= nb; b += 2) step<false, R, T>(w, x, xd, xs, b, acc, macc);
        if (b < nb) step<true, R, T>(w, x, xd, xs, b, acc, macc);
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            alignas(64) float ms[16];
            _mm512_store_ps(ms, macc[t]);
#pragma GCC unroll 8
            for (int r = 0; r < R; r++)
                a.Y[(size_t)(t0 + t) * a.ldy + r0 + r] =
                    _mm512_reduce_add_ps(acc[r][t]) + (F::kHasMin ? ms[2 * r] + ms[2 * r + 1] : 0.0f);
        }
    }
};

// Tile shapes: prompt processing 4 rows x 4 tokens (16 zmm accumulators; the measured best of
// 2x4 .. 4x4 on a Sapphire Rapids core), decode 4 rows at once.
constexpr int kRows = 4, kToks = 4, kGemvRows = 4;

struct Scratch {
    std::vector<float> xd, xs;
};
Scratch& scratch() {
    static thread_local Scratch s;
    return s;
}

// Y (n_tok, n_out) = X (n_tok, n_in) @ W (n_out, n_in)^T for rows [row0, row1).
template <class F>
void matmul_blocks(const void* W, size_t w_row_bytes, const void* X, size_t x_row_bytes, float* Y, size_t ldy,
                   int n_in, int n_tok, int row0, int row1) {
    using XB = typename F::XB;
    const int nb = n_in / 32;
    Scratch& s = scratch();
    s.xd.resize((size_t)n_tok * nb);
    if constexpr (F::kHasMin) s.xs.resize((size_t)n_tok * nb);
    for (int t = 0; t < n_tok; t++) {
        const XB* x = reinterpret_cast<const XB*>(static_cast<const uint8_t*>(X) + (size_t)t * x_row_bytes);
        for (int b = 0; b < nb; b++) {
            s.xd[(size_t)t * nb + b] = half(x[b].d);
            if constexpr (F::kHasMin) s.xs[(size_t)t * nb + b] = half(x[b].s);
        }
    }
    TileArgs a{static_cast<const uint8_t*>(W), w_row_bytes, static_cast<const uint8_t*>(X), x_row_bytes, Y, ldy, n_in};
    a.xd = s.xd.data();
    a.xs = s.xs.data();
    using K = QuantTile<F>;
    if (n_tok == 1) for_each_tile<K, kGemvRows, 1>(a, 1, row0, row1);
    else for_each_tile<K, kRows, kToks>(a, n_tok, row0, row1);
}

}  // namespace

void register_legacy(KernelTable& t) {
    t.matmul[GGML_Q4_0] = {ACT_Q8_0, &matmul_blocks<FmtQ4_0>};
    t.matmul[GGML_Q4_1] = {ACT_Q8_1, &matmul_blocks<FmtQ4_1>};
    t.matmul[GGML_Q5_0] = {ACT_Q8_0, &matmul_blocks<FmtQ5_0>};
    t.matmul[GGML_Q5_1] = {ACT_Q8_1, &matmul_blocks<FmtQ5_1>};
    t.matmul[GGML_Q8_0] = {ACT_Q8_0, &matmul_blocks<FmtQ8_0>};
}

}  // namespace edgeq::avx512
