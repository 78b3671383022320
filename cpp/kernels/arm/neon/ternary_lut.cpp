// NEON EDGEQ_TL2 kernels (layout and math: kernels/ternary_lut.h; loop nest:
// kernels/ternary_lut_driver.h) and the ACT_I8_LUT3 quantizer. Bit-exact with
// cpp/kernels/ref/ternary_lut.cpp. Plain ARMv8.0 ASIMD (TBL); the dotprod and i8mm tiers inherit
// these entries, SDOT / SMMLA having nothing to add to table lookups.
//
// A tile is four 16-row quarters. Per triple j and quarter: the 16 rows' 4-bit indices (one
// nibble of a 16-byte pair load) select bytes of the triple's lo and hi tables (TBL), and the
// sign mask m (0xff where the row's triple is negated: CMTST of its sign bit) turns both bytes
// into those of ~v = -v - 1 (EOR). The int16 sum of the 86 terms is formed modulo 2^16 without
// interleaving lo with hi: sum (lo + 256 hi) = sum lo + 256 (sum hi mod 256) (mod 2^16), so lo
// bytes widen-add into uint16 (UADDW, 86 * 255 < 2^16) and hi bytes add as plain bytes. The true
// block sum fits int16 (|isum_b| <= 256 * 127), and adding back the count of negated triples
// (the popcount of the row's 11 sign bytes) modulo 2^16 restores it exactly.
//
// Speed: written for in-order and out-of-order cores alike, never measured on ARM hardware (only
// run under qemu, whose timings mean nothing); ternary_layout.cpp's auto rule says the same.
#include <cstring>

#include "kernels/arm/neon/neon.h"
#include "kernels/ternary_lut_driver.h"

namespace edgeq::neon {
namespace {

using namespace tl;

struct Kernel {
    static constexpr int kGroup = 2;

    // Per (token, quarter): lo0 / lo1 = the lo bytes of rows 0-7 / 8-15 widened and summed,
    // hi = the hi bytes summed modulo 256.
    struct Acc {
        uint16x8_t lo0, lo1;
        uint8x16_t hi;
    };

    // Triples 8g + e, e < 2 NP, of NQ quarters (16 rows each; the first at byte q0 of each 64-byte
    // row group), for G tokens. One index pair (triples 8g + 2p, 8g + 2p + 1) per iteration, the
    // sign bytes shifted down by two after each: unrolling the whole group let GCC hoist every
    // load and constant of it and spill the sums.
    template <int G, int NQ, int NP>
    static inline void triples(const uint8_t* blk, int g, int q0, const uint8_t* const tab[G], Acc acc[][NQ]) {
        uint8x16_t S[NQ];
        for (int q = 0; q < NQ; q++) S[q] = vld1q_u8(blk + kIdxBytes + g * kTileRows + q0 + 16 * q);
        const uint8_t* idx = blk + 4 * g * kTileRows + q0;  // pair 4g: triples 8g, 8g + 1
        const uint8_t* tg[G];
        for (int t = 0; t < G; t++) tg[t] = tab[t] + 8 * g * kTableBytes;
#pragma GCC unroll 1
        for (int p = 0; p < NP; p++, idx += kTileRows) {
            uint8x16_t I[NQ];
            for (int q = 0; q < NQ; q++) I[q] = vld1q_u8(idx + 16 * q);
#pragma GCC unroll 2
            for (int e = 0; e < 2; e++) {
                uint8x16_t x[NQ], m[NQ];
                for (int q = 0; q < NQ; q++) {
                    x[q] = e ? vshrq_n_u8(I[q], 4) : vandq_u8(I[q], vdupq_n_u8(0x0f));
                    m[q] = vtstq_u8(S[q], vdupq_n_u8((uint8_t)(1 << e)));
                }
#pragma GCC unroll 4
                for (int t = 0; t < G; t++) {
                    const uint8_t* tj = tg[t] + (2 * p + e) * kTableBytes;
                    const uint8x16_t L = vld1q_u8(tj), H = vld1q_u8(tj + 16);
                    for (int q = 0; q < NQ; q++) {
                        const uint8x16_t lo = veorq_u8(vqtbl1q_u8(L, x[q]), m[q]);
                        const uint8x16_t hi = veorq_u8(vqtbl1q_u8(H, x[q]), m[q]);
                        Acc& a = acc[t][q];
                        a.lo0 = vaddw_u8(a.lo0, vget_low_u8(lo));
                        a.lo1 = vaddw_high_u8(a.lo1, lo);
                        a.hi = vaddq_u8(a.hi, hi);
                    }
                }
            }
            for (int q = 0; q < NQ; q++) S[q] = vshrq_n_u8(S[q], 2);
        }
    }

    // facc[0..7] = fma(d, (float)isum, facc) for 8 rows' int16 block sums.
    static inline void fma8(int16x8_t isum, const float* d, float* facc) {
        const float32x4_t f0 = vcvtq_f32_s32(vmovl_s16(vget_low_s16(isum)));
        const float32x4_t f1 = vcvtq_f32_s32(vmovl_high_s16(isum));
        vst1q_f32(facc, vfmaq_f32(vld1q_f32(facc), vld1q_f32(d), f0));
        vst1q_f32(facc + 4, vfmaq_f32(vld1q_f32(facc + 4), vld1q_f32(d + 4), f1));
    }

    // Quarters per pass: decode (G = 1) two, two tokens one, so that the sums (three registers
    // per token and quarter), indices, masks and tables fit the 32 registers (GCC 12 spilled the
    // sums with 4 quarters x 1 token or 2 x 2; counted in the disassembly, not timed).
    template <int G>
    static void block(const uint8_t* blk, const uint8_t* const tab[G], const float* d, float* facc) {
        constexpr int NQ = G == 1 ? 2 : 1;
        for (int q0 = 0; q0 < kTileRows; q0 += 16 * NQ) {
            Acc acc[G][NQ];
            for (int t = 0; t < G; t++)
                for (int q = 0; q < NQ; q++) acc[t][q] = {vdupq_n_u16(0), vdupq_n_u16(0), vdupq_n_u8(0)};
            for (int g = 0; g < kSignGroups - 1; g++) {
                if (q0 == 0)  // lines 5g .. 5g+4 of the block kPrefetchBytes ahead (54 lines in all)
                    for (int i = 0; i < 5; i++) __builtin_prefetch(blk + kPrefetchBytes + (5 * g + i) * 64);
                triples<G, NQ, 4>(blk, g, q0, tab, acc);
            }
            triples<G, NQ, (kTriples - 8 * (kSignGroups - 1)) / 2>(blk, kSignGroups - 1, q0, tab, acc);
            for (int q = 0; q < NQ; q++) {
                const int h = q0 + 16 * q;
                // Negated triples per row: the popcount of its 11 sign bytes (<= 86).
                uint8x16_t cnt = vdupq_n_u8(0);
                for (int g = 0; g < kSignGroups; g++)
                    cnt = vaddq_u8(cnt, vcntq_u8(vld1q_u8(blk + kIdxBytes + g * kTileRows + h)));
                const uint16x8_t c0 = vmovl_u8(vget_low_u8(cnt)), c1 = vmovl_high_u8(cnt);
                for (int t = 0; t < G; t++) {
                    const Acc& a = acc[t][q];
                    const uint16x8_t s0 = vaddq_u16(vaddq_u16(a.lo0, vshll_n_u8(vget_low_u8(a.hi), 8)), c0);
                    const uint16x8_t s1 = vaddq_u16(vaddq_u16(a.lo1, vshll_high_n_u8(a.hi, 8)), c1);
                    float* f = facc + t * kTileRows + h;
                    fma8(vreinterpretq_s16_u16(s0), d + h, f);
                    fma8(vreinterpretq_s16_u16(s1), d + h + 8, f + 8);
                }
            }
        }
    }

    static void finish(const float* facc, float s, float* y, int lo, int hi) {
        const float32x4_t vs = vdupq_n_f32(s);
        int r = lo;
        for (; r + 4 <= hi; r += 4) vst1q_f32(y + r, vdivq_f32(vld1q_f32(facc + r), vs));
        for (; r < hi; r++) y[r] = facc[r] / s;
    }
};

// ---- ACT_I8_LUT3 ------------------------------------------------------------------------------
constexpr int16_t c16(int i, int k) { return (int16_t)(i < kPatterns ? pattern_coef(i, k) : 0); }

// Coefficient k of patterns 8 h .. 8 h + 7 (0 for the two unused entries).
template <int k, int h>
inline int16x8_t coef() {
    const int16_t c[8] = {c16(8 * h, k),     c16(8 * h + 1, k), c16(8 * h + 2, k), c16(8 * h + 3, k),
                          c16(8 * h + 4, k), c16(8 * h + 5, k), c16(8 * h + 6, k), c16(8 * h + 7, k)};
    return vld1q_s16(c);
}

// The table of the triple (lanes 0, 1, 2 of q): its 16 int16 pattern sums -> lo[16] | hi[16].
inline void table(int16x4_t q, uint8_t* out) {
    int16x8_t v[2];
    v[0] = vmlaq_lane_s16(vmlaq_lane_s16(vmulq_lane_s16(coef<0, 0>(), q, 0), coef<1, 0>(), q, 1), coef<2, 0>(), q, 2);
    v[1] = vmlaq_lane_s16(vmlaq_lane_s16(vmulq_lane_s16(coef<0, 1>(), q, 0), coef<1, 1>(), q, 1), coef<2, 1>(), q, 2);
    const uint8x16_t b0 = vreinterpretq_u8_s16(v[0]), b1 = vreinterpretq_u8_s16(v[1]);
    vst1q_u8(out, vuzp1q_u8(b0, b1));       // low bytes of entries 0..15
    vst1q_u8(out + 16, vuzp2q_u8(b0, b1));  // high bytes
}

// Four int8 activations at p -> int16 lanes 0..3.
inline int16x4_t load4_i16(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return vget_low_s16(vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(v))));
}

}  // namespace

void quantize_row_i8_token(const float* x, void* xq, int n);  // ternary_act.cpp

static void quantize_row_lut3(const float* x, void* xq, int n) {
    tl::quantize_row_lut3(quantize_row_i8_token, x, xq, n, [](const int8_t* qb, uint8_t* tb) {
        for (int j = 0; j < kTriples - 1; j++) table(load4_i16(qb + 3 * j), tb + j * kTableBytes);  // 3j + 3 <= 255
        const int16x4_t last = vset_lane_s16(qb[QK_K - 1], vdup_n_s16(0), 0);  // (value 255, 0, 0)
        table(last, tb + (kTriples - 1) * kTableBytes);
    });
}

void register_ternary_lut(KernelTable& t) {
    t.quantize_act[ACT_I8_LUT3] = quantize_row_lut3;
    t.matmul[EDGEQ_TL2] = {ACT_I8_LUT3, tl::matmul<Kernel>};
}

}  // namespace edgeq::neon
