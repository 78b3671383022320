// AVX-512 (BW) EDGEQ_TL2 kernels (layout and math: kernels/ternary_lut.h; loop nest:
// kernels/ternary_lut_driver.h) and the ACT_I8_LUT3 quantizer. Bit-exact with
// cpp/kernels/ref/ternary_lut.cpp.
//
// A whole 64-row tile per pass, as the AVX2 kernel does a half (see its comment for the int16
// wrap-around argument): per triple j, vpshufb looks the 64 rows' 4-bit indices up in the
// triple's lo and hi tables (broadcast to the four 128-bit lanes), the sign bits become a mask
// register k (vptestmb on the sign group), and a masked 0xff - byte (= ~byte) negates-minus-one
// the looked-up bytes of the negated rows; unpacking lo with hi gives int16 rows
// 16 q + [0-7] (unpacklo) and 16 q + [8-15] (unpackhi) in 128-bit lane q.
#include <immintrin.h>

#include <cstring>

#include "kernels/ternary_lut_driver.h"
#include "kernels/x86/avx512/avx512.h"
#include "kernels/x86/avx512/ternary_pattern_sums.h"

// GCC 12 reports the _mm512_undefined_* inside its own AVX-512 headers as uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace edgeq::avx512 {

void quantize_row_i8_token(const float* x, void* xq, int n);  // ternary_act.cpp

namespace {

using namespace tl;

inline __m512i bcast_table(const uint8_t* p) { return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i*)p)); }

struct Kernel {
    static constexpr int kGroup = 6;

    // Triples 8g + e, e < NE (unrolled; the group loop is not: see the AVX2 kernel), for G tokens.
    template <int G, int NE>
    static inline void triples(const uint8_t* blk, int g, const uint8_t* const tab[G], __m512i acc[][2], __m512i& cnt) {
        const __m512i m0f = _mm512_set1_epi8(0x0f), ones = _mm512_set1_epi8(-1);
        const __m512i S = _mm512_loadu_si512(blk + kIdxBytes + g * kTileRows);
        const uint8_t* idx = blk + 4 * g * kTileRows;
#pragma GCC unroll 8
        for (int e = 0; e < NE; e++) {
            const __m512i I = _mm512_loadu_si512(idx + (e / 2) * kTileRows);
            const __m512i x = _mm512_and_si512(e % 2 ? _mm512_srli_epi16(I, 4) : I, m0f);
            const __mmask64 k = _mm512_test_epi8_mask(S, _mm512_set1_epi8((char)(1 << e)));
            cnt = _mm512_mask_sub_epi8(cnt, k, cnt, ones);
#pragma GCC unroll 8
            for (int t = 0; t < G; t++) {
                const uint8_t* tj = tab[t] + (8 * g + e) * kTableBytes;
                __m512i lo = _mm512_shuffle_epi8(bcast_table(tj), x);
                __m512i hi = _mm512_shuffle_epi8(bcast_table(tj + 16), x);
                lo = _mm512_mask_sub_epi8(lo, k, ones, lo);
                hi = _mm512_mask_sub_epi8(hi, k, ones, hi);
                acc[t][0] = _mm512_add_epi16(acc[t][0], _mm512_unpacklo_epi8(lo, hi));
                acc[t][1] = _mm512_add_epi16(acc[t][1], _mm512_unpackhi_epi8(lo, hi));
                // Keep the running sums in registers: without this GCC reassociates the 86-term chain
                // into a tree and spills every term.
                asm("" : "+v"(acc[t][0]), "+v"(acc[t][1]));
            }
        }
    }

    static inline void fma16(__m512i isum, const float* d, float* facc) {
        _mm512_store_ps(facc, _mm512_fmadd_ps(_mm512_load_ps(d), _mm512_cvtepi32_ps(isum), _mm512_load_ps(facc)));
    }

    template <int G>
    static void block(const uint8_t* blk, const uint8_t* const tab[G], const float* d, float* facc) {
        __m512i acc[G][2], cnt = _mm512_setzero_si512();
        for (int t = 0; t < G; t++) acc[t][0] = acc[t][1] = _mm512_setzero_si512();
        for (int g = 0; g < kSignGroups - 1; g++) {
            for (int i = 0; i < 5; i++)  // lines 5g .. 5g+4 of the block kPrefetchBytes ahead (54 lines in all)
                _mm_prefetch((const char*)blk + kPrefetchBytes + (5 * g + i) * 64, _MM_HINT_T0);
            triples<G, 8>(blk, g, tab, acc, cnt);
        }
        triples<G, kTriples - 8 * (kSignGroups - 1)>(blk, kSignGroups - 1, tab, acc, cnt);
        const __m512i zero = _mm512_setzero_si512();
        const __m512i c0 = _mm512_unpacklo_epi8(cnt, zero), c1 = _mm512_unpackhi_epi8(cnt, zero);
        for (int t = 0; t < G; t++) {
            const __m512i s0 = _mm512_add_epi16(acc[t][0], c0), s1 = _mm512_add_epi16(acc[t][1], c1);
            const __m512i a0 = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s0, 0));  // rows [0-7, 16-23]
            const __m512i a1 = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s0, 1));  // rows [32-39, 48-55]
            const __m512i b0 = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s1, 0));  // rows [8-15, 24-31]
            const __m512i b1 = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s1, 1));  // rows [40-47, 56-63]
            float* f = facc + t * kTileRows;
            fma16(_mm512_shuffle_i32x4(a0, b0, 0x44), d, f);            // rows 0-15
            fma16(_mm512_shuffle_i32x4(a0, b0, 0xee), d + 16, f + 16);  // rows 16-31
            fma16(_mm512_shuffle_i32x4(a1, b1, 0x44), d + 32, f + 32);
            fma16(_mm512_shuffle_i32x4(a1, b1, 0xee), d + 48, f + 48);
        }
    }

    static void finish(const float* facc, float s, float* y, int lo, int hi) {
        const __m512 vs = _mm512_set1_ps(s);
        for (int r = lo; r < hi; r += 16) {
            const __mmask16 m = (__mmask16)((1u << std::min(16, hi - r)) - 1);
            _mm512_mask_storeu_ps(y + r, m, _mm512_div_ps(_mm512_maskz_loadu_ps(m, facc + r), vs));
        }
    }
};

// ---- ACT_I8_LUT3: two triples per 512-bit vector (pattern sums: ternary_pattern_sums.h) ---------
// Tables of two consecutive triples (words a0 b0 c0 and a1 b1 c1 of q16) -> 64 bytes at out.
template <int a0, int b0, int c0, int a1, int b1, int c1>
inline void table2(__m512i q16, uint8_t* out) {
    const __m512i v = pattern_sums2<a0, b0, c0, a1, b1, c1>(q16);
    // Per 128-bit lane: the 8 low bytes, then the 8 high bytes; then quarters 0 2 1 3 of each triple.
    const __m512i split = _mm512_set4_epi32(0x0f0d0b09, 0x07050301, 0x0e0c0a08, 0x06040200);
    const __m512i order = _mm512_setr_epi64(0, 2, 1, 3, 4, 6, 5, 7);
    _mm512_storeu_si512(out, _mm512_permutexvar_epi64(order, _mm512_shuffle_epi8(v, split)));
}

void quantize_row_lut3(const float* x, void* xq, int n) {
    tl::quantize_row_lut3(quantize_row_i8_token, x, xq, n, [](const int8_t* qb, uint8_t* tb) {
        for (int j = 0; j < kTriples - 2; j += 2)  // values 3j .. 3j+5
            table2<0, 1, 2, 3, 4, 5>(load_i16(qb + 3 * j, 8), tb + j * kTableBytes);
        // values 252..255: triple 84, then (value 255, 0, 0)
        table2<0, 1, 2, 3, 8, 8>(load_i16(qb + QK_K - 4, 4), tb + (kTriples - 2) * kTableBytes);
    });
}
}  // namespace

void register_ternary_lut(KernelTable& t) {
    t.quantize_act[ACT_I8_LUT3] = quantize_row_lut3;
    t.matmul[EDGEQ_TL2] = {ACT_I8_LUT3, tl::matmul<Kernel>};
}

}  // namespace edgeq::avx512
