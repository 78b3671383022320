// AVX2 EDGEQ_TL2 kernels (layout and math: kernels/ternary_lut.h; loop nest:
// kernels/ternary_lut_driver.h) and the ACT_I8_LUT3 quantizer. Bit-exact with
// cpp/kernels/ref/ternary_lut.cpp.
//
// One or two 32-row halves of a tile per pass. Per triple j: the 32 rows' 4-bit indices (one nibble of a
// 32-byte pair load) select bytes of the triple's lo and hi tables (pshufb), the sign mask m
// (0xff where the row's triple is negated, from one bit of the 32-byte sign group) turns both
// bytes into those of ~v = -v - 1 (xor), and unpacking lo with hi gives each row's int16 in
// lanes [0-7, 16-23] (unpacklo) and [8-15, 24-31] (unpackhi). A block's 86 int16 sums wrap
// harmlessly: the true block sum isum_b fits int16 (|isum_b| <= 256 * 127), and adding back the
// count of negated triples (counted in int8: <= 86) modulo 2^16 restores it exactly.
#include <immintrin.h>

#include <cstring>

#include "kernels/ternary_lut_driver.h"
#include "kernels/x86/avx2/avx2.h"

namespace edgeq::avx2 {
namespace {

using namespace tl;

inline __m256i bcast_table(const uint8_t* p) { return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)p)); }

struct Kernel {
    static constexpr int kGroup = 4;

    // Triples 8g + e, e < NE, of NH half-tiles (32 rows each; the first at byte h0 of each 64-byte
    // row group), for G tokens: acc[t][2 hh + 0 / 1] += their int16 values, cnt[hh] += 1 per
    // negated triple. Only these NE triples are unrolled: unrolling a whole block let GCC spill
    // every partial sum.
    template <int G, int NH, int NE>
    static inline void triples(const uint8_t* blk, int g, int h0, const uint8_t* const tab[G], __m256i acc[][2 * NH],
                               __m256i cnt[NH]) {
        const __m256i m0f = _mm256_set1_epi8(0x0f);
        __m256i S[NH];
        for (int hh = 0; hh < NH; hh++)
            S[hh] = _mm256_loadu_si256((const __m256i*)(blk + kIdxBytes + g * kTileRows + h0 + 32 * hh));
        const uint8_t* idx = blk + 4 * g * kTileRows + h0;  // pair 4g: triples 8g, 8g + 1
#pragma GCC unroll 8
        for (int e = 0; e < NE; e++) {
            __m256i x[NH], m[NH];
            for (int hh = 0; hh < NH; hh++) {
                const __m256i I = _mm256_loadu_si256((const __m256i*)(idx + (e / 2) * kTileRows + 32 * hh));
                x[hh] = _mm256_and_si256(e % 2 ? _mm256_srli_epi16(I, 4) : I, m0f);
                const __m256i bit = _mm256_set1_epi8((char)(1 << e));
                m[hh] = _mm256_cmpeq_epi8(_mm256_and_si256(S[hh], bit), bit);
                cnt[hh] = _mm256_sub_epi8(cnt[hh], m[hh]);
            }
#pragma GCC unroll 4
            for (int t = 0; t < G; t++) {
                const uint8_t* tj = tab[t] + (8 * g + e) * kTableBytes;
                const __m256i L = bcast_table(tj), H = bcast_table(tj + 16);
                for (int hh = 0; hh < NH; hh++) {
                    const __m256i lo = _mm256_xor_si256(_mm256_shuffle_epi8(L, x[hh]), m[hh]);
                    const __m256i hi = _mm256_xor_si256(_mm256_shuffle_epi8(H, x[hh]), m[hh]);
                    __m256i& a0 = acc[t][2 * hh];
                    __m256i& a1 = acc[t][2 * hh + 1];
                    a0 = _mm256_add_epi16(a0, _mm256_unpacklo_epi8(lo, hi));
                    a1 = _mm256_add_epi16(a1, _mm256_unpackhi_epi8(lo, hi));
                    // Keep the running sums in registers: without this GCC reassociates the 86-term
                    // chain into a tree and spills every term.
                    asm("" : "+x"(a0), "+x"(a1));
                }
            }
        }
    }

    // facc[8 q ..] = fma(d, (float)isum, facc) for the 8-row group q (of the tile) of an int16 x8.
    static inline void fma8(__m128i isum16, const float* d, float* facc) {
        const __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(isum16));
        _mm256_store_ps(facc, _mm256_fmadd_ps(_mm256_load_ps(d), f, _mm256_load_ps(facc)));
    }

    // Decode (G = 1) does both halves in one pass (each weight line read once, the tables once);
    // more tokens need the registers for their sums: one half per pass.
    template <int G>
    static void block(const uint8_t* blk, const uint8_t* const tab[G], const float* d, float* facc) {
        constexpr int NH = G == 1 ? 2 : 1;
        for (int h0 = 0; h0 < kTileRows; h0 += 32 * NH) {
            __m256i acc[G][2 * NH], cnt[NH];
            for (int t = 0; t < G; t++)
                for (int i = 0; i < 2 * NH; i++) acc[t][i] = _mm256_setzero_si256();
            for (int hh = 0; hh < NH; hh++) cnt[hh] = _mm256_setzero_si256();
            for (int g = 0; g < kSignGroups - 1; g++) {
                if (h0 == 0)  // lines 5g .. 5g+4 of the block kPrefetchBytes ahead (54 lines in all)
                    for (int i = 0; i < 5; i++)
                        _mm_prefetch((const char*)blk + kPrefetchBytes + (5 * g + i) * 64, _MM_HINT_T0);
                triples<G, NH, 8>(blk, g, h0, tab, acc, cnt);
            }
            triples<G, NH, kTriples - 8 * (kSignGroups - 1)>(blk, kSignGroups - 1, h0, tab, acc, cnt);
            const __m256i zero = _mm256_setzero_si256();
            for (int hh = 0; hh < NH; hh++) {
                const int h = h0 + 32 * hh;
                const __m256i c0 = _mm256_unpacklo_epi8(cnt[hh], zero), c1 = _mm256_unpackhi_epi8(cnt[hh], zero);
                for (int t = 0; t < G; t++) {
                    const __m256i s0 = _mm256_add_epi16(acc[t][2 * hh], c0);      // rows h + [0-7, 16-23]
                    const __m256i s1 = _mm256_add_epi16(acc[t][2 * hh + 1], c1);  // rows h + [8-15, 24-31]
                    float* f = facc + t * kTileRows + h;
                    fma8(_mm256_castsi256_si128(s0), d + h, f);
                    fma8(_mm256_castsi256_si128(s1), d + h + 8, f + 8);
                    fma8(_mm256_extracti128_si256(s0, 1), d + h + 16, f + 16);
                    fma8(_mm256_extracti128_si256(s1, 1), d + h + 24, f + 24);
                }
            }
        }
    }

    static void finish(const float* facc, float s, float* y, int lo, int hi) {
        const __m256 vs = _mm256_set1_ps(s);
        int r = lo;
        for (; r + 8 <= hi; r += 8) _mm256_storeu_ps(y + r, _mm256_div_ps(_mm256_loadu_ps(facc + r), vs));
        for (; r < hi; r++) y[r] = facc[r] / s;
    }
};

// ---- ACT_I8_LUT3 ------------------------------------------------------------------------------
constexpr int16_t c16(int i, int k) { return (int16_t)(i < kPatterns ? pattern_coef(i, k) : 0); }
// Coefficient k of the 16 patterns (0 for the two unused entries).
template <int k>
inline __m256i coef() {
    return _mm256_setr_epi16(c16(0, k), c16(1, k), c16(2, k), c16(3, k), c16(4, k), c16(5, k), c16(6, k), c16(7, k),
                             c16(8, k), c16(9, k), c16(10, k), c16(11, k), c16(12, k), c16(13, k), c16(14, k),
                             c16(15, k));
}

// The 16 int16 pattern sums of a triple from its int16 values (words wa, wb, wc of q16; a word
// index 8 reads zero) -> lo[16] | hi[16] at out.
template <int wa, int wb, int wc>
inline void table(__m256i q16, uint8_t* out) {
    auto word = [](int w) {
        const char lo = w < 8 ? (char)(2 * w) : (char)0x80, hi = w < 8 ? (char)(2 * w + 1) : (char)0x80;
        return _mm256_setr_epi8(lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi,
                                lo, hi, lo, hi, lo, hi, lo, hi, lo, hi);
    };
    const __m256i ca = coef<0>(), cb = coef<1>(), cc = coef<2>();
    const __m256i v = _mm256_add_epi16(
        _mm256_add_epi16(_mm256_sign_epi16(_mm256_shuffle_epi8(q16, word(wa)), ca),
                         _mm256_sign_epi16(_mm256_shuffle_epi8(q16, word(wb)), cb)),
        _mm256_sign_epi16(_mm256_shuffle_epi8(q16, word(wc)), cc));
    // Per 128-bit half: the 8 low bytes, then the 8 high bytes; then halves' quarters in order 0 2 1 3.
    const __m256i split = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10, 12,
                                           14, 1, 3, 5, 7, 9, 11, 13, 15);
    _mm256_storeu_si256((__m256i*)out, _mm256_permute4x64_epi64(_mm256_shuffle_epi8(v, split), 0xd8));
}

// Four int8 activations at p -> int16 words 0..3 of both 128-bit halves.
inline __m256i load4_i16(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_broadcastq_epi64(_mm_cvtepi8_epi16(_mm_cvtsi32_si128(v)));
}

}  // namespace

void quantize_row_i8_token(const float* x, void* xq, int n);  // ternary_act.cpp

static void quantize_row_lut3(const float* x, void* xq, int n) {
    tl::quantize_row_lut3(quantize_row_i8_token, x, xq, n, [](const int8_t* qb, uint8_t* tb) {
        for (int j = 0; j < kTriples - 2; j++) table<0, 1, 2>(load4_i16(qb + 3 * j), tb + j * kTableBytes);
        const __m256i last = load4_i16(qb + QK_K - 4);  // values 252..255
        table<0, 1, 2>(last, tb + (kTriples - 2) * kTableBytes);
        table<3, 8, 8>(last, tb + (kTriples - 1) * kTableBytes);  // (value 255, 0, 0)
    });
}

void register_ternary_lut(KernelTable& t) {
    t.quantize_act[ACT_I8_LUT3] = quantize_row_lut3;
    t.matmul[EDGEQ_TL2] = {ACT_I8_LUT3, tl::matmul<Kernel>};
}

}  // namespace edgeq::avx2
