// The AArch64 ternary kernels (TQ2_0, TQ1_0 weights, ACT_I8_TOKEN activations), shared by the
// neon and dotprod tiers: the decode is plain ARMv8.0 NEON, the int8 products come from the
// tier's Dot policy (neon/neon.h: SMLAL into int16; dotprod/dotprod.h: SDOT). The loop nest is
// kernels/ternary_driver.h (the one the x86 kernels use), and every output keeps the reference's
// float order (cpp/kernels/ref/ternary.cpp) in its own lane, so results are bit-exact:
//   per block b:  acc_r = fma(d_b, (float)(sum_k c_k q_k - bsum_b), acc_r);   y_r = acc_r / s.
//
// Tile: 8 weight rows = two halves of 4 rows; per half and k < 64, T[k] (int8x16) holds in bytes
// 4r .. 4r+3 the codes (0..3) of values 4k .. 4k+3 of row r. Decoding transposes the packed
// dwords of the 4 rows (4x4 of 32-bit) and unpacks them per byte.
//
// Included by files compiled with different -march flags: everything here has internal linkage
// (anonymous namespace), so the linker can never merge one tier's copy into another's.
#pragma once
#include <arm_neon.h>

#include <cstring>

#include "kernels/ternary_driver.h"

namespace edgeq::arm {
namespace {

// in[r] = 4 dwords of row r -> out[c], lane r = dword c of row r.
inline void transpose4x4(const uint32x4_t in[4], uint32x4_t out[4]) {
    const uint64x2_t t0 = vreinterpretq_u64_u32(vtrn1q_u32(in[0], in[1]));  // r0c0 r1c0 r0c2 r1c2
    const uint64x2_t t1 = vreinterpretq_u64_u32(vtrn2q_u32(in[0], in[1]));  // r0c1 r1c1 r0c3 r1c3
    const uint64x2_t t2 = vreinterpretq_u64_u32(vtrn1q_u32(in[2], in[3]));  // r2c0 r3c0 r2c2 r3c2
    const uint64x2_t t3 = vreinterpretq_u64_u32(vtrn2q_u32(in[2], in[3]));  // r2c1 r3c1 r2c3 r3c3
    out[0] = vreinterpretq_u32_u64(vtrn1q_u64(t0, t2));
    out[1] = vreinterpretq_u32_u64(vtrn1q_u64(t1, t3));
    out[2] = vreinterpretq_u32_u64(vtrn2q_u64(t0, t2));
    out[3] = vreinterpretq_u32_u64(vtrn2q_u64(t1, t3));
}

// Dwords [16 j, 16 j + 16) bytes of 4 rows at byte offset off, transposed into cols[4 j ..].
inline void load_cols(const uint8_t* const rows[4], size_t off, int j, uint32x4_t* cols) {
    uint32x4_t in[4];
    for (int r = 0; r < 4; r++) in[r] = vld1q_u32((const uint32_t*)(rows[r] + off + 16 * j));
    transpose4x4(in, cols + 4 * j);
}

// Base-3 digit of every byte t already multiplied by 3^n (mod 256): (t * 3) >> 8, computed as
// ((t + (t >> 1)) >> 1) >> 6 with a halving add (t + floor(t / 2) is an integer N, and
// floor((N + 1/2) / 128) = floor(N / 128), so no precision is lost).
inline uint8x16_t top_digit(uint8x16_t t) { return vshrq_n_u8(vhaddq_u8(t, vshrq_n_u8(t, 1)), 6); }

// Formats: decode_each(rows of 4, block b, fn) calls fn(k, T[k]) for k = 0..63 in some order.
struct TQ2 {
    using Block = block_tq2_0;
    static constexpr size_t kScaleOffset = offsetof(Block, d);
    // qs = 16 dwords per row; bit pair l of dword column c -> T[tq2_0_k(c, l)].
    template <class Fn>
    static void decode_each(const uint8_t* const rows[4], int b, Fn&& fn) {
        const size_t off = (size_t)b * sizeof(Block);
        uint32x4_t cols[16];
        for (int j = 0; j < 4; j++) load_cols(rows, off, j, cols);
        const uint8x16_t m3 = vdupq_n_u8(3);
#pragma GCC unroll 16
        for (int c = 0; c < 16; c++) {
            const uint8x16_t v = vreinterpretq_u8_u32(cols[c]);
            fn(ternary::tq2_0_k(c, 0), vandq_u8(v, m3));
            fn(ternary::tq2_0_k(c, 1), vandq_u8(vshrq_n_u8(v, 2), m3));
            fn(ternary::tq2_0_k(c, 2), vandq_u8(vshrq_n_u8(v, 4), m3));
            fn(ternary::tq2_0_k(c, 3), vshrq_n_u8(v, 6));
        }
    }
};

struct TQ1 {
    using Block = block_tq1_0;
    static constexpr size_t kScaleOffset = offsetof(Block, d);
    // qs = 12 dwords per row (transposed), qh = 1 dword per row (one lane each); base-3 digit n of
    // dword column c -> T[tq1_0_k(c, n)]. Loads stay inside qs / qh.
    template <class Fn>
    static void decode_each(const uint8_t* const rows[4], int b, Fn&& fn) {
        const size_t off = (size_t)b * sizeof(Block);
        uint32x4_t cols[13];
        for (int j = 0; j < 3; j++) load_cols(rows, off, j, cols);
        uint32_t qh[4];
        for (int r = 0; r < 4; r++) std::memcpy(&qh[r], rows[r] + off + offsetof(Block, qh), 4);
        cols[12] = vld1q_u32(qh);
        static constexpr uint8_t pow3[5] = {1, 3, 9, 27, 81};
#pragma GCC unroll 13
        for (int c = 0; c < 13; c++) {
            const uint8x16_t v = vreinterpretq_u8_u32(cols[c]);
#pragma GCC unroll 5
            for (int n = 0; n < 5; n++) {
                if (c == 12 && n == 4) break;  // qh bytes hold 4 digits
                fn(ternary::tq1_0_k(c, n), top_digit(n == 0 ? v : vmulq_u8(v, vdupq_n_u8(pow3[n]))));
            }
        }
    }
};

inline int32_t load_i32(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// The four activations at p in every 32-bit lane.
inline int8x16_t quad(const uint8_t* p) { return vreinterpretq_s8_s32(vld1q_dup_s32((const int32_t*)p)); }

// The kernel class of ternary_driver.h for format F and the tier's Dot policy D.
template <class F, class D>
struct TernaryKernel {
    static constexpr int kHalves = 2;
    static constexpr int kLanes = 4 * kHalves;
    static constexpr int kGroup = 4;
    static_assert(D::kMaxQuadSteps >= 64, "a block is 64 quad steps");
    struct Tile {
        int8x16_t T[64][kHalves];
        float32x4_t d[kHalves];  // lane r: fp16 d of row r's block
    };

    // fp16 block scales of 4 rows -> float lanes (FCVTL is exact, as fp16_to_fp32).
    static float32x4_t scales(const uint8_t* const rows[4], int b) {
        uint16_t h[4];
        for (int r = 0; r < 4; r++) std::memcpy(&h[r], rows[r] + (size_t)b * sizeof(typename F::Block) + F::kScaleOffset, 2);
        return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
    }

    static void decode(const uint8_t* const rows[kLanes], int b, Tile& tile) {
        for (int h = 0; h < kHalves; h++) {
            F::decode_each(rows + 4 * h, b, [&](int k, uint8x16_t v) { tile.T[k][h] = vreinterpretq_s8_u8(v); });
            tile.d[h] = scales(rows + 4 * h, b);
        }
    }

    // facc[r] = fma(d_r, isum_r, facc[r]) for the one token of X, block b (decode fused with the
    // dot; two independent chains per half).
    static void dot1(const uint8_t* const rows[kLanes], int b, const uint8_t* X, int n_in, float* facc) {
        const uint8_t* x = X + (size_t)b * QK_K;
        const int32x4_t bsum = vdupq_n_s32(load_i32(X + i8_token_bsum_offset(n_in) + 4 * b));
        for (int h = 0; h < kHalves; h++) {
            typename D::Quads acc[2] = {D::quads_zero(), D::quads_zero()};
            F::decode_each(rows + 4 * h, b, [&](int k, uint8x16_t v) {
                D::quads_step(acc[k % 2], vreinterpretq_s8_u8(v), quad(x + 4 * k));
            });
            const int32x4_t isum = vsubq_s32(vaddq_s32(D::quads_total(acc[0]), D::quads_total(acc[1])), bsum);
            vst1q_f32(facc + 4 * h, vfmaq_f32(vld1q_f32(facc + 4 * h), scales(rows + 4 * h, b), vcvtq_f32_s32(isum)));
        }
    }

    // facc[8 t + r] = fma(d_r, isum(r, t), facc[8 t + r]) for tokens t < G of block b.
    template <int G>
    static void group(const Tile& tile, const uint8_t* X, size_t x_row_bytes, int n_in, int b, float* facc) {
        const uint8_t* x[G];
        for (int t = 0; t < G; t++) x[t] = X + (size_t)t * x_row_bytes + (size_t)b * QK_K;
        typename D::Quads acc[G][kHalves];
        for (int t = 0; t < G; t++)
            for (int h = 0; h < kHalves; h++) acc[t][h] = D::quads_zero();
        for (int k = 0; k < 64; k++) {
#pragma GCC unroll 4
            for (int t = 0; t < G; t++) {
                const int8x16_t xq = quad(x[t] + 4 * k);
#pragma GCC unroll 2
                for (int h = 0; h < kHalves; h++) D::quads_step(acc[t][h], tile.T[k][h], xq);
            }
        }
        for (int t = 0; t < G; t++) {
            const uint8_t* xrow = X + (size_t)t * x_row_bytes;
            const int32x4_t bsum = vdupq_n_s32(load_i32(xrow + i8_token_bsum_offset(n_in) + 4 * b));
            for (int h = 0; h < kHalves; h++) {
                float* f = facc + kLanes * t + 4 * h;
                const int32x4_t isum = vsubq_s32(D::quads_total(acc[t][h]), bsum);
                vst1q_f32(f, vfmaq_f32(vld1q_f32(f), tile.d[h], vcvtq_f32_s32(isum)));
            }
        }
    }

    // y[r] = facc[r] / s for the first n_valid rows (IEEE division, as the reference).
    static void finish(const float* facc, float s, float* y, int n_valid) {
        float out[kLanes];
        const float32x4_t vs = vdupq_n_f32(s);
        for (int h = 0; h < kHalves; h++) vst1q_f32(out + 4 * h, vdivq_f32(vld1q_f32(facc + 4 * h), vs));
        std::memcpy(y, out, sizeof(float) * (size_t)n_valid);
    }
};

}  // namespace
}  // namespace edgeq::arm
