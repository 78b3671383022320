// AVX-512 VNNI matmul for the x16 layouts (kernels/interleave.h): Q4_0 / Q5_0 / Q8_0 weights with
// Q8_0 activations, Q4_1 with Q8_1 activations, 16 rows interleaved.
//
// Per tile (16 rows x one 32-block) the weights unpack into 8 registers u[G], lane i = 4 unsigned
// bytes of row i (values 4G .. 4G+3). For each token, vpdpbusd(u[G], broadcast of the token's
// 4 activation bytes 4G .. 4G+3) over G = 0 .. 7 leaves row i's exact int32 block dot in lane i:
//   Q4_1:  sum q x                           (q in [0, 15])
//   Q4_0:  sum q x - 8 sum x     Q5_0: sum q x - 16 sum x     Q8_0: sum (w + 128) x - 128 sum x
// (the offset term starts the sum: corr = -K * sum x per token and block, computed once per call).
// Then acc += float(sum) * (dw * dx) [+ mw * sx] per lane: 16 rows' results come out as one
// vector, no horizontal sums. Tiles of 16 rows x kToks tokens share each unpacked weight tile.
#include <immintrin.h>

#include <cstddef>
#include <cstring>
#include <vector>
// GCC 12 reports the _mm512_undefined_* inside its own AVX-512 headers as uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/interleave.h"
#include "kernels/x16_act.h"
#include "kernels/x86/avx512/avx512.h"

namespace edgeq::avx512 {
namespace {

constexpr int kToks = 8;  // tokens per tile in prefill (see matmul_x16)

inline __m512i nibble_low(__m512i v) { return _mm512_and_si512(v, _mm512_set1_epi8(0x0F)); }
inline __m512i nibble_high(__m512i v) { return _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0F)); }

// Q4 tiles: qs[4][16] -> u[0..3] low nibbles, u[4..7] high nibbles.
inline void unpack_q4(const uint8_t* p, __m512i (&u)[8]) {
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        const __m512i v = _mm512_loadu_si512(p + 64 * j);
        u[j] = nibble_low(v);
        u[j + 4] = nibble_high(v);
    }
}

struct FmtQ4_0 {
    static constexpr int kPrefetch = 0;
    using XB = block_q8_0;
    static constexpr int kOffset = 8, kTile = 288, kD = 256;
    static constexpr bool kHasMin = false;
    static void unpack(const uint8_t* p, __m512i (&u)[8]) { unpack_q4(p, u); }
};

struct FmtQ4_1 {
    static constexpr int kPrefetch = 0;
    using XB = block_q8_1;
    static constexpr int kOffset = 0, kTile = 320, kD = 256;
    static constexpr bool kHasMin = true;  // m[16] follows d[16]
    static void unpack(const uint8_t* p, __m512i (&u)[8]) { unpack_q4(p, u); }
};

struct FmtQ5_0 {
    static constexpr int kPrefetch = 0;
    using XB = block_q8_0;
    static constexpr int kOffset = 16, kTile = 352, kD = 320;
    static constexpr bool kHasMin = false;
    static void unpack(const uint8_t* p, __m512i (&u)[8]) {  // + bit 4 from the qh byte masks
        unpack_q4(p, u);
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            uint64_t m;
            std::memcpy(&m, p + 256 + 8 * g, 8);
            u[g] = _mm512_mask_add_epi8(u[g], _cvtu64_mask64(m), u[g], _mm512_set1_epi8(0x10));
        }
    }
};

struct FmtQ8_0 {
    // Decode reads 2x the bytes per multiply-add of the Q4 formats; prefetching a few KB ahead
    // streams from DRAM faster than the hardware prefetcher alone (gemv bench, 4096 x 2560 from DRAM: ~20 -> ~22 GB/s).
    static constexpr int kPrefetch = 4096;
    using XB = block_q8_0;
    static constexpr int kOffset = 128, kTile = 544, kD = 512;  // stored as w + 128
    static constexpr bool kHasMin = false;
    static void unpack(const uint8_t* p, __m512i (&u)[8]) {
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) u[g] = _mm512_loadu_si512(p + 64 * g);
    }
};

using x16::ActInfo;
ActInfo& act_info() {
    static thread_local ActInfo a;
    return a;
}

inline int32_t load_i32(const void* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// Rows r0 .. r0+15 (the group at G; only rows in `mask` are stored) x tokens t0 .. t0+T-1.
template <class F, int T>
__attribute__((always_inline)) inline void tile(const uint8_t* G, int nb, const uint8_t* X, size_t x_row_bytes,
                                                const ActInfo& a, int t0, float* Y, size_t ldy, int r0, __mmask16 mask) {
    using XB = typename F::XB;
    const XB* x[T];
    __m512 acc[T];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) {
        x[t] = reinterpret_cast<const XB*>(X + (size_t)(t0 + t) * x_row_bytes);
        acc[t] = _mm512_setzero_ps();
    }
    for (int b = 0; b < nb; b++, G += F::kTile) {
        if constexpr (T == 1 && F::kPrefetch > 0)  // see FmtQ8_0
            for (int off = 0; off < F::kTile; off += 64) _mm_prefetch((const char*)G + F::kPrefetch + off, _MM_HINT_T0);
        __m512i u[8];
        F::unpack(G, u);
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(G + F::kD)));
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const size_t i = (size_t)(t0 + t) * nb + b;
            const int8_t* q = x[t][b].qs;
            // Two chains when few tokens give little else to overlap with vpdpbusd's latency.
            __m512i s0 = F::kOffset ? _mm512_set1_epi32(a.corr[i]) : _mm512_setzero_si512();
            __m512i s1 = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++) {
                const __m512i xg = _mm512_set1_epi32(load_i32(q + 4 * g));
                if (T <= 2 && g >= 4) s1 = _mm512_dpbusd_epi32(s1, u[g], xg);
                else s0 = _mm512_dpbusd_epi32(s0, u[g], xg);
            }
            if (T <= 2) s0 = _mm512_add_epi32(s0, s1);
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), _mm512_mul_ps(dw, _mm512_set1_ps(a.d[i])), acc[t]);
            if constexpr (F::kHasMin) {
                const __m512 mw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(G + F::kD + 32)));
                acc[t] = _mm512_fmadd_ps(mw, _mm512_set1_ps(a.s[i]), acc[t]);
            }
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) _mm512_mask_storeu_ps(Y + (size_t)(t0 + t) * ldy + r0, mask, acc[t]);
}

// The last nt < T tokens of a group: one tile of nt tokens.
template <class F, int T>
void token_tail(const uint8_t* G, int nb, const uint8_t* X, size_t x_row_bytes, const ActInfo& a, int t0, float* Y,
                size_t ldy, int r0, __mmask16 mask, int nt) {
    if constexpr (T > 1) {
        if (nt == T - 1) tile<F, T - 1>(G, nb, X, x_row_bytes, a, t0, Y, ldy, r0, mask);
        else token_tail<F, T - 1>(G, nb, X, x_row_bytes, a, t0, Y, ldy, r0, mask, nt);
    }
}

// Y (n_tok, n_out) = X (n_tok, n_in) @ W (n_out, n_in)^T for rows [row0, row1), W in an x16
// layout: each 16-row group (its tiles stay in L1) meets every token, kToks at a time.
template <class F>
void matmul_x16(const void* W, size_t w_row_bytes, const void* X, size_t x_row_bytes, float* Y, size_t ldy, int n_in,
                int n_tok, int row0, int row1) {
    const int nb = n_in / 32;
    ActInfo& a = act_info();
    const uint8_t* Xb = static_cast<const uint8_t*>(X);
    x16::prepare_act<F>(a, Xb, x_row_bytes, n_tok, nb);
    const size_t group_bytes = (size_t)x16::kRows * w_row_bytes;
    for (int r0 = row0 / x16::kRows * x16::kRows; r0 < row1; r0 += x16::kRows) {
        const int lo = row0 > r0 ? row0 - r0 : 0, hi = row1 < r0 + x16::kRows ? row1 - r0 : x16::kRows;
        const __mmask16 mask = (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
        const uint8_t* G = static_cast<const uint8_t*>(W) + (size_t)(r0 / x16::kRows) * group_bytes;
        int t = 0;
        for (; t + kToks <= n_tok; t += kToks) tile<F, kToks>(G, nb, Xb, x_row_bytes, a, t, Y, ldy, r0, mask);
        if (t < n_tok) token_tail<F, kToks>(G, nb, Xb, x_row_bytes, a, t, Y, ldy, r0, mask, n_tok - t);
    }
}

// ---- Q4_Kx16 with Q8_K activations ---------------------------------------------------------------
// Per super-block tile and token, as the reference: isum = sum_j sc[j] * (int32 dot of sub-block
// j) and imin = sum_j m[j] * (bsums of sub-block j), exact in int32 per lane (vpmulld), then
// acc += (d dx) float(isum) - (dmin dx) float(imin).
using x16::kQ4KSc, x16::kQ4KM, x16::kQ4KD, x16::kQ4KDmin, x16::kQ4KQs;
constexpr int kQ4KTile = 2368;

inline __m512i bytes_to_i32(const uint8_t* p) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

template <int T>
__attribute__((always_inline)) inline void tile_q4k(const uint8_t* G, int nb, const uint8_t* X, size_t x_row_bytes,
                                                    int t0, float* Y, size_t ldy, int r0, __mmask16 mask) {
    const block_q8_K* x[T];
    __m512 acc[T];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) {
        x[t] = reinterpret_cast<const block_q8_K*>(X + (size_t)(t0 + t) * x_row_bytes);
        acc[t] = _mm512_setzero_ps();
    }
    for (int b = 0; b < nb; b++, G += kQ4KTile) {
        __m512i isum[T], imin[T];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) isum[t] = imin[t] = _mm512_setzero_si512();
        for (int p = 0; p < 4; p++) {  // sub-blocks 2p (low nibbles) and 2p+1 (high) share qs[8p .. 8p+7]
            __m512i raw[8];
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++) raw[g] = _mm512_loadu_si512(G + kQ4KQs + 64 * (8 * p + g));
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                const int j = 2 * p + h;
                __m512i u[8];
#pragma GCC unroll 8
                for (int g = 0; g < 8; g++) u[g] = h ? nibble_high(raw[g]) : nibble_low(raw[g]);
                const __m512i sc = bytes_to_i32(G + kQ4KSc + 16 * j), m = bytes_to_i32(G + kQ4KM + 16 * j);
#pragma GCC unroll 8
                for (int t = 0; t < T; t++) {
                    const int8_t* q = x[t][b].qs + 32 * j;
                    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
#pragma GCC unroll 8
                    for (int g = 0; g < 8; g++) {
                        const __m512i xg = _mm512_set1_epi32(load_i32(q + 4 * g));
                        if (g & 1) s1 = _mm512_dpbusd_epi32(s1, u[g], xg);
                        else s0 = _mm512_dpbusd_epi32(s0, u[g], xg);
                    }
                    isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(_mm512_add_epi32(s0, s1), sc));
                    const int bs = x[t][b].bsums[2 * j] + x[t][b].bsums[2 * j + 1];
                    imin[t] = _mm512_add_epi32(imin[t], _mm512_mullo_epi32(m, _mm512_set1_epi32(bs)));
                }
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(G + kQ4KD)));
        const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(G + kQ4KDmin)));
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const __m512 dx = _mm512_set1_ps(x[t][b].d);
            acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(isum[t]), acc[t]);
            acc[t] = _mm512_fnmadd_ps(_mm512_mul_ps(dmin, dx), _mm512_cvtepi32_ps(imin[t]), acc[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) _mm512_mask_storeu_ps(Y + (size_t)(t0 + t) * ldy + r0, mask, acc[t]);
}


// ---- Q6_Kx16 with Q8_K activations ---------------------------------------------------------------
// Per super-block tile and token, as the reference: isum = sum_s sc[s] * sum_{k in s} (q - 32) x,
// with sum (q - 32) x = (int32 dot of the unsigned 6-bit q) - 32 bsums[s], exact in int32 per
// lane; then acc += (d dx) float(isum). Each 32-value quarter (h, u) unpacks 8 registers
// (l4 = 0 .. 7): low 4 bits from ql, bits 4..5 from qh (kernels/interleave.h).


using x16::kQ6KSc, x16::kQ6KD, x16::kQ6KQ, x16::kQ6KHalf, x16::kQ6KQl;  // half h: qh[8] | ql[16]
constexpr int kQ6KTile = 3360;

// Bits 2u, 2u+1 of every byte of v -> bits 4, 5.
template <int U>
inline __m512i q6_high(__m512i v) {
    const __m512i m = _mm512_set1_epi8(0x30);
    if constexpr (U == 0) return _mm512_and_si512(_mm512_slli_epi16(v, 4), m);
    else if constexpr (U == 1) return _mm512_and_si512(_mm512_slli_epi16(v, 2), m);
    else if constexpr (U == 2) return _mm512_and_si512(v, m);
    else return _mm512_and_si512(_mm512_srli_epi16(v, 2), m);
}

// Quarter U of half h: 8 registers w[l4] = low 4 bits (ql nibbles) | bits 4..5 (from qh), then
// sub-blocks s0 = 8h + 2U (l4 < 4) and s0 + 1 for every token.
template <int T, int U>
__attribute__((always_inline)) inline void q6k_quarter(const uint8_t* G, int h, const __m512i (&ql)[8],
                                                       const __m512i (&qh)[8], const block_q8_K* const (&x)[T], int b,
                                                       __m512i (&isum)[T]) {
    __m512i w[8];
#pragma GCC unroll 8
    for (int l4 = 0; l4 < 8; l4++) w[l4] = _mm512_or_si512(U >= 2 ? nibble_high(ql[l4]) : nibble_low(ql[l4]), q6_high<U>(qh[l4]));
    const int s0 = 8 * h + 2 * U;
    const __m512i sc0 = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(G + kQ6KSc + 16 * s0)));
    const __m512i sc1 = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(G + kQ6KSc + 16 * s0 + 16)));
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) {
        const int8_t* q = x[t][b].qs + 16 * s0;
        __m512i p0 = _mm512_set1_epi32(-32 * x[t][b].bsums[s0]), p1 = _mm512_set1_epi32(-32 * x[t][b].bsums[s0 + 1]);
#pragma GCC unroll 4
        for (int g = 0; g < 4; g++) {
            p0 = _mm512_dpbusd_epi32(p0, w[g], _mm512_set1_epi32(load_i32(q + 4 * g)));
            p1 = _mm512_dpbusd_epi32(p1, w[g + 4], _mm512_set1_epi32(load_i32(q + 16 + 4 * g)));
        }
        isum[t] = _mm512_add_epi32(isum[t], _mm512_add_epi32(_mm512_mullo_epi32(p0, sc0), _mm512_mullo_epi32(p1, sc1)));
    }
}

template <int T>
__attribute__((always_inline)) inline void tile_q6k(const uint8_t* G, int nb, const uint8_t* X, size_t x_row_bytes,
                                                    int t0, float* Y, size_t ldy, int r0, __mmask16 mask) {
    const block_q8_K* x[T];
    __m512 acc[T];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) {
        x[t] = reinterpret_cast<const block_q8_K*>(X + (size_t)(t0 + t) * x_row_bytes);
        acc[t] = _mm512_setzero_ps();
    }
    for (int b = 0; b < nb; b++, G += kQ6KTile) {
        __m512i isum[T];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) isum[t] = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            __m512i qh[8];
#pragma GCC unroll 8
            for (int l4 = 0; l4 < 8; l4++) qh[l4] = _mm512_loadu_si512(G + kQ6KQ + kQ6KHalf * h + 64 * l4);
#pragma GCC unroll 2
            for (int uu = 0; uu < 2; uu++) {  // ql[16h + 8uu ..]: quarters uu (low nibbles) and uu + 2 (high)
                __m512i ql[8];
#pragma GCC unroll 8
                for (int l4 = 0; l4 < 8; l4++)
                    ql[l4] = _mm512_loadu_si512(G + kQ6KQ + kQ6KHalf * h + kQ6KQl + 64 * (8 * uu + l4));
                if (uu == 0) {
                    q6k_quarter<T, 0>(G, h, ql, qh, x, b, isum);
                    q6k_quarter<T, 2>(G, h, ql, qh, x, b, isum);
                } else {
                    q6k_quarter<T, 1>(G, h, ql, qh, x, b, isum);
                    q6k_quarter<T, 3>(G, h, ql, qh, x, b, isum);
                }
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(G + kQ6KD)));
#pragma GCC unroll 8
        for (int t = 0; t < T; t++)
            acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(x[t][b].d)), _mm512_cvtepi32_ps(isum[t]), acc[t]);
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) _mm512_mask_storeu_ps(Y + (size_t)(t0 + t) * ldy + r0, mask, acc[t]);
}

// The super-block x16 types' driver: each 16-row group meets every token, kKToks at a time;
// Tile<T>::run computes one group x T tokens.
constexpr int kKToks = 4;

template <template <int> class Tile>
void matmul_k_x16(const void* W, size_t w_row_bytes, const void* X, size_t x_row_bytes, float* Y, size_t ldy,
                  int n_in, int n_tok, int row0, int row1) {
    const int nb = n_in / QK_K;
    const uint8_t* Xb = static_cast<const uint8_t*>(X);
    const size_t group_bytes = (size_t)x16::kRows * w_row_bytes;
    for (int r0 = row0 / x16::kRows * x16::kRows; r0 < row1; r0 += x16::kRows) {
        const int lo = row0 > r0 ? row0 - r0 : 0, hi = row1 < r0 + x16::kRows ? row1 - r0 : x16::kRows;
        const __mmask16 mask = (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
        const uint8_t* G = static_cast<const uint8_t*>(W) + (size_t)(r0 / x16::kRows) * group_bytes;
        int t = 0;
        for (; t + kKToks <= n_tok; t += kKToks) Tile<kKToks>::run(G, nb, Xb, x_row_bytes, t, Y, ldy, r0, mask);
        switch (n_tok - t) {
            case 3: Tile<3>::run(G, nb, Xb, x_row_bytes, t, Y, ldy, r0, mask); break;
            case 2: Tile<2>::run(G, nb, Xb, x_row_bytes, t, Y, ldy, r0, mask); break;
            case 1: Tile<1>::run(G, nb, Xb, x_row_bytes, t, Y, ldy, r0, mask); break;
            default: break;
        }
    }
}
static_assert(kKToks == 4, "matmul_k_x16's token tail handles 1 .. 3 tokens");

template <int T>
struct TileQ4K {
    static void run(const uint8_t* G, int nb, const uint8_t* X, size_t xrb, int t0, float* Y, size_t ldy, int r0,
                    __mmask16 mask) { tile_q4k<T>(G, nb, X, xrb, t0, Y, ldy, r0, mask); }
};
template <int T>
struct TileQ6K {
    static void run(const uint8_t* G, int nb, const uint8_t* X, size_t xrb, int t0, float* Y, size_t ldy, int r0,
                    __mmask16 mask) { tile_q6k<T>(G, nb, X, xrb, t0, Y, ldy, r0, mask); }
};

}  // namespace

void register_interleaved(KernelTable& t) {
    t.matmul[EDGEQ_Q4_KX16] = {ACT_Q8_K, &matmul_k_x16<TileQ4K>};
    t.matmul[EDGEQ_Q6_KX16] = {ACT_Q8_K, &matmul_k_x16<TileQ6K>};
    t.matmul[EDGEQ_Q4_0X16] = {ACT_Q8_0, &matmul_x16<FmtQ4_0>};
    t.matmul[EDGEQ_Q4_1X16] = {ACT_Q8_1, &matmul_x16<FmtQ4_1>};
    t.matmul[EDGEQ_Q5_0X16] = {ACT_Q8_0, &matmul_x16<FmtQ5_0>};
    t.matmul[EDGEQ_Q8_0X16] = {ACT_Q8_0, &matmul_x16<FmtQ8_0>};
}

}  // namespace edgeq::avx512
