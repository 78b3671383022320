// AVX-512 VBMI + VNNI EDGEQ_TL2D kernels (layout and math: kernels/ternary_lut_dword.h) and the
// ACT_I8_LUT3S table builder. Bit-exact with cpp/kernels/ref/ternary_lut_dword.cpp. Registered only
// on CPUs with AVX512_VBMI (register_avx512.cpp), which the avx512 tier does not require.
//
// Per 16 rows x 8 triples (80 weight bytes): the 64 index bytes give two index vectors (low and
// high nibbles) whose byte 4 rr + s is already the 7-bit table index 32 s + 16 neg + idx once the
// slot (32 s) and the sign (16, a byte mask loaded straight into a k register) are merged in; two
// vpermi2b per vector fetch the low and high bytes of the four slots' signed values, and two
// vpdpbusd add each row's four bytes into its int32 lanes (low bytes unsigned, high bytes signed).
#pragma GCC target("avx512vbmi")
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/ternary_lut_driver.h"
#include "kernels/ternary_lut_dword.h"
#include "kernels/x86/avx512/avx512.h"
#include "kernels/x86/avx512/ternary_pattern_sums.h"

// GCC 12 reports the _mm512_undefined_* inside its own AVX-512 headers as uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace edgeq::avx512 {

void quantize_row_i8_token(const float* x, void* xq, int n);  // ternary_act.cpp

namespace {

using namespace tld;

// How far ahead of the octet being multiplied the weights are prefetched (TL2's distance,
// ternary_lut_driver.h: tiles are one sequential stream).
constexpr size_t kPrefetchBytes = tl::kPrefetchBytes;

// One block of a 64-row tile for one token: facc[g] (rows 16 g ..) = fma(d, isum_b, facc).
inline void tile_block(const uint8_t* blk, const uint8_t* tables, const __m512 d[kGroups], __m512 facc[kGroups]) {
    const __m512i m0f = _mm512_set1_epi8(0x0f), ones = _mm512_set1_epi8(1);
    const __m512i slot = _mm512_set1_epi32(0x60402000), neg = _mm512_set1_epi8(0x10);
    __m512i alo[kGroups], ahi[kGroups];
    for (int g = 0; g < kGroups; g++) alo[g] = ahi[g] = _mm512_setzero_si512();
    for (int o = 0; o < kOctets; o++) {
        const uint8_t* t = tables + (size_t)o * 2 * kHalfTableBytes;
        const __m512i la0 = _mm512_loadu_si512(t), lb0 = _mm512_loadu_si512(t + 64);
        const __m512i ha0 = _mm512_loadu_si512(t + 128), hb0 = _mm512_loadu_si512(t + 192);
        const __m512i la1 = _mm512_loadu_si512(t + 256), lb1 = _mm512_loadu_si512(t + 320);
        const __m512i ha1 = _mm512_loadu_si512(t + 384), hb1 = _mm512_loadu_si512(t + 448);
        const uint8_t* q = blk + (size_t)o * kGroups * kGroupBytes;
        // Into L2 (T1), not L1: measured from DRAM, one thread, 4096 x 2560: 15.4 GB/s against 10.8
        // with T0 (L1 prefetches compete with the loads for the L1 miss buffers).
        for (int i = 0; i < 5; i++) _mm_prefetch((const char*)q + kPrefetchBytes + 64 * i, _MM_HINT_T1);
#pragma GCC unroll 4
        for (int g = 0; g < kGroups; g++) {
            const uint8_t* grp = q + g * kGroupBytes;
            const __m512i I = _mm512_loadu_si512(grp);
            uint64_t s0, s1;
            std::memcpy(&s0, grp + 64, 8);
            std::memcpy(&s1, grp + 72, 8);
            __m512i x0 = _mm512_ternarylogic_epi32(I, m0f, slot, 0xEA);  // (I & 0x0f) | 32 s
            __m512i x1 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(I, 4), m0f, slot, 0xEA);
            x0 = _mm512_mask_add_epi8(x0, (__mmask64)s0, x0, neg);  // | 16 for negated triples
            x1 = _mm512_mask_add_epi8(x1, (__mmask64)s1, x1, neg);
            alo[g] = _mm512_dpbusd_epi32(alo[g], _mm512_permutex2var_epi8(la0, x0, lb0), ones);
            ahi[g] = _mm512_dpbusd_epi32(ahi[g], ones, _mm512_permutex2var_epi8(ha0, x0, hb0));
            alo[g] = _mm512_dpbusd_epi32(alo[g], _mm512_permutex2var_epi8(la1, x1, lb1), ones);
            ahi[g] = _mm512_dpbusd_epi32(ahi[g], ones, _mm512_permutex2var_epi8(ha1, x1, hb1));
            // Keep each accumulator in one register: without this GCC copies all eight every octet.
            asm("" : "+v"(alo[g]), "+v"(ahi[g]));
        }
    }
    for (int g = 0; g < kGroups; g++) {
        const __m512i isum = _mm512_add_epi32(alo[g], _mm512_slli_epi32(ahi[g], 8));
        facc[g] = _mm512_fmadd_ps(d[g], _mm512_cvtepi32_ps(isum), facc[g]);
    }
}

// The MatmulFn contract (kernels.h); tiles in order, each token's whole row of blocks at once.
void matmul_tl2d(const void* W, size_t w_row_bytes, const void* Xq, size_t x_row_bytes, float* Y, size_t ldy,
                 int n_in, int n_tok, int row0, int row1) {
    if (row0 >= row1) return;
    const int nb = n_in / QK_K;
    const size_t tile_stride = (size_t)kTileRows * w_row_bytes;
    for (int T = row0 / kTileRows; T * kTileRows < row1; T++) {
        const uint8_t* tile = (const uint8_t*)W + (size_t)T * tile_stride;
        __m512 d[kGroups];
        for (int g = 0; g < kGroups; g++)
            d[g] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(tile + scales_offset(n_in)) + g));
        const int base = T * kTileRows;
        const int lo = std::max(row0, base) - base, hi = std::min(row1, base + kTileRows) - base;
        for (int t = 0; t < n_tok; t++) {
            const uint8_t* xrow = (const uint8_t*)Xq + (size_t)t * x_row_bytes;
            const uint8_t* tables = xrow + tables_offset(n_in);
            __m512 facc[kGroups];
            for (int g = 0; g < kGroups; g++) facc[g] = _mm512_setzero_ps();
            for (int b = 0; b < nb; b++)
                tile_block(tile + (size_t)b * kBlockBytes, tables + (size_t)b * kBlockTableBytes, d, facc);
            float s;
            std::memcpy(&s, xrow + i8_token_scale_offset(n_in), 4);
            const __m512 vs = _mm512_set1_ps(s);
            float* y = Y + (size_t)t * ldy + base;
            for (int g = 0; g < kGroups; g++) {
                const int r = g * kGroupRows;
                if (r + kGroupRows <= lo || r >= hi) continue;
                const uint32_t keep = (uint32_t)(((1ull << std::min(kGroupRows, hi - r)) - 1) &
                                                 ~((1ull << std::max(0, lo - r)) - 1));
                _mm512_mask_storeu_ps(y + r, (__mmask16)keep, _mm512_div_ps(facc[g], vs));
            }
        }
    }
}

// Lanes 0..15: slot a's v(0..15), lanes 16..31: slot b's -> the 64 low bytes [a+ | a- | b+ | b-]
// at lo and the high bytes at hi (ternary_lut_dword.h: 32 s + 16 neg + idx).
inline void store_signed_pair(__m512i v, uint8_t* lo, uint8_t* hi) {
    const __m512i n = _mm512_sub_epi16(_mm512_setzero_si512(), v);
    auto split = [](__m512i p, __m512i m) {  // chunks [a+, b+, a-, b-] -> [a+, a-, b+, b-]
        const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi16_epi8(p)), _mm512_cvtepi16_epi8(m), 1);
        return _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0));
    };
    _mm512_storeu_si512(lo, split(v, n));
    _mm512_storeu_si512(hi, split(_mm512_srai_epi16(v, 8), _mm512_srai_epi16(n, 8)));
}

void quantize_row_lut3s(const float* x, void* xq, int n) {
    quantize_row_i8_token(x, xq, n);
    const int8_t* q = (const int8_t*)xq;
    uint8_t* tab = (uint8_t*)xq + tables_offset(n);
    for (int b = 0; b < n / QK_K; b++) {
        const int8_t* qb = q + (size_t)b * QK_K;
        uint8_t* tb = tab + (size_t)b * kBlockTableBytes;
        for (int j = 0; j < kTriples; j += 2) {  // slots (j, j+1): j even
            const __m512i v = j < tl::kTriples - 2 ? pattern_sums2<0, 1, 2, 3, 4, 5>(load_i16(qb + 3 * j, 8))
                              : j == tl::kTriples - 2
                                  ? pattern_sums2<0, 1, 2, 3, 8, 8>(load_i16(qb + QK_K - 4, 4))  // 84, (255, 0, 0)
                                  : _mm512_setzero_si512();                                    // padding 86, 87
            uint8_t* at = tb + table_offset(j, 0, 0);
            store_signed_pair(v, at, at + 128);
        }
    }
}

}  // namespace

void register_ternary_lut_dword(KernelTable& t) {
    t.quantize_act[ACT_I8_LUT3S] = quantize_row_lut3s;
    t.matmul[EDGEQ_TL2D] = {ACT_I8_LUT3S, matmul_tl2d};
}

}  // namespace edgeq::avx512
