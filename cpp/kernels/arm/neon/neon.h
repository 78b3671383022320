// AArch64 baseline (ARMv8.0 ASIMD) kernels: compiled with no extra flags (see CMakeLists.txt).
// The "neon" table overlays these on the reference; "dotprod" overlays its own on top of them.
#pragma once
#include <arm_neon.h>

#include "kernels/kernels.h"

namespace edgeq::neon {

void register_float(KernelTable& t);
void register_legacy(KernelTable& t);
void register_kquants(KernelTable& t);
void register_ternary(KernelTable& t);
void register_ternary_lut(KernelTable& t);  // EDGEQ_TL2 matmul, ACT_I8_LUT3 quantizer
void register_binary(KernelTable& t);   // Q1_0 matmul

// The int8 dot product primitives the shared ARM kernels (kernels/arm/*_tiles.h) are written
// against; dotprod/dotprod.h has the same interface with SDOT.
struct Dot {
    // acc lanes += the 16 products a[i] b[i], grouped in some way (only the sum of the four lanes
    // is specified). Here products i and i + 8 share an int16 before widening, so
    // |a_i b_i| + |a_j b_j| must be < 2^15 (true when one operand is within [-127, 127]).
    static inline int32x4_t dot_sum(int32x4_t acc, int8x16_t a, int8x16_t b) {
        int16x8_t p = vmull_s8(vget_low_s8(a), vget_low_s8(b));
        p = vmlal_high_s8(p, a, b);
        return vpadalq_s16(acc, p);
    }

    // Row-lane dots for the ternary kernels: over a sequence of steps, lane r of the total is
    // sum over steps of sum_{j < 4} codes[4 r + j] * x4[4 r + j] (x4: four activations repeated).
    // int16 partials: at most 85 steps with codes in [0, 3] and |x| <= 128 (85 * 3 * 128 < 2^15).
    struct Quads {
        int16x8_t lo, hi;  // lo: rows 0, 1 (four positions each), hi: rows 2, 3
    };
    static constexpr int kMaxQuadSteps = 85;
    static inline Quads quads_zero() { return {vdupq_n_s16(0), vdupq_n_s16(0)}; }
    static inline void quads_step(Quads& q, int8x16_t codes, int8x16_t x4) {
        q.lo = vmlal_s8(q.lo, vget_low_s8(codes), vget_low_s8(x4));
        q.hi = vmlal_high_s8(q.hi, codes, x4);
    }
    static inline int32x4_t quads_total(const Quads& q) { return vpaddq_s32(vpaddlq_s16(q.lo), vpaddlq_s16(q.hi)); }
};

}  // namespace edgeq::neon
