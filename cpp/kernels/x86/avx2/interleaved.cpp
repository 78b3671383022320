// AVX2 matmul for the x16 layouts (kernels/interleave.h): Q4_0 / Q5_0 / Q8_0 weights with Q8_0
// activations, Q4_1 with Q8_1 activations. The AVX-512 kernel's idea (x86/avx512/interleaved.cpp)
// on 8-row halves of each 16-row tile: a ymm holds 4 weight bytes of 8 rows; vpmaddubsw with the
// token's 4 activation bytes broadcast gives each row two int16 pair sums, vpmaddwd with ones
// makes them one int32 per row. No horizontal sums: 8 rows' results come out as one vector.
// int16 headroom (activations |x| <= 127):
//   Q4_0 / Q4_1: q in [0, 15], pair <= 3810: the 8 groups' pairs add up in int16 (<= 30480);
//   Q5_0: q in [0, 31], pair <= 7874: 4 groups at a time (<= 31496);
//   Q8_0: stored as w + 128; the usual sign trick |w| . (x * sign(w)), pair <= 32512: one group
//         at a time.
// Q4_0 / Q5_0 subtract their offset with the per-block term corr = -K sum x (x16_act.h).
#include <immintrin.h>

#include <cstddef>
#include <cstring>

#include "kernels/interleave.h"
#include "kernels/x16_act.h"
#include "kernels/x86/avx2/avx2.h"
#include "kernels/x86/avx2/tiles.h"

namespace edgeq::avx2 {
namespace {

constexpr int kToks = 4;  // tokens per tile (16 ymm: 8 weight registers, the rest accumulators)

using x16::ActInfo;
ActInfo& act_info() {
    static thread_local ActInfo a;
    return a;
}

// Q4 tiles, half h (rows 8h .. 8h+7): qs[j] bytes 32h.. of each 64 -> u[j] low, u[j+4] high nibbles.
inline void unpack_q4(const uint8_t* p, int h, __m256i (&u)[8]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int j = 0; j < 4; j++) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 64 * j + 32 * h));
        u[j] = _mm256_and_si256(v, m4);
        u[j + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    }
}

inline __m256i broadcast_i32(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// int32 per row of sum_G u[G] . x[4G .. 4G+3], u[G] unsigned with values <= kMax.
template <int kGroupsPerSum>
inline __m256i dot_unsigned(const __m256i (&u)[8], const int8_t* q) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i s32 = _mm256_setzero_si256();
    for (int g0 = 0; g0 < 8; g0 += kGroupsPerSum) {
        __m256i s16 = _mm256_maddubs_epi16(u[g0], broadcast_i32(q + 4 * g0));
        for (int g = g0 + 1; g < g0 + kGroupsPerSum; g++)
            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(u[g], broadcast_i32(q + 4 * g)));
        s32 = _mm256_add_epi32(s32, _mm256_madd_epi16(s16, ones));
    }
    return s32;
}

struct FmtQ4_0 {
    using XB = block_q8_0;
    static constexpr int kOffset = 8, kTile = 288, kD = 256;
    static constexpr bool kHasMin = false;
    static void unpack(const uint8_t* p, int h, __m256i (&u)[8]) { unpack_q4(p, h, u); }
    static __m256i dot(const __m256i (&u)[8], const int8_t* q) { return dot_unsigned<8>(u, q); }
};

struct FmtQ4_1 : FmtQ4_0 {
    using XB = block_q8_1;
    static constexpr int kOffset = 0, kTile = 320;
    static constexpr bool kHasMin = true;  // m[16] follows d[16]
};

struct FmtQ5_0 {
    using XB = block_q8_0;
    static constexpr int kOffset = 16, kTile = 352, kD = 320;
    static constexpr bool kHasMin = false;
    static void unpack(const uint8_t* p, int h, __m256i (&u)[8]) {  // + bit 4: qh[G]'s 32 bits of this half
        unpack_q4(p, h, u);
        for (int g = 0; g < 8; g++) u[g] = _mm256_or_si256(u[g], q5_high_bits(p + 256 + 8 * g + 4 * h));
    }
    static __m256i dot(const __m256i (&u)[8], const int8_t* q) { return dot_unsigned<4>(u, q); }
};

struct FmtQ8_0 {
    using XB = block_q8_0;
    static constexpr int kOffset = 0, kTile = 544, kD = 512;  // the sign trick needs no offset term
    static constexpr bool kHasMin = false;
    static void unpack(const uint8_t* p, int h, __m256i (&u)[8]) {  // signed w (stored as w + 128)
        for (int g = 0; g < 8; g++)
            u[g] = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 64 * g + 32 * h)),
                                    _mm256_set1_epi8((char)0x80));
    }
    static __m256i dot(const __m256i (&w)[8], const int8_t* q) {
        const __m256i ones = _mm256_set1_epi16(1);
        __m256i s32 = _mm256_setzero_si256();
        for (int g = 0; g < 8; g++) {
            const __m256i p16 = _mm256_maddubs_epi16(_mm256_abs_epi8(w[g]), _mm256_sign_epi8(broadcast_i32(q + 4 * g), w[g]));
            s32 = _mm256_add_epi32(s32, _mm256_madd_epi16(p16, ones));
        }
        return s32;
    }
};

// Rows r0 + 8h .. r0 + 8h + 7 of the group at G x tokens t0 .. t0+T-1; lane i is stored where
// bit i of mask8 is set.
template <class F, int T>
void tile(const uint8_t* G, int h, int nb, const uint8_t* X, size_t x_row_bytes, const ActInfo& a, int t0, float* Y,
          size_t ldy, int r0, unsigned mask8) {
    using XB = typename F::XB;
    const XB* x[T];
    __m256 acc[T];
    for (int t = 0; t < T; t++) {
        x[t] = reinterpret_cast<const XB*>(X + (size_t)(t0 + t) * x_row_bytes);
        acc[t] = _mm256_setzero_ps();
    }
    for (int b = 0; b < nb; b++, G += F::kTile) {
        __m256i u[8];
        F::unpack(G, h, u);
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(G + F::kD + 16 * h)));
        for (int t = 0; t < T; t++) {
            const size_t i = (size_t)(t0 + t) * nb + b;
            __m256i s = F::dot(u, x[t][b].qs);
            if constexpr (F::kOffset != 0) s = _mm256_add_epi32(s, _mm256_set1_epi32(a.corr[i]));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, _mm256_set1_ps(a.d[i])), acc[t]);
            if constexpr (F::kHasMin) {
                const __m256 mw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(G + F::kD + 32 + 16 * h)));
                acc[t] = _mm256_fmadd_ps(mw, _mm256_set1_ps(a.s[i]), acc[t]);
            }
        }
    }
    // lane i of the store mask: all ones iff bit i of mask8
    const __m256i m = _mm256_cmpeq_epi32(
        _mm256_and_si256(_mm256_set1_epi32((int)mask8), _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128)),
        _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128));
    for (int t = 0; t < T; t++) _mm256_maskstore_ps(Y + (size_t)(t0 + t) * ldy + r0 + 8 * h, m, acc[t]);
}

// Y (n_tok, n_out) = X (n_tok, n_in) @ W (n_out, n_in)^T for rows [row0, row1), W in an x16
// layout: each 8-row half of a group meets every token, kToks at a time.
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
        const unsigned mask = ((1u << hi) - 1) & ~((1u << lo) - 1);
        const uint8_t* G = static_cast<const uint8_t*>(W) + (size_t)(r0 / x16::kRows) * group_bytes;
        for (int h = 0; h < 2; h++) {
            const unsigned m8 = (mask >> (8 * h)) & 0xFF;
            if (!m8) continue;
            int t = 0;
            for (; t + kToks <= n_tok; t += kToks) tile<F, kToks>(G, h, nb, Xb, x_row_bytes, a, t, Y, ldy, r0, m8);
            switch (n_tok - t) {
                case 3: tile<F, 3>(G, h, nb, Xb, x_row_bytes, a, t, Y, ldy, r0, m8); break;
                case 2: tile<F, 2>(G, h, nb, Xb, x_row_bytes, a, t, Y, ldy, r0, m8); break;
                case 1: tile<F, 1>(G, h, nb, Xb, x_row_bytes, a, t, Y, ldy, r0, m8); break;
                default: break;
            }
        }
    }
}
static_assert(kToks == 4, "matmul_x16's token tail handles 1 .. 3 tokens");

}  // namespace

void register_interleaved(KernelTable& t) {
    t.matmul[EDGEQ_Q4_0X16] = {ACT_Q8_0, &matmul_x16<FmtQ4_0>};
    t.matmul[EDGEQ_Q4_1X16] = {ACT_Q8_1, &matmul_x16<FmtQ4_1>};
    t.matmul[EDGEQ_Q5_0X16] = {ACT_Q8_0, &matmul_x16<FmtQ5_0>};
    t.matmul[EDGEQ_Q8_0X16] = {ACT_Q8_0, &matmul_x16<FmtQ8_0>};
}

}  // namespace edgeq::avx2
